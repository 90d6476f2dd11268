"""Emails posted as JSON by the mail gateway → envelopes; Message-ID threading."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.intake.channels import InvalidInput
from services.intake.channels.msgid import normalize_message_id, parse_id_list
from shared.models import message_id_for
from tests.unit.intake.intake_samples import NOW, json_email, post


def test_new_email() -> None:
    message = post("email", json_email())
    assert message.channel == "email"
    assert message.external_id == "CAKx7Lq0=abc123@mail.gmail.com"
    assert message.message_id == message_id_for("email", "CAKx7Lq0=abc123@mail.gmail.com")
    assert message.conversation_key == "email:CAKx7Lq0=abc123@mail.gmail.com"
    assert message.subject == "Top-up not arrived"
    assert message.body.startswith("My top-up of 500 CNY")
    assert message.customer.email == "li.wei@example.com"
    assert message.attributes["email_to"] == "support@wallet.example"
    assert message.references == []
    assert message.received_at == datetime(2026, 11, 2, 2, 0, 3, tzinfo=UTC)


def test_reply_is_threaded_to_the_root() -> None:
    message = post(
        "email",
        json_email(
            in_reply_to="<reply-2@wallet.example>",
            references="<ROOT-1@Wallet.Example>\r\n <reply-2@wallet.example>",
        ),
    )
    assert message.conversation_key == "email:ROOT-1@wallet.example"
    assert message.references == ["reply-2@wallet.example", "ROOT-1@wallet.example"]


def test_references_as_a_list_and_in_reply_to_alone() -> None:
    listed = post("email", json_email(references=["<a@x.cn>", "b@x.cn"], in_reply_to="<b@x.cn>"))
    assert listed.references == ["b@x.cn", "a@x.cn"]
    assert listed.conversation_key == "email:a@x.cn"
    only = post("email", json_email(in_reply_to="<b@X.CN>"))
    assert only.conversation_key == "email:b@x.cn"


def test_own_id_is_not_its_own_reference() -> None:
    message = post("email", json_email(references="<CAKx7Lq0=abc123@mail.gmail.com> <r@x>"))
    assert message.references == ["r@x"]


def test_html_only_email_becomes_text_with_the_gmail_quote_apart() -> None:
    html = (
        '<div dir="ltr">The app crashes when I open it.<br></div><br>'
        '<div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Mon, Nov 2, 2026 at 9:00 AM '
        "Support &lt;s@wallet.example&gt; wrote:<br></div>"
        '<blockquote class="gmail_quote">Please update the app.</blockquote></div>'
    )
    message = post("email", json_email(text="", html=html))
    assert message.body == "The app crashes when I open it."
    assert (
        message.quoted
        == "On Mon, Nov 2, 2026 at 9:00 AM Support <s@wallet.example> wrote:\n> Please update the app."
    )


def test_outlook_html_reply() -> None:
    html = (
        "<p class=MsoNormal>退款还没到<o:p></o:p></p>"
        '<div style="border:none;border-top:solid #E1E1E1 1.0pt"><p class=MsoNormal>'
        "<b>发件人:</b> 钱包客服 &lt;s@wallet.example&gt;<br><b>发送时间:</b> 2026年11月2日 9:00<br>"
        "<b>收件人:</b> 张三<br><b>主题:</b> 退款</p></div><p>已受理</p>"
    )
    message = post("email", json_email(text=None, html=html))
    assert message.body == "退款还没到"
    assert message.quoted is not None and message.quoted.startswith("发件人: 钱包客服")


def test_text_wins_over_html() -> None:
    assert post("email", json_email(html="<p>other</p>")).body.startswith("My top-up")


def test_quoted_history_is_kept_apart() -> None:
    text = (
        "Still nothing.\n\n-----Original Message-----\nFrom: support\nSent: Mon\nWe are checking."
    )
    message = post("email", json_email(text=text))
    assert message.body == "Still nothing."
    assert (
        message.quoted == "-----Original Message-----\nFrom: support\nSent: Mon\nWe are checking."
    )


def test_attachment_metadata_and_recipients() -> None:
    message = post(
        "email",
        json_email(
            to='"Support" <Support@Wallet.Example>, cc@wallet.example',
            attachments=[
                {"filename": "截图.png", "content_type": "image/png", "size": 20480},
                {"filename": "statement.pdf", "content_type": "application/pdf", "size": 1000},
            ],
        ),
    )
    assert message.attributes["email_to"] == "support@wallet.example, cc@wallet.example"
    assert message.attributes["email_attachments"] == 2
    assert message.attributes["email_attachment_bytes"] == 21480


def test_gateway_time_is_used_only_when_earlier() -> None:
    later = post("email", json_email(received_at="2026-11-03T00:00:00+00:00"))
    assert later.received_at == NOW


def test_customer_object_and_attributes_are_kept() -> None:
    message = post(
        "email",
        json_email(
            customer={"id": "u-7", "phone": "13800138000"}, attributes={"tier": "vip", "n": 3}
        ),
    )
    assert message.customer.id == "u-7"
    assert message.customer.phone == "+8613800138000"
    assert message.customer.email == "li.wei@example.com"
    assert message.attributes["tier"] == "vip"
    assert message.attributes["n"] == 3


def test_same_email_twice_and_case_of_domain() -> None:
    first = post("email", json_email())
    again = post("email", json_email(message_id=" <CAKx7Lq0=abc123@MAIL.GMAIL.COM> "))
    other = post("email", json_email(message_id="<cakx7lq0=abc123@mail.gmail.com>"))
    assert first.message_id == again.message_id
    assert first.message_id != other.message_id


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("<a.b@Example.COM>", "a.b@example.com"),
        ("  <A.B@example.com>  ", "A.B@example.com"),
        ("A.B@example.com", "A.B@example.com"),
        ("<a.b@exa\r\n mple.com>", "a.b@example.com"),
        ("<local-only>", "local-only"),
        ("<x@y.cn> (comment)", "x@y.cn"),
        ("<>", None),
        ("   ", None),
    ],
)
def test_message_id_normal_form(raw: str, normal: str | None) -> None:
    assert normalize_message_id(raw) == normal


def test_id_lists() -> None:
    assert parse_id_list("<a@x> <b@x>\r\n\t<c@x>") == ["a@x", "b@x", "c@x"]
    assert parse_id_list("a@x, b@x") == ["a@x", "b@x"]
    assert parse_id_list(["<a@x> <b@x>", "c@X"]) == ["a@x", "b@x", "c@x"]
    assert parse_id_list(None) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"text": "", "html": None}, "$.text"),
        ({"text": "  ", "html": "<p> </p>"}, "$.html"),
        ({"message_id": "<>"}, "$.message_id"),
        ({"message_id": ""}, "$.message_id"),
        ({"from": "   "}, "$.from"),
        ({"from": None}, "$.from"),
        ({"references": 5}, "$.references"),
        ({"references": ["<a@x>", 5]}, "$.references[1]"),
        ({"to": {"a": 1}}, "$.to"),
        ({"received_at": "2026-11-02T10:00:03"}, "$.received_at"),
        ({"attachments": [{"size": -1}]}, "$.attachments[0].size"),
        ({"attachments": {"filename": "a"}}, "$.attachments"),
        ({"subject": ["x"]}, "$.subject"),
        ({"customer": {"email": "not-an-address"}}, "$.customer.email"),
        ({"customer": {"phone": "no digits"}}, "$.customer.phone"),
    ],
)
def test_bad_email_fields_are_named(change: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        post("email", json_email(**change))
    assert error.value.field == field
