"""Seed demo data through the public APIs (idempotent: fixed Idempotency-Keys, safe to re-run).

People with contact points, consents and interactions (contacts); a lead captured, qualified,
converted, won, quoted, ordered, invoiced and paid (sales), which also registers its person in
contacts through `LeadConverted`; a support ticket (service desk). Then it waits for the analytics
customer 360 view of the first person.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from crm_platform.devtoken import issue_token

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


class Seeder:
    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def command(self, url: str, body: Any, key: str, method: str = "POST") -> Any:
        """A command with a fixed key: a re-run gets the first answer back."""
        response = self.http.request(method, url, json=body, headers={"Idempotency-Key": key})
        if response.status_code >= 400:
            raise SystemExit(f"{method} {url}: {response.status_code} {response.text}")
        return response.json()


def people(seed: Seeder) -> list[str]:
    ids = []
    for n, (given, family, email, phone) in enumerate(PEOPLE):
        body: dict[str, Any] = {
            "given_name": given,
            "family_name": family,
            "emails": [{"address": email}],
        }
        if phone:
            body["phones"] = [{"number": phone}]
        customer = seed.command(f"{CONTACTS}/customers", body, f"demo-customer-{n}")["id"]
        ids.append(customer)
        consent = {
            "channel": "email",
            "purpose": "marketing",
            "status": "granted",
            "source": "web_form",
            "decided_at": datetime(2026, 11, 1, 9, tzinfo=UTC).isoformat(),
        }
        seed.command(f"{CONTACTS}/customers/{customer}/consents", consent, f"demo-consent-{n}")
        for k, (channel, direction, summary) in enumerate(CONTACTS_MADE[: n + 1]):
            interaction = {
                "channel": channel,
                "direction": direction,
                "summary": summary,
                "occurred_at": (
                    datetime(2026, 11, 2, 9, tzinfo=UTC) + timedelta(days=k)
                ).isoformat(),
            }
            seed.command(
                f"{CONTACTS}/customers/{customer}/interactions",
                interaction,
                f"demo-contact-{n}-{k}",
            )
        print(f"demo customer {given} {family}: {CONTACTS}/customers/{customer}")
    return ids


def sale(seed: Seeder) -> None:
    lead_body = {
        "given_name": "Charles",
        "family_name": "Babbage",
        "email": "charles@example.org",
        "company": "Difference Engines Ltd",
        "title": "Founder",
    }
    lead = seed.command(f"{SALES}/leads", lead_body, "demo-lead")["id"]
    seed.command(f"{SALES}/leads/{lead}/qualify", None, "demo-lead-qualify")
    close = (date.today() + timedelta(days=30)).isoformat()
    converted = seed.command(
        f"{SALES}/leads/{lead}/convert",
        {
            "name": "Engines: 3 units",
            "amount": "3000.00",
            "currency": "EUR",
            "expected_close_date": close,
        },
        "demo-lead-convert",
    )["conversion"]
    opportunity = converted["opportunity_id"]
    for stage in STAGES:
        seed.command(
            f"{SALES}/opportunities/{opportunity}/stage", {"stage_id": stage}, f"demo-stage-{stage}"
        )
    seed.command(f"{SALES}/opportunities/{opportunity}/win", {"reason": "Best fit"}, "demo-win")
    product = seed.command(
        f"{SALES}/products",
        {
            "sku": "DEMO-ENGINE",
            "name": "Analytical engine",
            "unit": "each",
            "tax_category": "standard",
        },
        "demo-product",
    )["id"]
    prices = seed.command(
        f"{SALES}/price-lists",
        {"name": "Engines 2026", "currency": "EUR", "valid_from": "2026-01-01"},
        "demo-price-list",
    )["id"]
    seed.command(
        f"{SALES}/price-lists/{prices}/prices/{product}",
        {"unit_price": {"amount": "1000.00", "currency": "EUR"}},
        "demo-price",
        method="PUT",
    )
    seed.command(f"{SALES}/price-lists/{prices}/publish", None, "demo-price-list-publish")
    quote = seed.command(
        f"{SALES}/quotes",
        {
            "opportunity_id": opportunity,
            "customer_id": converted["customer_id"],
            "currency": "EUR",
            "price_list_id": prices,
            "valid_until": close,
            "tax_rates": {"standard": "20"},
            "lines": [{"product_id": product, "quantity": "3"}],
        },
        "demo-quote",
    )["id"]
    seed.command(f"{SALES}/quotes/{quote}/issue", None, "demo-quote-issue")
    seed.command(f"{SALES}/quotes/{quote}/accept", None, "demo-quote-accept")
    order = seed.command(f"{SALES}/orders", {"quote_id": quote}, "demo-order")["id"]
    invoice = seed.command(f"{SALES}/invoices", {"order_id": order}, "demo-invoice")["id"]
    payment = {
        "amount": {"amount": "3600.00", "currency": "EUR"},
        "method": "bank_transfer",
        "received_at": datetime(2026, 11, 20, 10, tzinfo=UTC).isoformat(),
    }
    seed.command(f"{SALES}/invoices/{invoice}/payments", payment, "demo-payment")
    print(f"demo sale, lead to paid invoice: {SALES}/invoices/{invoice}")


def ticket(seed: Seeder, customer: str) -> None:
    body = {
        "customer_id": customer,
        "subject": "Cannot download the March invoice",
        "description": "The link in the e-mail answers 404.",
        "priority": "high",
        "category": "problem",
    }
    opened = seed.command(f"{SERVICE_DESK}/tickets", body, "demo-ticket")
    print(f"demo ticket: {SERVICE_DESK}/tickets/{opened['id']}")


def main() -> None:
    token = issue_token(SCOPES, "demo-seeder")
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        seed = Seeder(http)
        customers = people(seed)
        sale(seed)
        ticket(seed, customers[0])
        deadline = time.monotonic() + 90  # the consumer groups join and catch up first
        view = f"{ANALYTICS}/customers/{customers[0]}/360"
        while time.monotonic() < deadline:
            if http.get(view).status_code == 200:
                print(f"its 360 view: {view}")
                return
            time.sleep(0.3)
        print("the analytics read model has not caught up yet; look at .local/logs/platform")


if __name__ == "__main__":
    main()
