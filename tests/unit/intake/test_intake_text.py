"""HTML → text and the split of new text from quoted history, per mail client style."""

from __future__ import annotations

import pytest

from services.intake.channels.text import html_to_text, split_reply


def test_html_blocks_breaks_entities_and_skipped_elements() -> None:
    html = (
        "<html><head><style>p{color:red}</style><title>t</title></head><body>"
        "<p>您好&nbsp;客服，</p><div>我的<b>提现</b>失败了&amp;钱被扣了<br>订单号 A123</div>"
        "<script>alert('x')</script><ul><li>一</li><li>二</li></ul></body></html>"
    )
    assert html_to_text(html) == "您好 客服，\n我的提现失败了&钱被扣了\n订单号 A123\n- 一\n- 二"


def test_html_blockquote_becomes_quoted_lines() -> None:
    html = "<div>New text</div><blockquote><div>old line 1</div><div>old line 2</div></blockquote>"
    assert html_to_text(html) == "New text\n> old line 1\n> old line 2"


def test_html_pre_keeps_lines_and_table_cells_are_separated() -> None:
    assert html_to_text("<pre>a  b\nc</pre>") == "a  b\nc"
    assert html_to_text("<table><tr><td>金额</td><td>500</td></tr></table>") == "金额 500"


def test_html_broken_markup_still_gives_text() -> None:
    assert "hello" in html_to_text("<div>hello<p><<>><![ weird")
    assert html_to_text("<!-- only a comment -->") == ""


OUTLOOK_EN = """Please refund the second charge.

Regards,
Tom

________________________________
From: Wallet Support <support@wallet.example>
Sent: Monday, November 2, 2026 9:00 AM
To: Tom <tom@example.com>
Subject: RE: charged twice

Dear customer, we are looking into it."""

OUTLOOK_ZH = """还是没有收到退款。

发件人: 钱包客服 <support@wallet.example>
发送时间: 2026年11月2日 9:00
收件人: 张三 <zs@example.com>
主题: 回复: 退款

您好，退款将在7个工作日内到账。"""

GMAIL_EN = """The app still crashes on start.

On Mon, Nov 2, 2026 at 9:00 AM Wallet Support <support@wallet.example> wrote:
> Please reinstall the app.
> Thanks"""

GMAIL_EN_WRAPPED = """Still crashing.

On Mon, Nov 2, 2026 at 9:00 AM Wallet Support <
support@wallet.example> wrote:

> Please reinstall the app."""

GMAIL_ZH = """还是闪退。

钱包客服 <support@wallet.example> 于2026年11月2日周一 上午9:00写道：

> 请重新安装应用。"""

IOS_ZH = """账户被锁了怎么办

在 2026年11月2日，上午9:00，钱包客服 <support@wallet.example> 写道：

> 请提供您的手机号。"""

QQ_MAIL = """我已经提供了订单号，请尽快处理。

------------------ 原始邮件 ------------------
发件人: "钱包客服"<support@wallet.example>;
发送时间: 2026年11月2日(星期一) 上午9:00
收件人: "王喆"<wangzhe@qq.com>;
主题: 回复：充值没到账

请提供订单号。"""

FOXMAIL = """收到，谢谢。

发件人：钱包客服
发送时间：2026-11-02 09:00
收件人：wangzhe@foxmail.com
主题：回复：银行卡绑定

已为您处理。"""

ORIGINAL_MESSAGE = """Card still not working.

-----Original Message-----
From: support@wallet.example
Sent: Monday, November 2, 2026 9:00 AM
Please try again."""

BIG5_OUTLOOK = """我的錢包被偷了

寄件者: 錢包客服 <support@wallet.example>
寄件日期: 2026年11月2日 上午 09:00
收件者: 陳小姐
主旨: 帳戶問題

請問有什麼可以幫您？"""


