"""The customer file (family, important dates, tastes, custom fields) in rules and templates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from crm_events import registry
from crm_marketing.application import MarketingApplication
from crm_marketing.application.audience_index import _decoded, _encoded
from crm_marketing.application.templates import check, render
from crm_marketing.contracts import TOPICS
from crm_marketing.domain import (
    AutomatedSend,
    Automation,
    CampaignChannel,
    EmailContent,
    RuleViolation,
    parse_rule,
)
from crm_platform.web.testing import assert_problem

from ..feed import command
from . import test_api
from .test_api import post
from .test_translator import published

client = test_api.client  # the API's fixture, for this module's tests too

pytestmark = pytest.mark.unit

DEC_28 = datetime(2026, 12, 28, 9, tzinfo=UTC)
FILE = {
    "family_members": [
        {"name": "Grace Hopper", "relation": "spouse", "birthday": {"month": 1, "day": 4}},
        {"name": "Tim", "relation": "child", "birthday": None},
    ],
    "important_dates": [
        {"kind": "anniversary", "label": "Wedding", "date": {"month": 2, "day": 29, "year": 2000}}
    ],
    "preferences": {"language": "en", "other": {"Drink": "Red wine", "music": "Jazz"}},
    "custom_fields": {"budget": "250.50", "vip": True, "since": "2019-05-01", "size": "M"},
}


def condition(attribute: str, operator: str, value: Any) -> dict[str, Any]:
    return {"attribute": attribute, "operator": operator, "value": value}


def facts(feed: Any, application: MarketingApplication) -> Any:
    customer = feed.register(file=FILE)
    return application.profile(customer).attributes()


def holds(rule: dict[str, Any], attributes: Any, now: datetime = DEC_28) -> bool:
    return parse_rule(rule).holds(attributes, now)


def test_family_and_important_dates_drive_rules_across_the_new_year(feed, application) -> None:
    attributes = facts(feed, application)
    spouse = condition("family.spouse.birthday", "within_days", 7)
    assert holds(spouse, attributes)  # 4 January is 7 days after 28 December
    assert not holds({**spouse, "value": 6}, attributes)
    assert holds(condition("family.birthday", "within_days", 7), attributes)
    assert not holds(condition("family.child.birthday", "within_days", 366), attributes)
    born_today = application.profile(feed.register(birthday=(12, 28))).attributes()
    assert holds(condition("birthday", "within_days", 0), born_today)  # today is day 0
    # 29 February falls on the 28th in other years: 62 days after 28 December 2026.
    wedding = condition("important_date.anniversary", "within_days", 62)
    assert holds(wedding, attributes) and not holds({**wedding, "value": 61}, attributes)
    assert not holds(condition("important_date.custom", "within_days", 366), attributes)


def test_tastes_and_typed_custom_fields_drive_rules(feed, application) -> None:
    attributes = facts(feed, application)
    assert holds(condition("tastes.drink", "equals", "RED WINE"), attributes)
    assert holds(condition("tastes.Music", "in", ["rock", "jazz"]), attributes)
    # Numbers compare as numbers ("250.50" > "1000" as texts), dates as dates.
    assert holds(condition("custom.budget", "gt", 100), attributes)
    assert not holds(condition("custom.budget", "gt", "1000"), attributes)
    assert holds(condition("custom.budget", "equals", "250.5"), attributes)
    assert holds(condition("custom.since", "lt", "2020-01-01"), attributes)
    assert holds(condition("custom.vip", "equals", True), attributes)
    assert holds(condition("custom.size", "in", ["m", "l"]), attributes)
    # A value of another type never matches: a text is not greater than a number.
    assert not holds(condition("custom.size", "gt", 1), attributes)
    assert not holds(condition("custom.vip", "equals", "true"), attributes)
    assert not holds(condition("custom.missing", "equals", "x"), attributes)


def test_a_date_that_is_no_day_of_the_year_is_left_out(feed, application) -> None:
    odd = {"name": "Odd", "relation": "spouse", "birthday": {"month": 2, "day": 30}}
    customer = feed.register(file={"family_members": [odd], "preferences": {"other": {}}})
    profile = application.profile(customer)
    assert profile.family[0]["birthday"] is None
    assert "family.spouse.birthday" not in profile.attributes()


def test_the_index_keeps_the_customer_file_in_the_types_rules_compare(feed, application) -> None:
    attributes = facts(feed, application)
    kept = _decoded(_encoded(attributes).obj)  # type: ignore[union-attr]
    assert kept == attributes
    assert kept["custom.budget"] == "250.50" and kept["family.spouse.birthday"] == {"01-04"}


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        (condition("family.cousin.birthday", "within_days", 7), "rule.attribute"),
        (condition("important_date.holiday", "within_days", 7), "rule.attribute"),
        (condition("tastes", "equals", "x"), "rule.attribute"),
        (condition("tastes." + "x" * 200, "equals", "x"), "rule.attribute"),
        (condition("family.spouse.birthday", "gt", 7), "rule.operator"),
        (condition("family.spouse.birthday", "within_days", 367), "rule.value"),
        (condition("family.spouse.birthday", "within_days", True), "rule.value"),
        (condition("tastes.drink", "gt", "a"), "rule.operator"),
        (condition("custom.size", "contains", "m"), "rule.operator"),
        (condition("custom.budget", "gt", "lots"), "rule.value"),
        (condition("custom.budget", "gt", 1.5), "rule.value"),
        ({"any": [condition("custom.size", "in", ["m", None])]}, "rule.any.0.value.1"),
    ],
)
def test_a_bad_customer_file_rule_names_its_faulty_part(rule, field) -> None:
    with pytest.raises(RuleViolation) as refused:
        parse_rule(rule)
    assert refused.value.field == field


def test_the_api_refuses_a_bad_customer_file_rule_and_keeps_nothing(
    client: TestClient, application: MarketingApplication
) -> None:
    rule = {"all": [condition("family.spouse.birthday", "equals", "01-04")]}
    response = post(client, "/segments", {"name": "Spouses", "rule": rule})
    (error,) = assert_problem(response, 422)["errors"]
    assert error["field"] == "body.rule.all.0.operator"
    assert application.recorder.max_notification_id() in (None, 0)


GREETING = EmailContent(
    subject="{{ family.spouse.first_name }}'s birthday is on {{ family.spouse.birthday }}",
    html="<p>{% if tastes.drink %}A bottle of {{ tastes.drink }}?{% endif %}"
    "{{ tastes.cheese }}{% if custom.vip %} VIP{% endif %}</p>",
    text="Next: {{ next_important_date.label }} in {{ next_important_date.in_days }} days;"
    " parent known: {{ family.parent.known }}",
    links={},
    offer_links=(),
)


def test_templates_read_the_customer_file(feed, application) -> None:
    check(GREETING)
    customer = feed.register(file=FILE)
    profile = application.profile(customer)
    rendered = render(
        GREETING,
        given_name="Ada",
        family_name="Lovelace",
        link=lambda name: name,
        unsubscribe_url="u",
        customer_file=profile.template_values(DEC_28.date()),
    )
    assert rendered.subject == "Grace's birthday is on 2027-01-04"
    assert rendered.html == "<p>A bottle of Red wine? VIP</p>"
    assert rendered.text == "Next: Wedding in 62 days; parent known: False"


def test_a_customer_file_variable_that_does_not_exist_is_refused_when_drafting() -> None:
    with pytest.raises(RuleViolation) as refused:
        check(EmailContent("{{ family.cousin.name }}", "<p>x</p>", "x", {}, ()))
    assert refused.value.field == "content.subject"


def test_an_erased_profile_forgets_its_customer_file(feed, application) -> None:
    customer = feed.register(file=FILE)
    profile = application.profile(customer)
    assert profile.custom_fields["budget"] == "250.50"
    profile.erase(DEC_28)
    assert not (profile.family or profile.important_dates or profile.tastes)
    assert profile.attributes().get("custom.budget") is None


SPOUSE_SOON = Automation(
    "AnnualDate",
    timedelta(0),
    date="family.spouse.birthday",
    days_before=7,
    owner_task="Suggest a present for the spouse",
)


def test_a_spouse_s_birthday_in_7_days_schedules_a_greeting_and_an_owner_task_once_a_day(
    application, feed
) -> None:
    campaign_id = uuid4()
    application.draft_campaign(
        command(),
        campaign_id,
        name="Spouse's birthday",
        channel=CampaignChannel.EMAIL,
        purpose="marketing",
        segment_ids=[],
        content=GREETING,
        agents=[],
        automation=SPOUSE_SOON,
    )
    application.launch_campaign(command(), campaign_id)
    customer = feed.register(file=FILE)  # the spouse's birthday is 4 January
    feed.register()  # no family: nothing
    campaigns = application.annual_date_campaigns()

    assert application.celebrate(customer, DEC_28 - timedelta(days=1), campaigns) == 0
    assert application.celebrate(customer, DEC_28, campaigns) == 1
    assert application.celebrate(customer, DEC_28 + timedelta(hours=5), campaigns) == 0
    [identifier] = application.aggregate_ids(AutomatedSend.Scheduled)  # type: ignore[attr-defined]
    send = application.load("send", AutomatedSend, identifier)
    assert (send.customer_id, send.owner_task) == (customer, SPOUSE_SOON.owner_task)
    # Published for sales, where the customer's owner is known: only sends asking for a task.
    [requested] = [e for e in published(application) if e.type == "OwnerTaskRequested"]
    assert requested.data.topic() == "crm.marketing.automated-send.v1" in TOPICS
    assert (requested.data.send_id, requested.data.customer_id) == (identifier, customer)
    assert requested.data.subject == "Suggest a present for the spouse"
    assert registry.parse(requested.to_json()) == requested


@pytest.mark.parametrize(
    ("automation", "field"),
    [
        ({"trigger": "AnnualDate", "date": "tastes.wine"}, "body.automation.date"),
        ({"trigger": "AnnualDate"}, "body.automation.date"),
        (
            {"trigger": "AnnualDate", "date": "family.spouse.birthday", "days_before": 400},
            "body.automation.days_before",
        ),
        ({"trigger": "OrderPlaced", "days_before": 7}, "body.automation.date"),
    ],
)
def test_the_api_refuses_a_bad_annual_date_automation_and_keeps_nothing(
    client: TestClient, application: MarketingApplication, automation: dict[str, Any], field: str
) -> None:
    body = {
        "name": "Spouses",
        "channel": "email",
        "segment_ids": [],
        "content": {"subject": "Hi", "html": "<p>Hi</p>", "text": "Hi"},
        "automation": automation,
    }
    (error,) = assert_problem(post(client, "/campaigns", body), 422)["errors"]
    assert error["field"] == field
    assert application.recorder.max_notification_id() in (None, 0)
