"""Delivering other services' events to marketing as its consumers would: unit and integration
tests alike (with an in-memory keyring or the real one in PostgreSQL)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID, uuid4

from eventsourcing.persistence import Tracking

from crm_events import Event, EventData, build_event
from crm_events.contacts import ConsentGranted, ConsentWithdrawn, CustomerRegisteredV2
from crm_events.personal import Sealed
from crm_marketing.application import MarketingApplication
from crm_marketing.domain import CampaignChannel, EmailContent
from crm_marketing.messaging import learn
from crm_platform.commands import Command

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


class SealingKeyring(Protocol):
    """A keyring the reactions open personal data with, which also seals it for a person the
    way contacts does (with that person's key)."""

    def unseal_sync(self, sealed: Sealed | None) -> Any: ...

    def seal(self, value: Any, subject: UUID) -> Sealed: ...


class Feed:
    """Delivers integration events to the application as the worker's consumer would, each at
    the next offset of one partition."""

    def __init__(self, application: MarketingApplication, keyring: SealingKeyring) -> None:
        self.application = application
        self.keyring = keyring
        self.offsets = itertools.count()
        self.versions: dict[UUID, int] = {}

    def event(self, data: EventData, aggregate_id: UUID) -> Event[Any]:
        version = self.versions[aggregate_id] = self.versions.get(aggregate_id, 0) + 1
        return build_event(data, aggregate_id=aggregate_id, aggregate_version=version, time=NOW)

    def deliver(self, event: Event[Any], offset: int | None = None) -> Tracking:
        position = Tracking("test|topic|0", (next(self.offsets) if offset is None else offset) + 1)
        learn(self.application, self.keyring, event, position)
        return position

    def send(self, data: EventData, aggregate_id: UUID) -> Tracking:
        return self.deliver(self.event(data, aggregate_id))

    def register(
        self,
        customer_id: UUID | None = None,
        *,
        email: str | None = "ada@example.org",
        region: str | None = "EMEA",
        tags: list[str] | None = None,
        given_name: str = "Ada",
        birthday: tuple[int, int] | None = None,
        file: dict[str, Any] | None = None,
    ) -> UUID:
        """``file``: more of the customer file, as contacts publishes it (family_members,
        important_dates, preferences, custom_fields), sealed here."""
        customer_id = customer_id or uuid4()
        seal_for = lambda value: self.keyring.seal(value, customer_id)  # noqa: E731
        emails = [{"address": email, "type": "work", "primary": True}] if email else []
        addresses = [
            {
                "lines": ["1 Main St"],
                "locality": "Town",
                "region": region,
                "postal_code": None,
                "country": "GB",
                "type": "home",
                "primary": True,
            }
        ]
        self.send(
            CustomerRegisteredV2(
                customer_id=customer_id,
                given_name=seal_for(given_name),
                family_name=seal_for("Lovelace"),
                emails=seal_for(emails),
                addresses=seal_for(addresses),
                tags=seal_for(tags or []),
                important_dates=seal_for(
                    [
                        {
                            "kind": "birthday",
                            "label": None,
                            "date": {"month": birthday[0], "day": birthday[1], "year": 1990},
                        }
                    ]
                    if birthday
                    else []
                ),
                origin="api",
                registered_at=NOW,
            ).model_copy(update={k: seal_for(v) for k, v in (file or {}).items()}),
            customer_id,
        )
        return customer_id

    def consent(
        self,
        customer_id: UUID,
        *,
        granted: bool = True,
        channel: str = "email",
        purpose: str = "marketing",
        decided_at: datetime = NOW,
    ) -> Tracking:
        model = ConsentGranted if granted else ConsentWithdrawn
        return self.send(
            model(
                customer_id=customer_id,
                decision_id=uuid4(),
                channel=channel,
                purpose=purpose,
                source="web_form",
                decided_at=decided_at,
            ),
            customer_id,
        )


def command(actor: str = "it") -> Command:
    """A command as the API issues one: a fresh key, the fingerprint of a body, its actor."""
    return Command(uuid4(), "f", actor)


def launch_to(
    app: MarketingApplication, *customers: UUID, now: datetime, content: Any = None
) -> UUID:
    """An e-mail campaign launched at a segment of ``customers`` added by hand (the tests that
    save their profiles straight through the aggregate, bypassing the consumers)."""
    segment = app.define_segment(command(), uuid4(), name="List", rule=None).value
    for customer in customers:
        segment.add_by_hand(customer, now)
    app.save(segment)
    campaign_id = uuid4()
    app.draft_campaign(
        command(),
        campaign_id,
        name="IT",
        channel=CampaignChannel.EMAIL,
        purpose="marketing",
        segment_ids=[segment.id],
        content=content or EmailContent("Hello", "<p>Hello</p>", "Hello", {}, ()),
        agents=[],
    )
    app.launch_campaign(command(), campaign_id)
    return campaign_id
