"""Seed a little demo data through the public APIs (idempotent: fixed Idempotency-Keys)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx

from crm_platform.devtoken import issue_token

CONTACTS, ANALYTICS = "http://127.0.0.1:8001", "http://127.0.0.1:8005"
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


def main() -> None:
    token = issue_token(["contacts:write", "contacts:read", "analytics:read"], "demo-seeder")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(headers=headers, timeout=10) as http:
        for n, (given, family, email, phone) in enumerate(PEOPLE):
            body = {"given_name": given, "family_name": family, "email": email, "phone": phone}
            created = http.post(
                f"{CONTACTS}/customers",
                json=body,
                headers={"Idempotency-Key": f"demo-customer-{n}"},
            )
            created.raise_for_status()
            customer = created.json()["id"]
            for k, (channel, direction, summary) in enumerate(CONTACTS_MADE[: n + 1]):
                interaction = {
                    "channel": channel,
                    "direction": direction,
                    "summary": summary,
                    "occurred_at": (
                        datetime(2026, 11, 2, 9, tzinfo=UTC) + timedelta(days=k)
                    ).isoformat(),
                }
                http.post(
                    f"{CONTACTS}/customers/{customer}/interactions",
                    json=interaction,
                    headers={"Idempotency-Key": f"demo-contact-{n}-{k}"},
                ).raise_for_status()
            print(f"demo customer {given} {family}: {customer}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if http.get(f"{ANALYTICS}/customers/{customer}/360").status_code == 200:
                print(f"its 360 view: {ANALYTICS}/customers/{customer}/360")
                return
            time.sleep(0.3)
        print("the analytics read model has not caught up yet; look at .local/logs/platform")


if __name__ == "__main__":
    main()
