"""Email text: HTML turned into plain text, and the new text set apart from quoted history.

Classification must see what the customer wrote now, not the thread it drags along; the quoted
history and the signature go to ``quoted`` and the router stores body + quoted together.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_MAX_HTML_TEXT = 200_000
_SKIP_TAGS = frozenset({"script", "style", "title", "template", "noscript", "xml"})
_BLOCK_TAGS = frozenset(
    {
        *("p", "div", "tr", "li", "ul", "ol", "dl", "dt", "dd", "table", "hr", "pre"),
        *("h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "section", "article"),
        *("header", "footer", "address", "center", "caption", "form", "fieldset"),
    }
)
_SPACES = re.compile(r"[ \t\n\r\f\v\xa0\u3000]+")
_BLANK_RUNS = re.compile(r"\n{3,}")
_TAG = re.compile(r"<[^<>]*>")


class _TextExtractor(HTMLParser):
    """Block elements end lines; ``<blockquote>`` content comes out ``> ``-prefixed."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._parts: list[str] = []
        self._quote_depth = 0
        self._skip_depth = 0
        self._pre_depth = 0
        self._size = 0

    def _flush(self, *, keep_blank: bool = False) -> None:
        line = "".join(self._parts)
        self._parts = []
        if self._pre_depth == 0:
            line = line.strip(" ")
        if line or keep_blank:
            self.lines.append("> " * self._quote_depth + line)
            self._size += len(line) + 1

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth += 1
        elif tag == "br":
            self._flush(keep_blank=True)
        elif tag in _BLOCK_TAGS:
            self._flush()
            if tag == "blockquote":
                self._quote_depth += 1
            elif tag == "pre":
                self._pre_depth += 1
            elif tag == "li":
                self._parts.append("- ")
        elif tag in ("td", "th"):
            self._parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK_TAGS:
            self._flush()
            if tag == "blockquote":
                self._quote_depth = max(0, self._quote_depth - 1)
            elif tag == "pre":
                self._pre_depth = max(0, self._pre_depth - 1)

    def handle_data(self, data: str) -> None:
        if self._skip_depth or self._size > _MAX_HTML_TEXT:
            return
        if self._pre_depth:
            for index, piece in enumerate(data.split("\n")):
                if index:
                    self._flush(keep_blank=True)
                self._parts.append(piece)
        else:
            self._parts.append(_SPACES.sub(" ", data))


def html_to_text(html: str) -> str:
    """Plain text of an HTML mail body (stdlib parser: tolerant, no dependency)."""
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError, IndexError):
        # html.parser gives up on some broken markup; the bare text is still worth having.
        return _SPACES.sub(" ", _TAG.sub(" ", html)).strip()[:_MAX_HTML_TEXT]
    parser._flush()
    return _BLANK_RUNS.sub("\n\n", "\n".join(parser.lines)).strip()


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
