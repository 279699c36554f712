"""Rules of the Opportunity aggregate: stages, probabilities, history, closing, risk."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from itertools import pairwise
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_sales.pipeline.domain.opportunities import Opportunity, OpportunityStatus
from crm_sales.pipeline.domain.pipelines import DEFAULT_STAGES, Pipeline
from crm_sales.shared.domain.errors import InvalidState, RuleViolation

pytestmark = pytest.mark.unit

PIPELINE = Pipeline.default()
ESCALATION = UUID("9a1c3e5a-7c9e-4b1d-8f3a-5c7e9a1c3e45")


def open_one(**overrides: Any) -> Opportunity:
    details: dict[str, Any] = {
        "name": "Acme: 50 seats",
        "pipeline": PIPELINE,
        "amount": Decimal("12000.00"),
        "currency": "eur",
        "expected_close_date": date(2025, 6, 30),
        "owner": "bob",
        "opened_by": "alice",
        **overrides,
    }
    opportunity = Opportunity.open(uuid4(), **details)
    opportunity.collect_events()
    return opportunity


def test_opens_in_the_first_stage_at_its_probability() -> None:
    opportunity = open_one()

    assert (opportunity.stage_id, opportunity.probability) == ("prospecting", 10)
    assert (opportunity.currency, opportunity.status) == ("EUR", OpportunityStatus.OPEN)
    (opened,) = opportunity.history
    assert (opened.from_stage_id, opened.to_stage_id, opened.changed_by) == (
        None,
        "prospecting",
        "alice",
    )


def test_opens_in_a_chosen_stage_and_probability() -> None:
    opportunity = open_one(stage_id="proposal", probability=55)
    assert (opportunity.stage_id, opportunity.probability) == ("proposal", 55)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": " "}, "name"),
        ({"amount": Decimal(-1)}, "amount"),
        ({"amount": Decimal("1e16")}, "amount"),
        ({"amount": Decimal("0.00001")}, "amount"),
        ({"amount": Decimal("NaN")}, "amount"),
        ({"currency": "EURO"}, "currency"),
        ({"probability": 101}, "probability"),
        ({"probability": -1}, "probability"),
        ({"stage_id": "won"}, "stage_id"),
        ({"stage_id": "nowhere"}, "stage_id"),
        ({"expected_close_date": date(1999, 12, 31)}, "expected_close_date"),
        ({"owner": ""}, "owner"),
    ],
)
def test_opening_refuses_bad_details_naming_the_field(
    overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(RuleViolation) as refused:
        open_one(**overrides)
    assert refused.value.field == field


def test_moving_records_who_from_where_to_where_at_which_probability() -> None:
    opportunity = open_one()

    assert opportunity.move_to(PIPELINE, "proposal", changed_by="carol") is True
    assert opportunity.move_to(PIPELINE, "proposal", changed_by="carol") is False
    assert opportunity.move_to(PIPELINE, "proposal", changed_by="carol", probability=70) is True

    assert [
        (c.from_stage_id, c.to_stage_id, c.probability, c.changed_by) for c in opportunity.history
    ] == [
        (None, "prospecting", 10, "alice"),
        ("prospecting", "proposal", 60, "carol"),
        ("proposal", "proposal", 70, "carol"),
    ]
    with pytest.raises(RuleViolation):
        opportunity.move_to(PIPELINE, "lost", changed_by="carol")


def test_winning_closes_it_for_good_at_the_final_amount() -> None:
    opportunity = open_one()
    opportunity.win(PIPELINE, won_by="bob", reason="Best fit", final_amount=Decimal("11500"))

    assert (opportunity.status, opportunity.stage_id, opportunity.probability) == (
        "won",
        "won",
        100,
    )
    assert opportunity.amount == Decimal("11500")
    assert opportunity.closing is not None and opportunity.closing.reason == "Best fit"
    for act in (
        lambda: opportunity.move_to(PIPELINE, "proposal", changed_by="bob"),
        lambda: opportunity.win(PIPELINE, won_by="bob"),
        lambda: opportunity.lose(PIPELINE, lost_by="bob", reason="price"),
        lambda: opportunity.update({"amount": Decimal(1)}),
    ):
        with pytest.raises(InvalidState):
            act()


def test_losing_needs_a_known_reason() -> None:
    opportunity = open_one(stage_id="negotiation")
    with pytest.raises(RuleViolation) as refused:
        opportunity.lose(PIPELINE, lost_by="bob", reason="bad luck")
    assert refused.value.field == "reason"

    opportunity.lose(PIPELINE, lost_by="bob", reason="competitor", competitor="Initech")
    assert (opportunity.status, opportunity.probability, opportunity.history[-1].from_stage_id) == (
        "lost",
        0,
        "negotiation",
    )


def test_update_changes_only_what_differs() -> None:
    opportunity = open_one()

    assert opportunity.update({"amount": Decimal("12000"), "currency": "EUR"}) is False
    assert opportunity.update({"amount": Decimal("13000"), "probability": 35}) is True
    (updated,) = opportunity.collect_events()
    assert updated.changed == ["amount", "probability"]
    with pytest.raises(RuleViolation) as refused:
        opportunity.update({"stage_id": "won"})
    assert refused.value.field == "stage_id"


def test_risk_is_flagged_once_per_cause_and_cleared() -> None:
    opportunity = open_one()

    assert opportunity.flag_at_risk(reason="ticket escalated", source_event_id=ESCALATION)
    assert not opportunity.flag_at_risk(reason="ticket escalated", source_event_id=ESCALATION)
    assert opportunity.at_risk
    assert opportunity.clear_risks(reason="resolved", cleared_by="bob")
    assert not opportunity.clear_risks(reason="resolved", cleared_by="bob")
    opportunity.win(PIPELINE, won_by="bob")
    assert not opportunity.flag_at_risk(reason="late escalation", source_event_id=uuid4())


OPEN_STAGES = [s.stage_id for s in DEFAULT_STAGES if s.is_open]
steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("move"),
            st.sampled_from([*OPEN_STAGES, "won", "nowhere"]),
            st.one_of(st.none(), st.integers(-5, 105)),
        ),
        st.tuples(st.just("probability"), st.integers(-5, 105)),
        st.tuples(st.just("flag"), st.uuids()),
        st.tuples(st.just("win"), st.none()),
        st.tuples(st.just("lose"), st.none()),
    ),
    max_size=15,
)


def apply(opportunity: Opportunity, step: tuple[Any, ...]) -> None:
    kind = step[0]
    if kind == "move":
        opportunity.move_to(PIPELINE, step[1], changed_by="x", probability=step[2])
    elif kind == "probability":
        opportunity.update({"probability": step[1]})
    elif kind == "flag":
        opportunity.flag_at_risk(reason="escalated", source_event_id=step[1])
    elif kind == "win":
        opportunity.win(PIPELINE, won_by="x")
    else:
        opportunity.lose(PIPELINE, lost_by="x", reason="price")


@given(steps)
def test_probability_stays_a_percentage_and_the_history_is_a_chain(
    sequence: list[tuple[Any, ...]],
) -> None:
    opportunity = open_one()
    for step in sequence:
        version = opportunity.version
        try:
            apply(opportunity, step)
        except (RuleViolation, InvalidState):
            assert opportunity.version == version  # a refusal changes nothing

        assert 0 <= opportunity.probability <= 100
        history = opportunity.history
        assert history[0].from_stage_id is None
        assert all(b.from_stage_id == a.to_stage_id for a, b in pairwise(history))
        assert history[-1].to_stage_id == opportunity.stage_id
        assert all(0 <= change.probability <= 100 for change in history)
        stage = PIPELINE.stage(opportunity.stage_id)
        assert stage.kind.value == (
            "open" if opportunity.status is OpportunityStatus.OPEN else opportunity.status.value
        )
        assert not (opportunity.at_risk and not opportunity.is_open)


def test_the_events_carry_what_the_published_contract_needs() -> None:
    account = uuid4()
    opportunity = open_one(account_id=account)
    opportunity.flag_at_risk(reason="escalated", source_event_id=ESCALATION)
    opportunity.move_to(PIPELINE, "negotiation", changed_by="carol")
    opportunity.win(PIPELINE, won_by="carol")
    flagged, moved, won = opportunity.collect_events()

    assert (flagged.account_id, flagged.source_event_id) == (account, ESCALATION)
    assert (moved.from_stage_id, moved.amount, moved.currency) == (
        "prospecting",
        Decimal("12000.00"),
        "EUR",
    )
    assert (won.stage.stage_id, won.owner, won.account_id, won.from_stage_id) == (
        "won",
        "bob",
        account,
        "negotiation",
    )
