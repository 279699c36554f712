"""The customer's mail as composed: threading headers, the survey link's signature, one
recipient only; and the survey route refusing a forged link."""

from __future__ import annotations

from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from crm_service_desk.application import NewTicket, ServiceDeskApplication
from crm_service_desk.application.mail import InboundEmail
from crm_service_desk.application.outbound import (
    InvalidToken,
    SurveyLinks,
    message_id,
    single_address,
    ticket_of_message_id,
)
from crm_service_desk.domain import RuleViolation, Ticket
from crm_service_desk.messaging.settings import ServiceDeskSettings

from .conftest import MONDAY_10, act, issued

LINKS = SurveyLinks("https://desk.example/", b"k" * 32)
NEW = NewTicket(
    customer_id=uuid4(),
    organization_id=None,
    subject="Broken",
    description="It broke",
    channel="web",
    priority="normal",
    category="incident",
)


def test_a_survey_link_names_its_ticket_and_cannot_be_forged() -> None:
    ticket = uuid4()
    token = LINKS.token(ticket)
    assert LINKS.url(ticket) == f"https://desk.example/survey/{token}/form"
    assert LINKS.ticket_of(token) == ticket
    other = SurveyLinks("https://desk.example", b"x" * 32)
    for forged in (other.token(ticket), token[:-2] + "AA", "", "%%%", token + "A"):
        with pytest.raises(InvalidToken):
            LINKS.ticket_of(forged)
    with pytest.raises(ValueError):
        SurveyLinks("https://desk.example", b"short")


def test_our_message_ids_name_their_ticket_and_thread_an_answer() -> None:
    ticket = uuid4()
    ours = message_id(ticket, "reply.abc", "desk.example")
    assert ticket_of_message_id(ours) == ticket
    assert ticket_of_message_id("<someone@else.example>") is None
    answer = InboundEmail(
        message_id="<a@example.org>",
        sender="ada@example.org",
        subject="Re: thanks",
        body="ok",
        received_at=MONDAY_10,
        in_reply_to=(ours,),
    )
    assert next(answer.referenced_records()) == ticket


@pytest.mark.parametrize("address", ["ceo,x@evil.example", "a@x, b@y", "nobody", "A <a@x.y>"])
def test_mail_goes_to_one_mailbox_only(address: str) -> None:
    with pytest.raises(RuleViolation):
        single_address(address)
    assert single_address("ada@example.org") == "ada@example.org"


def test_a_forged_survey_link_is_not_found(client: TestClient) -> None:
    answered = client.post(f"/survey/{uuid4().hex}", json={"rating": 5})
    assert answered.status_code == 404
    assert answered.headers["content-type"] == "application/problem+json"


def test_the_survey_link_records_the_rating_once(
    application: ServiceDeskApplication, client: TestClient
) -> None:
    ticket = application.open_ticket(issued(), uuid4(), NEW).value
    survey = f"/survey/{ServiceDeskSettings().survey_links().token(ticket.id)}"
    assert client.post(survey, json={"rating": 5}).status_code == 409  # not resolved yet
    act(application, ticket.id, Ticket.resolve, resolution="Done")

    assert client.get(survey).json()["rated"] is False
    rated = client.post(survey, json={"rating": 4, "comment": "Quick"})
    again = client.post(survey, json={"rating": 4, "comment": "Quick"})
    changed = client.post(survey, json={"rating": 1})
    refused = client.post(survey, json={"rating": 9})

    assert (rated.status_code, rated.json()["rated"]) == (200, True)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert changed.status_code == 409
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "body.rating"
    view = application.get_ticket(ticket.id)
    assert (view.rating, view.rating_comment) == (4, "Quick")


def test_the_linked_page_rates_the_ticket_by_its_form(
    application: ServiceDeskApplication, client: TestClient
) -> None:
    ticket = application.open_ticket(issued(), uuid4(), NEW).value
    act(application, ticket.id, Ticket.resolve, resolution="Done")
    page = f"/survey/{ServiceDeskSettings().survey_links().token(ticket.id)}/form"

    shown = client.get(page)
    assert shown.status_code == 200 and ticket.reference in shown.text
    assert 'name="rating" value="5"' in shown.text
    unrated = client.post(page, data={"comment": "no rating"})
    assert unrated.json()["errors"][0]["field"] == "body.rating"
    thanked = client.post(page, data={"rating": "3", "comment": ""})

    assert thanked.status_code == 200 and "Thank you" in thanked.text
    assert application.get_ticket(ticket.id).rating == 3
    assert "rated already" in client.get(page).text
