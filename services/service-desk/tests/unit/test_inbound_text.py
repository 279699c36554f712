"""Inbound mail becomes ticket text: HTML through html2text (no style or script content), and
the quoted conversation below the customer's words stripped, for HTML and plain-text mail."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

from crm_service_desk.messaging.inbound_mail import parse_message

GMAIL_HTML = """<html><head><style>p { color: red } .x { display: none }</style>
<script>alert("hi")</script></head><body>
<div dir="ltr"><p>The export still fails &amp; times out.</p>
<p>See <a href="https://status.example/1">the status page</a>.</p></div>
<div class="gmail_quote"><div class="gmail_attr">On Mon, 7 Dec 2026 at 10:00, Support
&lt;support@crm.example&gt; wrote:<br></div>
<blockquote class="gmail_quote"><p>Did the export work?</p>
<blockquote><p>Older quote</p></blockquote></blockquote></div></body></html>"""

PLAIN_REPLY = """Thanks, it works again.

Ada

On Mon, 7 Dec 2026 at 10:00, Support <support@crm.example> wrote:
> Please try again now.
>
> > My export fails.
"""

GERMAN_REPLY = """Danke, geht wieder.

Am 07.12.2026 um 10:00 schrieb Support <support@crm.example>:
> Bitte erneut versuchen.
"""

OUTLOOK_REPLY = """Still broken for me.

From: Support <support@crm.example>
Sent: Monday, December 7, 2026 10:00 AM
To: Ada <ada@example.org>
Subject: RE: [#SD-7K3M9Q2XWB] Export

Please try again now.
"""


def body_of(content: str, subtype: str = "plain") -> str:
    mail = EmailMessage()
    mail["From"], mail["Subject"] = "ada@example.org", "Export"
    mail["Message-ID"] = "<m@example.org>"
    mail.set_content(content, subtype=subtype)
    return parse_message(mail.as_bytes(), None, datetime.now(UTC)).body


def test_html_mail_becomes_text_without_styles_scripts_or_the_quoted_reply() -> None:
    body = body_of(GMAIL_HTML, "html")
    assert body.startswith("The export still fails & times out.")
    assert "[the status page](https://status.example/1)" in body
    for leaked in ("color", "display", "alert", "Did the export work", "Older quote", "wrote:"):
        assert leaked not in body


def test_plain_text_replies_lose_their_quotes_in_several_languages_and_formats() -> None:
    assert body_of(PLAIN_REPLY) == "Thanks, it works again.\n\nAda"
    assert body_of(GERMAN_REPLY) == "Danke, geht wieder."
    assert body_of(OUTLOOK_REPLY) == "Still broken for me."


def test_a_message_that_is_only_a_quote_is_kept_whole() -> None:
    assert body_of("> forwarded words\n> more") == "> forwarded words\n> more"
