"""Seed demo data through the public APIs; safe to run again whatever happened to the records.

People with contact points, consents and interactions (contacts); a lead captured, qualified,
converted, won, quoted, ordered, invoiced and paid (sales), which also registers its person in
contacts through `LeadConverted`; a support ticket (service desk). Then it waits for the analytics
customer 360 view of the first person.

Every command has a fixed Idempotency-Key, so a run after the first one gets the first answers
back and creates nothing. People use the demo too, though: they erase the demo people, retire the
demo product, lose or close the deal. A step that meets a record in a state it does not apply to
(409), or a record that is gone (404, 410), is handled by what it is:

- a step of a record's life (qualify, move a stage, win, publish, issue, pay...) leaves the record
  as it is: someone moved it on, which is fine for a demo;
- a record the rest needs (a person, the lead, its quote, order or invoice) that cannot be used any
  more makes the seed create that part of the demo afresh under new keys (``demo-lead.1``...),
  at most three times, and the next runs reuse that one.

Nothing it meets stops `make up`; what it left as it was is listed at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import httpx

from crm_platform.devtoken import issue_token

T = TypeVar("T")
CONTACTS, SALES = "http://127.0.0.1:8001", "http://127.0.0.1:8002"
SERVICE_DESK, ANALYTICS = "http://127.0.0.1:8004", "http://127.0.0.1:8005"
SCOPES = [
    "contacts:write",
    "contacts:read",
    "sales:write",
    "sales:read",
    "service-desk:write",
    "service-desk:read",
    "analytics:read",
]
PEOPLE = [
    ("Ada", "Lovelace", "ada@example.org", "+44 20 7946 0001"),
    ("Grace", "Hopper", "grace@example.org", "+1 202 555 0147"),
    ("Alan", "Turing", "alan@example.org", None),
]
CONTACTS_MADE = [
    ("phone", "inbound", "Asked about the March invoice"),
    ("email", "outbound", "Sent the product brochure"),
    ("meeting", "outbound", "Demo of the new release at their office"),
]
STAGES = ("qualification", "proposal", "negotiation")
MOVED_ON = (404, 409, 410)
GENERATIONS = 3


class MovedOn(Exception):
    """A record is in a state the command does not apply to (409), is gone (404, 410), or its
    key was used by another version of this script (422 on the Idempotency-Key)."""


class Seeder:
    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.left_as_is: list[str] = []

    def command(self, url: str, body: Any, key: str, method: str = "POST") -> Any:
        """A command with a fixed key: a re-run gets the first answer back."""
        response = self.http.request(method, url, json=body, headers={"Idempotency-Key": key})
        if response.status_code in MOVED_ON or key_reused(response):
            raise MovedOn(f"{method} {url}: {response.status_code} {problem(response)}")
        if response.status_code >= 400:
            raise SystemExit(f"{method} {url}: {response.status_code} {response.text}")
        return response.json()

    def get(self, url: str) -> Any:
        """A record as it is now (a replayed command answers it as it was then)."""
        response = self.http.get(url)
        if response.status_code in MOVED_ON:
            raise MovedOn(f"GET {url}: {response.status_code} {problem(response)}")
        response.raise_for_status()
        return response.json()

    def step(self, url: str, body: Any, key: str, method: str = "POST") -> Any | None:
        """A step of a record's life; a record someone moved on is left as it is (None)."""
        try:
            return self.command(url, body, key, method)
        except MovedOn as moved:
            self.left_as_is.append(str(moved))
            return None

    def afresh(self, what: str, make: Callable[[str], T]) -> T | None:
        """``make(suffix)`` under keys ending in ``suffix``: "" first, then ".1", ".2" while a
        record it needs was moved on (None when even those were)."""
        for generation in range(GENERATIONS):
            suffix = f".{generation}" if generation else ""
            try:
                return make(suffix)
            except MovedOn as moved:
                self.left_as_is.append(f"{what}{suffix}: {moved}; making a new one")
        self.left_as_is.append(f"{what}: given up after {GENERATIONS} attempts")
        return None


