"""Property tests, raw MIME email: generated, mutated and random mail never fails unexpectedly."""

from __future__ import annotations

import base64
import quopri

from hypothesis import given
from hypothesis import strategies as st

from tests.unit.intake.intake_fuzz import FUZZ, check
from tests.unit.intake.intake_samples import (
    RFC822,
    b64_body,
    encoded_word,
    headers_block,
    leaf,
    mail,
    multipart,
    qp_body,
    std_headers,
)

CHARSETS = [
    "utf-8",
    "gb2312",
    "gbk",
    "gb18030",
    "big5",
    "iso-8859-1",
    "us-ascii",
    "utf-7",
    "unicode_escape",
    "base64",
    "rot13",
    "idna",
    "punycode",
    "x-unknown",
    "",
    "utf-16",
]
CODECS = ["utf-8", "gbk", "gb18030", "big5", "utf-16"]
CTES = ["base64", "quoted-printable", "8bit", "7bit", "binary", "x-uuencode", "bogus"]
texts = st.text(max_size=80) | st.sampled_from(
    [
        "我的钱包被偷了",
        "On Mon wrote:\n> old",
        "-- \nsig",
        "发件人: a\n发送时间: b",
        "<b>粗体</b>&nbsp;",
    ]
)


def _encode_text(text: str, codec: str) -> bytes:
    return text.encode(codec, errors="replace")


@st.composite
def mime_leaf(draw: st.DrawFn) -> bytes:
    subtype = draw(st.sampled_from(["plain", "html", "png", "rfc822"]))
    major = {"png": "image", "rfc822": "message"}.get(subtype, "text")
    label = draw(st.sampled_from(CHARSETS))
    data = _encode_text(draw(texts), draw(st.sampled_from(CODECS)))
    cte = draw(st.sampled_from(CTES))
    payload = {
        "base64": base64.encodebytes(data),
        "quoted-printable": quopri.encodestring(data),
    }.get(cte, data)
    extra = [("Content-Disposition", "attachment; filename=a.bin")] if draw(st.booleans()) else []
    return leaf(f"{major}/{subtype}; charset={label}", cte, payload, extra)


@st.composite
def mime_mail(draw: st.DrawFn) -> bytes:
    headers = std_headers(
        Subject=draw(st.sampled_from(["", "plain subject"]))
        or encoded_word(
            draw(texts),
            "utf-8",
            draw(st.sampled_from(["B", "Q"])),
            label=draw(st.sampled_from(CHARSETS)) or None,
        ),
        Message_ID=draw(st.sampled_from(["", "<a@b>", "<>", "no brackets", "<x@Y.cn> <z@w>"])),
        References=draw(st.sampled_from(["", "<r@b>", "garbage <", "<a@b>\r\n <c@d>"])),
        Date=draw(
            st.sampled_from(
                [
                    "",
                    "Mon, 2 Nov 2026 10:00:00 +0800",
                    "yesterday",
                    "Mon, 2 Nov 0001 00:00:00 -1200",
                    "Mon, 2 Nov 2026 10:00:00 -0000",
                ]
            )
        ),
        From=draw(
            st.sampled_from(["a@b.cn", "", "=?gbk?B?1cXI/Q==?= <zs@qq.com>", "undisclosed", "<>"])
        ),
    )
    if draw(st.booleans()):
        parts = draw(st.lists(mime_leaf(), min_size=0, max_size=4))
        content_type, body = multipart(
            draw(st.sampled_from(["mixed", "alternative", "related"])),
            parts,
            draw(st.sampled_from(["b", "=_x", "a b"])),
        )
        return mail(headers, content_type, body)
    single = draw(mime_leaf())
    head, _, body = single.partition(b"\r\n\r\n")
    return headers_block([*headers, ("MIME-Version", "1.0")]) + head + b"\r\n\r\n" + body


@FUZZ
@given(raw=mime_mail())
def test_generated_mime(raw: bytes) -> None:
    check("email", raw, RFC822)


SAMPLE_MAILS = [
    mail(
        std_headers(),
        'text/plain; charset="gb2312"',
        b64_body("王喆充值没到账\n\n发自我的iPhone", "gbk"),
        "base64",
    ),
    mail(
        std_headers(),
        "text/html; charset=utf-8",
        qp_body("<div>hi<blockquote>old</blockquote></div>", "utf-8"),
        "quoted-printable",
    ),
    mail(
        std_headers(),
        *multipart(
            "alternative",
            [
                leaf("text/plain; charset=big5", "base64", b64_body("錢包被偷", "big5")),
                leaf("text/html; charset=big5", "base64", b64_body("<p>錢包被偷</p>", "big5")),
            ],
            "zz",
        ),
    ),
]


@FUZZ
@given(index=st.integers(0, len(SAMPLE_MAILS) - 1), data=st.data())
def test_mutated_mime(index: int, data: st.DataObject) -> None:
    raw = bytearray(SAMPLE_MAILS[index])
    for _ in range(data.draw(st.integers(1, 6))):
        position = data.draw(st.integers(0, len(raw)))
        replacement = data.draw(
            st.binary(max_size=6)
            | st.sampled_from(
                [
                    b"\r\n",
                    b"\r\n\r\n",
                    b"--zz\r\n",
                    b"=?",
                    b"?=",
                    b"<",
                    b">",
                    b"=\r\n",
                    b"Content-Type: multipart/mixed; boundary=zz\r\n",
                ]
            )
        )
        raw[position : position + data.draw(st.integers(0, 8))] = replacement
    check("email", bytes(raw), RFC822)


@FUZZ
@given(raw=st.binary(max_size=1500))
def test_random_bytes_as_mime(raw: bytes) -> None:
    check("email", b"From: a@b.cn\r\n" + raw, RFC822)
    check("email", raw, RFC822)


def test_deeply_nested_multipart() -> None:
    raw = b"From: a@b.cn\r\nMessage-ID: <n@b>\r\n"
    for level in range(300):
        raw += f'Content-Type: multipart/mixed; boundary="b{level}"\r\n\r\n--b{level}\r\n'.encode()
    raw += b"Content-Type: text/plain\r\n\r\ndeep\r\n"
    check("email", raw, RFC822)