@pytest.mark.parametrize(
    ("text", "new", "quoted_start"),
    [
        (OUTLOOK_EN, "Please refund the second charge.\n\nRegards,\nTom", "________________"),
        (OUTLOOK_ZH, "还是没有收到退款。", "发件人: 钱包客服"),
        (GMAIL_EN, "The app still crashes on start.", "On Mon, Nov 2, 2026"),
        (GMAIL_EN_WRAPPED, "Still crashing.", "On Mon, Nov 2, 2026"),
        (GMAIL_ZH, "还是闪退。", "钱包客服 <support@wallet.example> 于"),
        (IOS_ZH, "账户被锁了怎么办", "在 2026年11月2日"),
        (QQ_MAIL, "我已经提供了订单号，请尽快处理。", "------------------ 原始邮件"),
        (FOXMAIL, "收到，谢谢。", "发件人：钱包客服"),
        (ORIGINAL_MESSAGE, "Card still not working.", "-----Original Message-----"),
        (BIG5_OUTLOOK, "我的錢包被偷了", "寄件者: 錢包客服"),
    ],
    ids=[
        "outlook-en",
        "outlook-zh",
        "gmail-en",
        "gmail-wrapped",
        "gmail-zh",
        "ios-zh",
        "qq",
        "foxmail",
        "original-message",
        "outlook-big5",
    ],
)
def test_quoted_history_is_set_apart(text: str, new: str, quoted_start: str) -> None:
    body, quoted = split_reply(text)
    assert body == new
    assert quoted.startswith(quoted_start)
    assert (
        text.replace("\n", "").replace(" ", "").endswith(quoted.replace("\n", "").replace(" ", ""))
    )


@pytest.mark.parametrize(
    ("text", "new", "quoted"),
    [
        (
            "My card was stolen.\n\n-- \nTom Lee\nACME Corp",
            "My card was stolen.",
            "-- \nTom Lee\nACME Corp",
        ),
        ("Help, locked out\n\nSent from my iPhone", "Help, locked out", "Sent from my iPhone"),
        ("密码忘了\n\n发自我的iPhone", "密码忘了", "发自我的iPhone"),
        ("退款呢？\n\n发自我的华为手机", "退款呢？", "发自我的华为手机"),
        ("余额不对\n\n来自网易邮箱大师", "余额不对", "来自网易邮箱大师"),
        ("Refund please\n\nGet Outlook for Android", "Refund please", "Get Outlook for Android"),
    ],
)
def test_signatures_are_set_apart(text: str, new: str, quoted: str) -> None:
    assert split_reply(text) == (new, quoted)


def test_bottom_posting_keeps_the_new_text_after_the_quote() -> None:
    text = "On Mon, Nov 2, 2026 Support <s@wallet.example> wrote:\n> Which order?\n\nOrder A123, still pending."
    body, quoted = split_reply(text)
    assert body == "Order A123, still pending."
    assert quoted == "On Mon, Nov 2, 2026 Support <s@wallet.example> wrote:\n> Which order?"


def test_inline_quotes_are_moved_out_of_the_body() -> None:
    body, quoted = split_reply("> Which card?\nThe Visa one.\n> When?\nYesterday.")
    assert body == "The Visa one.\nYesterday."
    assert quoted == "> Which card?\n> When?"


def test_forward_without_comment_keeps_everything_as_body() -> None:
    text = "---------- Forwarded message ---------\nFrom: bank@example.com\nDate: Mon\nSubject: x\n\nsuspicious sms"
    assert split_reply(text) == (text, "")


@pytest.mark.parametrize(
    "text",
    [
        "I got an SMS from: 95588 asking for my code",
        "From: my old phone I sent money\nto my friend yesterday, did it arrive?",
        "Transfer A -- B failed",
        "On Monday I was charged twice",
        "I wrote to you on Monday but nobody answered",
        "在吗？我昨天写了邮件",
    ],
)
def test_plain_text_is_not_mistaken_for_history(text: str) -> None:
    assert split_reply(text) == (text, "")


def test_html_keeps_stray_angle_brackets_and_unclosed_constructs_end_the_text() -> None:
    assert html_to_text("1 < 2 and 3 > 2 <3") == "1 < 2 and 3 > 2 <3"
    assert html_to_text("before<!-- never closed") == "before"
    assert html_to_text('before<a href="never closed>after') == "before"
    assert html_to_text("<p title='a>b'>x</p>") == "x"
    assert html_to_text("<SCRIPT type=x>var a = '<p>';</SCRIPT>visible") == "visible"


def test_hostile_html_is_bounded() -> None:
    assert html_to_text("<!" * 50_000) == ""
    assert html_to_text("<a " * 30_000) == ""
    nested = html_to_text("<blockquote>x" * 1_000)
    assert max(len(line) for line in nested.split("\n")) <= len("> " * 10 + "x")
    assert len(html_to_text("<p>x" * 300_000)) <= 200_002
