"""Raw RFC 822 mail as Chinese and English clients send it → envelopes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.intake.channels import InvalidInput
from services.intake.channels.mime import decode_bytes, decode_header
from shared.models import message_id_for
from tests.unit.intake.intake_samples import (
    b64_body,
    encoded_word,
    leaf,
    mail,
    multipart,
    post_mime,
    qp_body,
    std_headers,
)


def test_qq_mail_gb2312_label_with_gbk_characters() -> None:
    """QQ Mail labels GB2312 but uses GBK characters (喆); the From name too."""
    text = "王喆您好，我充值500元没到账，订单号 A123。\r\n\r\n发自我的iPhone"
    raw = mail(std_headers(), 'text/plain; charset="gb2312"', b64_body(text, "gbk"), "base64")
    message = post_mime(raw)
    assert message.body == "王喆您好，我充值500元没到账，订单号 A123。"
    assert message.quoted == "发自我的iPhone"
    assert message.subject == "充值没到账"
    assert message.external_id == "tencent_5A1B2C3D@qq.com"
    assert message.message_id == message_id_for("email", "tencent_5A1B2C3D@qq.com")
    assert message.customer.email == "wangzhe@qq.com"
    assert message.sent_at == datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    assert message.attributes["email_to"] == "support@wallet.example"


def test_outlook_multipart_alternative_gbk_quoted_printable() -> None:
    plain = "我的钱包被盗了，请立即冻结账户。\r\n\r\n发件人: 钱包客服\r\n发送时间: 2026年11月1日\r\n主题: 通知\r\n\r\n旧内容"
    html = "<html><body><p>我的钱包被盗了，请立即冻结账户。</p></body></html>"
    content_type, body = multipart(
        "alternative",
        [
            leaf("text/plain; charset=gbk", "quoted-printable", qp_body(plain, "gbk")),
            leaf("text/html; charset=gbk", "quoted-printable", qp_body(html, "gbk")),
        ],
        "----=_NextPart_000_0012_01DB2C.5A6B7C80",
    )
    headers = std_headers(
        Subject=encoded_word("紧急：钱包被盗", "gbk", "Q"),
        Message_ID="<000001db2c$5a6b7c80$@Outlook.cn>",
    )
    message = post_mime(mail(headers, content_type, body))
    assert message.body == "我的钱包被盗了，请立即冻结账户。"
    assert message.quoted is not None and message.quoted.startswith("发件人: 钱包客服")
    assert message.subject == "紧急：钱包被盗"
    assert message.external_id == "000001db2c$5a6b7c80$@outlook.cn"


def test_html_only_gb18030_with_four_byte_characters() -> None:
    html = "<div>账户被锁定了 𠮷野家 㐀</div><div><br></div><blockquote>旧邮件</blockquote>"
    raw = mail(std_headers(), "text/html; charset=GB18030", b64_body(html, "gb18030"), "base64")
    message = post_mime(raw)
    assert message.body == "账户被锁定了 𠮷野家 㐀"
    assert message.quoted == "> 旧邮件"


def test_big5_outlook_reply_with_traditional_headers() -> None:
    text = "我的錢包被偷了，請凍結帳戶\r\n\r\n寄件者: 錢包客服\r\n寄件日期: 2026年11月1日\r\n主旨: 帳戶\r\n\r\n您好"
    headers = std_headers(
        From=f"{encoded_word('陳小姐', 'big5')} <chen@example.com.tw>",
        Subject=encoded_word("錢包被偷", "big5"),
    )
    message = post_mime(mail(headers, "text/plain; charset=big5", b64_body(text, "big5"), "base64"))
    assert message.body == "我的錢包被偷了，請凍結帳戶"
    assert message.subject == "錢包被偷"
    assert message.customer.email == "chen@example.com.tw"


def test_gmail_utf8_quoted_printable_reply_with_threading() -> None:
    text = (
        "Still no refund after 10 days.\r\n\r\n"
        "On Mon, Nov 2, 2026 at 9:00 AM Wallet Support <support@wallet.example> wrote:\r\n"
        "> Your refund is on its way.\r\n"
    )
    headers = std_headers(
        From="Tom Lee <tom.lee@gmail.com>",
        Subject="Re: Refund request =?UTF-8?Q?=E9=80=80=E6=AC=BE?=",
        Message_ID="<CAJz9+Q=xyz@mail.gmail.com>",
        In_Reply_To="<case-1001.2@wallet.example>",
        References="<case-1001@Wallet.Example>\r\n <case-1001.2@wallet.example>",
    )
    message = post_mime(
        mail(headers, 'text/plain; charset="UTF-8"', qp_body(text, "utf-8"), "quoted-printable")
    )
    assert message.body == "Still no refund after 10 days."
    assert message.quoted == (
        "On Mon, Nov 2, 2026 at 9:00 AM Wallet Support <support@wallet.example> wrote:\n"
        "> Your refund is on its way."
    )
    assert message.subject == "Re: Refund request 退款"
    assert message.conversation_key == "email:case-1001@wallet.example"
    assert message.references == ["case-1001.2@wallet.example", "case-1001@wallet.example"]


def test_foxmail_reply_in_gb2312() -> None:
    text = "好的，已经收到。\r\n\r\n发件人：钱包客服\r\n发送时间：2026-11-02 09:00\r\n收件人：wangzhe\r\n主题：回复：绑卡\r\n\r\n已处理"
    raw = mail(std_headers(), "text/plain; charset=gb2312", b64_body(text, "gb2312"), "base64")
    message = post_mime(raw)
    assert message.body == "好的，已经收到。"
    assert message.quoted is not None and message.quoted.startswith("发件人：钱包客服")


def test_qq_mail_multipart_with_original_mail_block_and_attachment() -> None:
    plain = '我的提现失败了。\r\n\r\n------------------ 原始邮件 ------------------\r\n发件人: "钱包客服"\r\n发送时间: 2026年11月2日\r\n请提供截图'
    alternative_type, alternative = multipart(
        "alternative",
        [
            leaf("text/plain; charset=gb18030", "base64", b64_body(plain, "gb18030")),
            leaf(
                "text/html; charset=gb18030", "base64", b64_body(f"<div>{plain}</div>", "gb18030")
            ),
        ],
        "----=_Part_alt",
    )
    attachment = leaf(
        'image/png; name="=?gb18030?B?vdjNvC5wbmc=?="',
        "base64",
        b"iVBORw0KGgo=",
        [("Content-Disposition", 'attachment; filename="=?gb18030?B?vdjNvC5wbmc=?="')],
    )
    mixed_type, mixed = multipart(
        "mixed",
        [f"Content-Type: {alternative_type}\r\n\r\n".encode() + alternative, attachment],
        "----=_Part_mixed",
    )
    message = post_mime(mail(std_headers(), mixed_type, mixed))
    assert message.body == "我的提现失败了。"
    assert message.quoted is not None and message.quoted.startswith("------------------ 原始邮件")
    assert message.attributes["email_attachments"] == 1
    assert message.attributes["email_attachment_bytes"] == 8


def test_forwarded_message_attachment_is_counted_not_read() -> None:
    inner = b"From: bank@example.com\r\nSubject: verify\r\n\r\nclick here"
    content_type, body = multipart(
        "mixed",
        [
            leaf("text/plain; charset=utf-8", "8bit", "这条短信是诈骗吗？".encode()),
            b"Content-Type: message/rfc822\r\n\r\n" + inner,
        ],
        "b1",
    )
    message = post_mime(mail(std_headers(), content_type, body))
    assert message.body == "这条短信是诈骗吗？"
    assert message.attributes["email_attachments"] == 1


def test_raw_8bit_headers_in_utf8_and_gbk() -> None:
    utf8 = std_headers(Subject="账户被锁".encode(), From="张三 <zs@example.com>".encode())
    assert (
        post_mime(mail(utf8, "text/plain; charset=utf-8", "解锁".encode(), "8bit")).subject
        == "账户被锁"
    )
    gbk = std_headers(Subject="账户被锁".encode("gbk"))
    message = post_mime(mail(gbk, "text/plain; charset=gbk", "解锁".encode("gbk"), "8bit"))
    assert message.subject == "账户被锁"
    assert message.body == "解锁"


def test_encoded_words_split_mid_character_are_joined() -> None:
    data = "充值没到账".encode("gbk")
    import base64

    first = base64.b64encode(data[:3]).decode()
    second = base64.b64encode(data[3:]).decode()
    subject = f"=?gb2312?B?{first}?=\r\n =?gb2312?B?{second}?="
    message = post_mime(mail(std_headers(Subject=subject), "text/plain; charset=utf-8", b"hi"))
    assert message.subject == "充值没到账"


def test_mislabelled_bodies_are_decoded() -> None:
    utf8_as_latin1 = mail(
        std_headers(), "text/plain; charset=iso-8859-1", "密码忘了".encode(), "8bit"
    )
    assert post_mime(utf8_as_latin1).body == "密码忘了"
    gbk_as_utf8 = mail(std_headers(), "text/plain; charset=utf-8", "密码忘了".encode("gbk"), "8bit")
    assert post_mime(gbk_as_utf8).body == "密码忘了"
    unlabelled = mail(std_headers(), "text/plain", "密码忘了".encode("gbk"), "8bit")
    assert post_mime(unlabelled).body == "密码忘了"
    unknown = mail(std_headers(), "text/plain; charset=x-nonsense", "密码忘了".encode(), "8bit")
    assert post_mime(unknown).body == "密码忘了"


def test_mail_without_message_id_gets_a_stable_derived_one() -> None:
    raw = mail(
        std_headers(Message_ID=""), "text/plain; charset=utf-8", "余额没更新".encode(), "8bit"
    )
    first = post_mime(raw)
    assert first.external_id.endswith("@derived.switchboard.invalid")
    assert first.attributes["email_message_id_derived"] is True
    assert (
        post_mime(raw, received_at=datetime(2027, 1, 1, tzinfo=UTC)).message_id == first.message_id
    )
    relayed = b"Received: from relay.example by mx.wallet.example\r\n" + raw
    assert post_mime(relayed).message_id == first.message_id
    other = mail(
        std_headers(Message_ID=""), "text/plain; charset=utf-8", "余额不对".encode(), "8bit"
    )
    assert post_mime(other).message_id != first.message_id


def test_a_header_block_cut_short_by_a_stray_line_does_not_share_another_mails_id() -> None:
    """The parser ends the headers at the first line that is not one and reads the rest as
    content: the derived id must see that content, not only what follows the blank line."""
    broken = post_mime(b"From: a@b.cn\r\nnot a header\r\nMessage-ID: <m47@x>\r\n\r\nhello")
    plain = post_mime(b"From: a@b.cn\r\n\r\nhello")
    assert broken.message_id != plain.message_id
    assert broken.body.startswith("not a header")
    again = post_mime(b"From: a@b.cn\r\nnot a header\r\nMessage-ID: <m47@x>\r\n\r\nhello")
    assert again.message_id == broken.message_id


def test_subject_only_mail_is_accepted() -> None:
    message = post_mime(mail(std_headers(), "text/plain", b""))
    assert message.body == ""
    assert message.subject == "充值没到账"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (mail(std_headers(From=""), "text/plain", b"hello"), "header From"),
        (mail(std_headers(Subject=""), "text/plain", b"   "), "body"),
        (b"", "header From"),
        (b"just some bytes without headers", "header From"),
    ],
)
def test_unusable_mail_is_refused_naming_what_is_missing(raw: bytes, field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        post_mime(raw)
    assert error.value.field == field


def test_mbox_from_line_and_lf_line_endings() -> None:
    raw = mail(std_headers(), "text/plain; charset=utf-8", "你好".encode(), "8bit").replace(
        b"\r\n", b"\n"
    )
    message = post_mime(b"From wangzhe@qq.com Mon Nov  2 10:00:00 2026\n" + raw)
    assert message.body == "你好"
    assert message.subject == "充值没到账"


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("=?utf-8?B?5L2g5aW9?=", "你好"),
        ("=?UTF-8?Q?=E4=BD=A0=E5=A5=BD?= world", "你好 world"),
        ("=?gb2312?B?xOO6ww==?= =?gb2312?B?yrXA/Q==?=", "你好实例"),
        ("Re: =?big5?B?p0Gmbg==?=", "Re: 你好"),
        ("=?utf-8*zh?Q?a_b?=", "a b"),
        ("=?utf-8?B?broken", "=?utf-8?B?broken"),
        ("plain\r\n folded", "plain folded"),
    ],
)
def test_header_decoding(raw: str, text: str) -> None:
    assert decode_header(raw) == text


def test_charset_decoding_never_fails() -> None:
    assert decode_bytes("镕".encode("gbk"), "GB2312") == "镕"
    assert decode_bytes("碁".encode("cp950"), "big5") == "碁"
    assert decode_bytes(b"\xff\xfe\xfd", "utf-8")
    assert decode_bytes(b"abc", "base64") == "abc"


def test_shapes_no_client_produces_are_refused_early() -> None:
    many_parts = (
        b"From: a@b.cn\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        + b"--b\r\n\r\nx\r\n" * 6_000
    )
    many_headers = b"From: a@b.cn\r\n" + b"X-Spam: y\r\n" * 4_000 + b"\r\nbody"
    for raw in (many_parts, many_headers):
        with pytest.raises(InvalidInput) as error:
            post_mime(raw)
        assert (error.value.field, error.value.status) == ("body", 400)


def test_very_long_reference_chains_keep_root_and_recent_ids() -> None:
    references = " ".join(f"<m{i}@x.cn>" for i in range(500))
    raw = mail(std_headers(References=references), "text/plain", b"hi")
    message = post_mime(raw)
    assert message.conversation_key == "email:m0@x.cn"
    assert len(message.references) == 100
    assert message.references[0] == "m0@x.cn" and message.references[-1] == "m499@x.cn"


def test_multipart_without_a_boundary_keeps_its_text() -> None:
    """A gateway that drops the boundary parameter: the body is the customer's words, unsplit,
    not an attachment to count and forget."""
    raw = mail(std_headers(), "multipart/mixed; charset=gbk", "我的钱包被偷了 help".encode("gbk"))
    message = post_mime(raw)
    assert message.body == "我的钱包被偷了 help"
    assert "email_attachments" not in message.attributes
