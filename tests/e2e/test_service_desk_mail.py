"""End to end: the service desk talks back. A customer mails support; the service desk
acknowledges, an agent's reply reaches them (an internal note does not), their answer to that
reply lands on the same ticket, and the resolution brings a survey link they rate without any
token. Every message through the real SMTP sink, threaded, and each sent once.

The service desk runs as its api and worker (the SMTP listener, the outbox) on its own database.
"""

from __future__ import annotations

import json
import re
import smtplib
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from crm_platform.devtoken import issue_token
from crm_platform.testing import ServiceProcess, eventually, free_port

pytestmark = pytest.mark.e2e

RUN = uuid.uuid4().hex[:8]
ADDRESS = f"linus.{RUN}@example.org"
SUPPORT = "support@desk-e2e.example"
COMPLAINTS = "complaints@desk-e2e.example"


@pytest.fixture(scope="module")
def desk(
    platform_env: dict[str, str], fresh_database, smtp_sink, postgres_server, tmp_path_factory
) -> Iterator[dict[str, Any]]:
    database = fresh_database("e2e_service_desk_mail")
    api_port = free_port()
    env = {
        **platform_env,
        **smtp_sink.env(),
        "CRM_POSTGRES_DATABASE": database,
        "CRM_SERVICE_DESK_SMTP_PORT": str(free_port()),
        "CRM_SERVICE_DESK_FROM_ADDRESS": SUPPORT,
        "CRM_SERVICE_DESK_PUBLIC_URL": f"http://127.0.0.1:{api_port}",
        "CRM_SERVICE_DESK_MAIL_QUEUES": json.dumps({COMPLAINTS: "complaint"}),
        "CRM_SERVICE_DESK_MAIL_RULES": json.dumps([{"words": ["refund"], "priority": "high"}]),
    }
    logs: Path = tmp_path_factory.mktemp("service-desk-mail-logs")
    processes = {
        "api": ServiceProcess("crm-service-desk-api", env, logs, api_port).start(),
        "worker": ServiceProcess("crm-service-desk-worker", env, logs).start(),
    }

    def outbox_open() -> bool:
        with psycopg.connect(postgres_server.dsn(database)) as connection:
            return (
                connection.execute(
                    "SELECT 1 FROM platform_projection_positions WHERE name = %s",
                    ("service-desk-customer-mail",),
                ).fetchone()
                is not None
            )

    # A new outbox starts at the end of the log: mail sent before it opened is not answered.
    eventually(outbox_open, what="the outbox", within=60, retry_on=(psycopg.Error,))
    yield {"env": env, **processes}
    for process in processes.values():
        process.stop()


def _deliver(
    port: int,
    subject: str,
    body: str,
    in_reply_to: str | None = None,
    *,
    sender: str = ADDRESS,
    to: str = SUPPORT,
    subtype: str = "plain",
) -> str:
    """The customer's mail to the service desk."""
    mail = EmailMessage()
    mail["From"], mail["To"] = f"Customer <{sender}>", to
    mail["Subject"], mail["Message-ID"] = subject, f"<{uuid.uuid4()}@example.org>"
    if in_reply_to:
        mail["In-Reply-To"] = mail["References"] = in_reply_to
    mail.set_content(body, subtype=subtype)

    def deliver() -> str:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            refused = smtp.send_message(mail, from_addr=sender, to_addrs=[to])
        assert not refused
        return "sent"

    return eventually(deliver, what="the mail listener", within=60, retry_on=(OSError,))


def _part(mails: list[Any], part: str) -> Any:
    """The one mail of the ticket's thread whose Message-ID names ``part`` (reply, survey)."""
    [found] = [mail for mail in mails if f".{part}." in str(mail["Message-ID"])]
    return found