def problem(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", ""))[:200]
    except ValueError:
        return response.text[:200]


def key_reused(response: httpx.Response) -> bool:
    if response.status_code != 422:
        return False
    errors = response.json().get("errors", [])
    return any(error.get("field") == "header.Idempotency-Key" for error in errors)


def person(seed: Seeder, n: int, suffix: str) -> str:
    given, family, email, phone = PEOPLE[n]
    body: dict[str, Any] = {
        "given_name": given,
        "family_name": family,
        "emails": [{"address": email}],
    }
    if phone:
        body["phones"] = [{"number": phone}]
    customer = seed.command(f"{CONTACTS}/customers", body, f"demo-customer-{n}{suffix}")["id"]
    consent = {
        "channel": "email",
        "purpose": "marketing",
        "status": "granted",
        "source": "web_form",
        "decided_at": datetime(2026, 11, 1, 9, tzinfo=UTC).isoformat(),
    }
    seed.step(f"{CONTACTS}/customers/{customer}/consents", consent, f"demo-consent-{n}{suffix}")
    for k, (channel, direction, summary) in enumerate(CONTACTS_MADE[: n + 1]):
        interaction = {
            "channel": channel,
            "direction": direction,
            "summary": summary,
            "occurred_at": (datetime(2026, 11, 2, 9, tzinfo=UTC) + timedelta(days=k)).isoformat(),
        }
        url = f"{CONTACTS}/customers/{customer}/interactions"
        seed.step(url, interaction, f"demo-contact-{n}-{k}{suffix}")
    print(f"demo customer {given} {family}: {CONTACTS}/customers/{customer}")
    return customer


def people(seed: Seeder) -> list[str]:
    found = [seed.afresh(f"demo customer {n}", lambda s, n=n: person(seed, n, s)) for n in range(3)]
    return [customer for customer in found if customer is not None]


def converted_lead(seed: Seeder, s: str) -> tuple[dict[str, Any], date]:
    """The demo lead converted (an opportunity and its customer), and its close date: 30 days
    after the lead was captured, so that every re-run sends the same bodies."""
    body = {
        "given_name": "Charles",
        "family_name": "Babbage",
        "email": "charles@example.org",
        "company": "Difference Engines Ltd",
        "title": "Founder",
    }
    lead = seed.command(f"{SALES}/leads", body, f"demo-lead{s}")
    close = datetime.fromisoformat(lead["captured_at"]).date() + timedelta(days=30)
    if lead["conversion"] is None:
        seed.step(f"{SALES}/leads/{lead['id']}/qualify", None, f"demo-lead-qualify{s}")
        deal = {
            "name": "Engines: 3 units",
            "amount": "3000.00",
            "currency": "EUR",
            "expected_close_date": close.isoformat(),
        }
        url = f"{SALES}/leads/{lead['id']}/convert"
        lead = seed.command(url, deal, f"demo-lead-convert{s}")
    return lead["conversion"], close


def priced_product(seed: Seeder, s: str) -> tuple[str, str]:
    """The demo product and a published price list pricing it. A list once published never
    changes, so a product retired since keeps its price there; a list still in draft needs the
    product active."""
    product = {
        "sku": f"DEMO-ENGINE{s.replace('.', '-')}",
        "name": "Analytical engine",
        "unit": "each",
        "tax_category": "standard",
    }
    product_id = seed.command(f"{SALES}/products", product, f"demo-product{s}")["id"]
    prices = {"name": f"Engines 2026{s}", "currency": "EUR", "valid_from": "2026-01-01"}
    prices_id = seed.command(f"{SALES}/price-lists", prices, f"demo-price-list{s}")["id"]
    if seed.get(f"{SALES}/price-lists/{prices_id}")["status"] != "published":
        if (status := seed.get(f"{SALES}/products/{product_id}")["status"]) != "active":
            raise MovedOn(f"product {product_id} is {status}, its price list still a draft")
        price = {"unit_price": {"amount": "1000.00", "currency": "EUR"}}
        url = f"{SALES}/price-lists/{prices_id}/prices/{product_id}"
        seed.step(url, price, f"demo-price{s}", "PUT")
        seed.step(f"{SALES}/price-lists/{prices_id}/publish", None, f"demo-price-list-publish{s}")
    return product_id, prices_id


def sale(seed: Seeder, s: str) -> str:
    """The demo deal from lead to paid invoice; the invoice's URL."""
    conversion, close = converted_lead(seed, s)
    opportunity = conversion["opportunity_id"]
    for stage in STAGES:
        url = f"{SALES}/opportunities/{opportunity}/stage"
        seed.step(url, {"stage_id": stage}, f"demo-stage-{stage}{s}")
    seed.step(f"{SALES}/opportunities/{opportunity}/win", {"reason": "Best fit"}, f"demo-win{s}")
    product, prices = priced_product(seed, s)
    quote_body = {
        "opportunity_id": opportunity,
        "customer_id": conversion["customer_id"],
        "currency": "EUR",
        "price_list_id": prices,
        "valid_until": close.isoformat(),
        "tax_rates": {"standard": "20"},
        "lines": [{"product_id": product, "quantity": "3"}],
    }
    quote = seed.command(f"{SALES}/quotes", quote_body, f"demo-quote{s}")["id"]
    seed.step(f"{SALES}/quotes/{quote}/issue", None, f"demo-quote-issue{s}")
    seed.step(f"{SALES}/quotes/{quote}/accept", None, f"demo-quote-accept{s}")
    order = seed.command(f"{SALES}/orders", {"quote_id": quote}, f"demo-order{s}")["id"]
    invoice = seed.command(f"{SALES}/invoices", {"order_id": order}, f"demo-invoice{s}")["id"]
    payment = {
        "amount": {"amount": "3600.00", "currency": "EUR"},
        "method": "bank_transfer",
        "received_at": datetime(2026, 11, 20, 10, tzinfo=UTC).isoformat(),
    }
    seed.step(f"{SALES}/invoices/{invoice}/payments", payment, f"demo-payment{s}")
    return f"{SALES}/invoices/{invoice}"


def ticket(seed: Seeder, customer: str, s: str) -> str:
    body = {
        "customer_id": customer,
        "subject": "Cannot download the March invoice",
        "description": "The link in the e-mail answers 404.",
        "priority": "high",
        "category": "problem",
    }
    opened = seed.command(f"{SERVICE_DESK}/tickets", body, f"demo-ticket{s}")
    return f"{SERVICE_DESK}/tickets/{opened['id']}"


def wait_for_360(http: httpx.Client, customer: str) -> None:
    deadline = time.monotonic() + 90  # the consumer groups join and catch up first
    view = f"{ANALYTICS}/customers/{customer}/360"
    while time.monotonic() < deadline:
        if http.get(view).status_code == 200:
            print(f"its 360 view: {view}")
            return
        time.sleep(0.3)
    print("the analytics read model has not caught up yet; look at .local/logs/platform")


def main() -> None:
    token = issue_token(SCOPES, "demo-seeder")
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        seed = Seeder(http)
        customers = people(seed)
        if invoice := seed.afresh("demo sale", lambda s: sale(seed, s)):
            print(f"demo sale, lead to paid invoice: {invoice}")
        if customers:
            if opened := seed.afresh("demo ticket", lambda s: ticket(seed, customers[0], s)):
                print(f"demo ticket: {opened}")
            wait_for_360(http, customers[0])
        if seed.left_as_is:
            print("demo records someone had moved on (left as they were, or made afresh):")
            print("\n".join(f"  {line}" for line in seed.left_as_is))


if __name__ == "__main__":
    main()
