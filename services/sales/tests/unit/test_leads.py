"""Rules of the Lead aggregate: capture, life cycle, conversion, behaviour, erasure."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_sales.pipeline.domain.leads import Lead, LeadStatus
from crm_sales.pipeline.domain.scoring import DEFAULT_RULES, CampaignResponse, Interaction, RuleSet
from crm_sales.shared.domain.errors import InvalidState, RuleViolation

pytestmark = pytest.mark.unit

RULES = RuleSet(1, DEFAULT_RULES)
KNOWN_CUSTOMER = UUID("0b6f2a52-8a0e-4d5c-9a27-6f3c1e9d4b10")


def capture(lead_id: UUID | None = None, **overrides: Any) -> Lead:
    details: dict[str, Any] = {
        "source": "api",
        "given_name": "Ada",
        "family_name": "Lovelace",
        "email": "ada@example.org",
        **overrides,
    }
    lead = Lead.capture(lead_id or uuid4(), **details)
    lead.collect_events()
    return lead


def interaction() -> Interaction:
    return Interaction(uuid4(), "email", "inbound", datetime.now(UTC))


def response() -> CampaignResponse:
    return CampaignResponse(uuid4(), uuid4(), "form_submission", datetime.now(UTC))


def in_status(status: LeadStatus) -> Lead:
    lead = capture()
    if status is LeadStatus.QUALIFIED:
        lead.qualify(qualified_by="bob")
    elif status is LeadStatus.DISQUALIFIED:
        lead.disqualify(reason="no_budget", note=None, disqualified_by="bob")
    elif status is LeadStatus.CONVERTED:
        lead.convert(converted_by="bob")
    lead.collect_events()
    return lead


def test_capture_normalizes_contact_details() -> None:
    lead = capture(
        email=" Ada@Example.ORG ",
        phone="0049 30 1234-567",
        country="gb",
        company="  Analytical Engines ",
        fields={"utm_source": "newsletter"},
    )

    assert (lead.email, lead.phone, lead.country) == ("ada@example.org", "+49301234567", "GB")
    assert lead.company == "Analytical Engines"
    assert lead.name == {"given_name": "Ada", "family_name": "Lovelace"}
    assert (lead.status, lead.score, lead.fields) == (
        LeadStatus.NEW,
        None,
        {"utm_source": "newsletter"},
    )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"family_name": "  "}, "family_name"),
        ({"family_name": "x" * 201}, "family_name"),
        ({"email": "ada.example.org"}, "email"),
        ({"email": None, "phone": None}, "email"),
        ({"phone": "030 1234567"}, "phone"),
        ({"country": "Germany"}, "country"),
        ({"company_size": 0}, "company_size"),
        ({"source": "carrier-pigeon"}, "source"),
        ({"fields": {"9lives": "x"}}, "fields.9lives"),
        ({"fields": {"note": "x" * 201}}, "fields.note"),
        ({"fields": {"nested": {"a": 1}}}, "fields.nested"),
    ],
)
def test_capture_refuses_bad_details_naming_the_field(
    overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(RuleViolation) as refused:
        capture(**overrides)
    assert refused.value.field == field


def test_a_known_customer_needs_no_contact_point_of_the_lead() -> None:
    lead = capture(email=None, customer_id=KNOWN_CUSTOMER)
    assert lead.customer_id == KNOWN_CUSTOMER


@pytest.mark.parametrize(
    ("status", "action", "allowed"),
    [
        (LeadStatus.NEW, "qualify", True),
        (LeadStatus.NEW, "disqualify", True),
        (LeadStatus.NEW, "convert", True),
        (LeadStatus.QUALIFIED, "qualify", False),
        (LeadStatus.QUALIFIED, "disqualify", True),
        (LeadStatus.QUALIFIED, "convert", True),
        (LeadStatus.DISQUALIFIED, "qualify", True),
        (LeadStatus.DISQUALIFIED, "disqualify", False),
        (LeadStatus.DISQUALIFIED, "convert", False),
        (LeadStatus.CONVERTED, "qualify", False),
        (LeadStatus.CONVERTED, "disqualify", False),
        (LeadStatus.CONVERTED, "convert", False),
    ],
)
def test_life_cycle(status: LeadStatus, action: str, allowed: bool) -> None:
    lead = in_status(status)
    act = {
        "qualify": lambda: lead.qualify(qualified_by="carol"),
        "disqualify": lambda: lead.disqualify(reason="spam", note=None, disqualified_by="carol"),
        "convert": lambda: lead.convert(converted_by="carol"),
    }[action]

    if allowed:
        act()
        assert lead.status is not status
    else:
        with pytest.raises(InvalidState):
            act()
        assert (lead.status, lead.pending_events) == (status, [])


def test_disqualification_keeps_reason_note_and_who() -> None:
    lead = capture()
    lead.disqualify(reason="competitor", note="Chose Difference Engines", disqualified_by="bob")

    assert lead.disqualification is not None
    assert (lead.disqualification.reason, lead.disqualification.note) == (
        "competitor",
        "Chose Difference Engines",
    )
    with pytest.raises(RuleViolation) as refused:
        capture().disqualify(reason="moon-phase", note=None, disqualified_by="bob")
    assert refused.value.field == "reason"


def test_conversion_derives_the_customer_and_opportunity_ids_from_the_lead() -> None:
    lead_id = uuid4()
    first, second = capture(lead_id=lead_id), capture(lead_id=lead_id)

    one = first.convert(converted_by="bob")
    other = second.convert(converted_by="carol", owner="dave")

    assert (one.customer_id, one.opportunity_id) == (other.customer_id, other.opportunity_id)
    assert one.new_customer and one.customer_id not in (lead_id, one.opportunity_id)
    assert (first.owner, second.owner) == ("bob", "dave")
    assert first.customer_id == one.customer_id


def test_a_lead_about_a_known_customer_converts_into_that_customer() -> None:
    conversion = capture(customer_id=KNOWN_CUSTOMER).convert(converted_by="bob")
    chosen = capture().convert(converted_by="bob", customer_id=KNOWN_CUSTOMER)

    assert (conversion.customer_id, conversion.new_customer) == (KNOWN_CUSTOMER, False)
    assert (chosen.customer_id, chosen.new_customer) == (KNOWN_CUSTOMER, False)


def test_the_converted_event_carries_the_contact_details_for_contacts() -> None:
    lead = capture(company="Analytical Engines", title="Head of Engineering")
    lead.convert(converted_by="bob")
    (converted,) = lead.collect_events()

    assert isinstance(converted, Lead.Converted)
    assert converted.name == {"given_name": "Ada", "family_name": "Lovelace"}
    assert (converted.email, converted.company, converted.title) == (
        "ada@example.org",
        "Analytical Engines",
        "Head of Engineering",
    )


def test_update_sets_only_what_changed() -> None:
    lead = capture()

    assert lead.update({"email": "ADA@example.org", "given_name": "Ada"}) is False
    assert lead.update({"phone": "+44 20 7123 4567", "owner": "bob"}) is True
    (updated,) = lead.collect_events()

    assert updated.changed == ["phone", "owner"]
    assert (lead.phone, lead.owner, lead.email) == ("+442071234567", "bob", "ada@example.org")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"email": None}, "email"),  # no contact point left
        ({"family_name": ""}, "family_name"),
        ({"source": "web_form"}, "source"),
        ({"status": "converted"}, "status"),
    ],
)
def test_update_refuses_bad_changes(changes: dict[str, Any], field: str) -> None:
    lead = capture()
    with pytest.raises(RuleViolation) as refused:
        lead.update(changes)
    assert refused.value.field == field
    assert lead.pending_events == []


def test_behaviour_is_noted_once_and_rescoring_happens_only_on_change() -> None:
    lead = capture(title="VP Sales")
    seen = interaction()

    assert lead.rescore(RULES) is True
    assert lead.rescore(RULES) is False
    assert lead.note_interaction(seen) is True
    assert lead.note_interaction(seen) is False
    assert lead.note_response(response()) is True
    assert lead.rescore(RULES) is True
    assert [r.rule_id for r in lead.reasons] == [
        "decision-maker",
        "has-email",
        "inbound-contact",
        "campaign-response",
    ]
    assert lead.score_points == sum(r.points for r in lead.reasons) == 35


ACTIONS = {
    "qualify": lambda lead: lead.qualify(qualified_by="x"),
    "disqualify": lambda lead: lead.disqualify(reason="spam", note=None, disqualified_by="x"),
    "convert": lambda lead: lead.convert(converted_by="x"),
    "update": lambda lead: lead.update({"company": "Elsewhere"}),
    "interaction": lambda lead: lead.note_interaction(interaction()),
    "response": lambda lead: lead.note_response(response()),
    "rescore": lambda lead: lead.rescore(RuleSet(2, ())),
}


@given(st.lists(st.sampled_from(sorted(ACTIONS)), max_size=12), st.booleans())
def test_a_converted_or_erased_lead_never_changes_again(actions: list[str], erase: bool) -> None:
    lead = in_status(LeadStatus.CONVERTED)
    if erase:
        lead.erase()
        lead.collect_events()
    before = (lead.version, lead.status, lead.score, lead.owner, dict(lead.interactions))

    for action in actions:
        try:
            assert not ACTIONS[action](lead)
        except InvalidState:
            pass

    assert lead.pending_events == []
    assert before == (lead.version, lead.status, lead.score, lead.owner, dict(lead.interactions))


def test_erasure_forgets_personal_details_and_freezes_the_lead() -> None:
    lead = in_status(LeadStatus.DISQUALIFIED)

    assert lead.erase(customer_id=KNOWN_CUSTOMER) is True
    assert lead.erase() is False
    assert (lead.name, lead.email, lead.phone, lead.company, lead.title) == (None,) * 5
    assert lead.disqualification is not None and lead.disqualification.note is None
    with pytest.raises(InvalidState):
        lead.qualify(qualified_by="bob")
