"""Email text: HTML turned into plain text, and the new text set apart from quoted history.

Classification must see what the customer wrote now, not the thread it drags along; the quoted
history and the signature go to ``quoted`` and the router stores body + quoted together.
"""

from __future__ import annotations

import html
import re

_MAX_HTML_TEXT = 200_000
_MAX_QUOTE_DEPTH = 10
_SKIP_TAGS = "script|style|title|template|noscript|xml|head"
_BLOCK_TAGS = frozenset(
    {
        *("p", "div", "tr", "li", "ul", "ol", "dl", "dt", "dd", "table", "hr", "pre"),
        *("h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "section", "article"),
        *("header", "footer", "address", "center", "caption", "form", "fieldset"),
    }
)
# Every alternative either matches or fails within a bounded look, and constructs left open run
# to the end of the input, so one pass is linear even on hostile markup (``html.parser`` takes
# seconds on a megabyte of ``<!``).
_TOKEN = re.compile(
    r"(?P<text>(?:[^<]|<(?![a-zA-Z!?/]))+)"
    r"|<!--.*?(?:-->|\Z)"
    rf"|<(?P<skip>{_SKIP_TAGS})\b(?:\"[^\"]*(?:\"|\Z)|'[^']*(?:'|\Z)|[^'\">])*(?:>|\Z)"
    r".*?(?:</(?P=skip)\s*>|\Z)"
    r"|<(?P<end>/?)(?P<tag>[a-zA-Z][a-zA-Z0-9:-]*)"
    r"(?:\"[^\"]*(?:\"|\Z)|'[^']*(?:'|\Z)|[^'\">])*(?:>|\Z)"
    r"|<[!?/][^>]*(?:>|\Z)",
    re.DOTALL | re.IGNORECASE,
)
_SPACES = re.compile(r"[ \t\n\r\f\v\xa0\u3000]+")
_BLANK_RUNS = re.compile(r"\n{3,}")


class _Lines:
    """Block elements end lines; ``<blockquote>`` content comes out ``> ``-prefixed."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.parts: list[str] = []
        self.quote_depth = 0
        self.pre_depth = 0
        self.size = 0

    def flush(self, *, keep_blank: bool = False) -> None:
        line = "".join(self.parts)
        self.parts = []
        if self.pre_depth == 0:
            line = line.strip(" ")
        if line or keep_blank:
            line = "> " * min(self.quote_depth, _MAX_QUOTE_DEPTH) + line
            self.lines.append(line)
            self.size += len(line) + 1

    def tag(self, name: str, closing: bool) -> None:
        if name == "br":
            self.flush(keep_blank=True)
        elif name in _BLOCK_TAGS:
            self.flush()
            step = -1 if closing else 1
            if name == "blockquote":
                self.quote_depth = max(0, self.quote_depth + step)
            elif name == "pre":
                self.pre_depth = max(0, self.pre_depth + step)
            elif name == "li" and not closing:
                self.parts.append("- ")
        elif name in ("td", "th") and not closing:
            self.parts.append(" ")

    def text(self, data: str) -> None:
        if self.pre_depth:
            for index, piece in enumerate(data.split("\n")):
                if index:
                    self.flush(keep_blank=True)
                self.parts.append(piece)
        else:
            self.parts.append(_SPACES.sub(" ", data))


def html_to_text(markup: str) -> str:
    """Plain text of an HTML mail body: tags dropped, entities decoded, quotes kept as ``>``."""
    out = _Lines()
    for match in _TOKEN.finditer(markup):
        if out.size > _MAX_HTML_TEXT:
            break
        if (text := match["text"]) is not None:
            out.text(html.unescape(text))
        elif (tag := match["tag"]) is not None:
            out.tag(tag.lower(), bool(match["end"]))
    out.flush()
    return _BLANK_RUNS.sub("\n\n", "\n".join(out.lines)).strip()


# --- reply / signature split -------------------------------------------------------------

_QUOTED = re.compile(r"^\s*>")
_SIGNATURE = re.compile(r"^--\s*$")
_SENT_FROM = re.compile(
    r"^\s*(sent from my \S.{0,40}|sent from (mail|outlook|yahoo mail|gmail)\b.{0,40}"
    r"|get outlook for \S.{0,30}|sent with \S.{0,40}"
    r"|(发自|来自)(我的|网易邮箱|QQ邮箱|手机QQ邮箱|\d{3}邮箱|foxmail|outlook).{0,20}|从我的.{1,20}发送)\s*$",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(
    r"^\s*[-_=]{2,}\s*(original message|original|forwarded message|reply message|原始邮件"
    r"|原始信件|原邮件|回复的原邮件|转发的邮件|转发邮件信息|邮件原文)\s*[-_=]{2,}\s*$"
    r"|^\s*(begin forwarded message|开始转发的邮件)\s*[:：]\s*$",
    re.IGNORECASE,
)
_ATTRIBUTION = re.compile(
    r"^\s*(on\s.{0,300}\swrote|.{0,300}@.{0,300}\swrote|在.{0,300}写道|.{0,300}于.{0,200}写道)"
    r"\s*[:：]\s*$",
    re.IGNORECASE | re.DOTALL,
)
_ATTRIBUTION_START = re.compile(r"^\s*(on\s|在)", re.IGNORECASE)
_HEADER_FROM = re.compile(r"^\s*\*?\s*(from|发件人|寄件者|寄件人)\s*\*?\s*[:：]", re.IGNORECASE)
_HEADER_OTHER = re.compile(
    r"^\s*\*?\s*(sent|date|to|cc|subject|发送时间|日期|时间|收件人|抄送|主题|寄件日期|收件者|主旨)"
    r"\s*\*?\s*[:：]",
    re.IGNORECASE,
)
_RULE = re.compile(r"^\s*[-_=]{5,}\s*$")


def _attribution_length(lines: list[str], index: int) -> int:
    """1 or 2 when "On ... wrote:" / "在 ... 写道：" starts here (clients wrap it), else 0."""
    line = lines[index]
    if len(line) < 400 and _ATTRIBUTION.match(line):
        return 1
    if index + 1 < len(lines) and _ATTRIBUTION_START.match(line):
        joined = f"{line} {lines[index + 1]}"
        if len(joined) < 400 and _ATTRIBUTION.match(joined):
            return 2
    return 0


def _is_header_block(lines: list[str], index: int) -> bool:
    """A forwarded/replied header block: From:/发件人: followed by Sent:/Date:/发送时间: etc."""
    if not _HEADER_FROM.match(lines[index]):
        return False
    following = [line for line in lines[index + 1 : index + 7] if line.strip()][:4]
    return any(_HEADER_OTHER.match(line) for line in following)


def _is_hard_break(lines: list[str], index: int) -> bool:
    line = lines[index]
    return bool(
        _SIGNATURE.match(line)
        or _SEPARATOR.match(line)
        or _SENT_FROM.match(line)
        or _is_header_block(lines, index)
    )


def _back_over_rules(lines: list[str], cut: int) -> int:
    """Outlook puts a ``____`` rule (and blank lines) above the header block: cut above them."""
    while cut > 0 and (not lines[cut - 1].strip() or _RULE.match(lines[cut - 1])):
        cut -= 1
    return cut


def split_reply(text: str) -> tuple[str, str]:
    """(new text, quoted history + signature). Without any new text, everything is the body."""
    lines = text.split("\n")
    body: list[str] = []
    quoted: list[str] = []
    cut = len(lines)
    index = 0
    while index < len(lines):
        line = lines[index]
        if _is_hard_break(lines, index):
            cut = _back_over_rules(lines, index)
            del body[len(body) - (index - cut) :]  # the blank and rule lines just above
            break
        if attribution := _attribution_length(lines, index):
            following = index + attribution
            while following < len(lines) and not lines[following].strip():
                following += 1
            if following < len(lines) and _QUOTED.match(lines[following]):
                quoted.extend(lines[index:following])  # bottom-posting: new text may follow
                index = following
                continue
            cut = index
            break
        (quoted if _QUOTED.match(line) else body).append(line)
        index += 1
    new_text = _BLANK_RUNS.sub("\n\n", "\n".join(body)).strip()
    if not new_text:
        return text.strip(), ""
    quoted.extend(lines[cut:])
    return new_text, _BLANK_RUNS.sub("\n\n", "\n".join(quoted)).strip()