def test_the_customer_is_answered_by_mail_and_rates_through_the_link(
    desk: dict[str, Any], smtp_sink
) -> None:
    token = issue_token(["service-desk:read", "service-desk:write"], "agent.ann@crm.local")
    agent = httpx.Client(
        base_url=desk["api"].url, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    listener = int(desk["env"]["CRM_SERVICE_DESK_SMTP_PORT"])

    _deliver(listener, "Printer on fire", "The printer in room 4 is on fire.")
    [ack] = smtp_sink.wait_for(ADDRESS, timeout=60)
    reference = re.search(r"\[#(SD-[0-9A-Z]{10})\]", str(ack["Subject"])).group(1)
    ticket = agent.get(f"/tickets/by-reference/{reference}").json()
    assert ack["From"] == SUPPORT and "Printer on fire" in str(ack["Subject"])

    def command(path: str, body: dict[str, Any]) -> dict[str, Any]:
        answered = agent.post(
            f"/tickets/{ticket['id']}/{path}",
            json=body,
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert answered.status_code == 200, answered.text
        return dict(answered.json())

    command("notes", {"body": "Internal: call facilities"})
    command("replies", {"body": "Please leave the room; facilities are on their way."})
    reply = _part(smtp_sink.wait_for(ADDRESS, count=2, timeout=60), "reply")
    assert "facilities are on their way" in reply.get_content()
    assert str(reply["In-Reply-To"]).strip() == str(ack["Message-ID"]).strip()
    assert reference in str(reply["Subject"])

    # The customer answers the reply; their client kept the headers, not the reference.
    _deliver(listener, "Re: thanks", "Done, we are outside.", str(reply["Message-ID"]).strip())

    def answered() -> bool:
        messages = agent.get(f"/tickets/{ticket['id']}/messages").json()["items"]
        return any(m["body"] == "Done, we are outside." for m in messages)

    eventually(answered, what="the customer's answer on the ticket")

    command("resolution", {"resolution": "Fire extinguished, printer replaced."})
    survey_mail = _part(smtp_sink.wait_for(ADDRESS, count=3, timeout=60), "survey")
    link = re.search(r"(http://\S+/survey/\S+/form)", survey_mail.get_content()).group(1)
    browser = httpx.Client(timeout=10)  # what the customer's browser does: no token
    page = browser.get(link)
    assert page.status_code == 200 and reference in page.text and "Printer on fire" in page.text
    thanked = browser.post(link, data={"rating": "5", "comment": "Fast!"})
    assert thanked.status_code == 200 and "Thank you" in thanked.text
    assert browser.post(link, data={"rating": "1"}).status_code == 409  # rated once
    forged = link.replace("/survey/", "/survey/x")
    assert browser.get(forged).status_code == 404

    rated = agent.get(f"/tickets/{ticket['id']}").json()
    assert (rated["rating"], rated["rating_comment"]) == (5, "Fast!")
    mails = smtp_sink.messages_to(ADDRESS)
    assert len(mails) == 3  # no mail about the note or the customer's own answer, none twice
    assert len({str(mail["Message-ID"]).strip() for mail in mails}) == 3


COMPLAINT_HTML = """<html><head><style>body { font-family: Arial }</style></head><body>
<p>I want a <b>refund</b> now. The parcel arrived broken.</p>
<div class="gmail_quote">On Mon, 7 Dec 2026 at 10:00, Shop &lt;shop@example.org&gt; wrote:
<blockquote><p>Your parcel is on its way.</p></blockquote></div></body></html>"""


def test_a_complaint_is_sorted_by_its_address_and_an_agent_raises_its_priority(
    desk: dict[str, Any], smtp_sink
) -> None:
    token = issue_token(["service-desk:read", "service-desk:write"], "agent.ann@crm.local")
    agent = httpx.Client(
        base_url=desk["api"].url, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    sender = f"mia.{RUN}@example.org"
    listener = int(desk["env"]["CRM_SERVICE_DESK_SMTP_PORT"])

    _deliver(
        listener, "Broken parcel", COMPLAINT_HTML, sender=sender, to=COMPLAINTS, subtype="html"
    )
    [ack] = smtp_sink.wait_for(sender, timeout=60)
    reference = re.search(r"\[#(SD-[0-9A-Z]{10})\]", str(ack["Subject"])).group(1)
    ticket = agent.get(f"/tickets/by-reference/{reference}").json()
    # The queue's category, the rule's priority, and only what the customer wrote, as text.
    assert (ticket["category"], ticket["priority"]) == ("complaint", "high")
    assert ticket["description"] == "I want a **refund** now. The parcel arrived broken."

    changed = agent.post(
        f"/tickets/{ticket['id']}/classification",
        json={"priority": "urgent"},
        headers={"Idempotency-Key": str(uuid.uuid4()), "If-Match": f'W/"{ticket["version"]}"'},
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["category"], changed.json()["priority"]) == ("complaint", "urgent")
    queue = agent.get("/tickets", params={"category": "complaint", "priority": "urgent"}).json()
    assert [t["id"] for t in queue["items"]] == [ticket["id"]]
