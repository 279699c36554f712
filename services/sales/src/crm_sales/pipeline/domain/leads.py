"""The Lead aggregate: a prospective customer, from capture to conversion (or disqualification).

A lead is a data subject of its own: its contact details are personal data sealed with the lead's
key, so erasing the lead (or the customer it became) destroys the key and every stored copy goes
blind. After erasure those attributes read as None, which the state below tolerates.

Life cycle: new -> qualified -> converted, with disqualified reachable from new and qualified,
and a disqualified lead requalifiable when circumstances change. A converted or erased lead is
frozen: no command changes it any more, and behaviour no longer rescores it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from crm_platform.personal_data import personal_data

from ...shared.domain.errors import InvalidState, RuleViolation
from ...shared.domain.events import event_class
from ...shared.domain.values import (
    EVENT_TIME,
    NAME_MAX_LENGTH,
    NOTE_MAX_LENGTH,
    FieldValue,
    country_code,
    custom_fields,
    derived_id,
    member,
    normalize_email,
    normalize_phone,
    optional_text,
    positive_int,
    required_text,
)
from .partners import PartnerAttribution, PartnerDraft, PartnerLink, registration
from .scoring import CampaignResponse, Interaction, LeadProfile, Reason, RuleSet, Score

KIND = "lead"


class LeadStatus(StrEnum):
    NEW = "new"
    QUALIFIED = "qualified"
    DISQUALIFIED = "disqualified"
    CONVERTED = "converted"


class LeadSource(StrEnum):
    API = "api"
    WEB_FORM = "web_form"
    CAMPAIGN = "campaign"
    IMPORT = "import"
    REFERRAL = "referral"
    EVENT = "event"
    OTHER = "other"


class DisqualificationReason(StrEnum):
    NO_BUDGET = "no_budget"
    NO_NEED = "no_need"
    NO_AUTHORITY = "no_authority"
    BAD_TIMING = "bad_timing"
    UNREACHABLE = "unreachable"
    COMPETITOR = "competitor"
    DUPLICATE = "duplicate"
    SPAM = "spam"
    OTHER = "other"


@dataclass(frozen=True)
class Disqualification:
    reason: DisqualificationReason
    note: str | None
    disqualified_by: str
    disqualified_at: datetime


@dataclass(frozen=True)
class Conversion:
    customer_id: UUID
    new_customer: bool
    organization_id: UUID | None
    opportunity_id: UUID
    converted_by: str
    converted_at: datetime


# The details a lead update may set; the personal ones are sealed in the store.
UPDATABLE = (
    "given_name",
    "family_name",
    "email",
    "phone",
    "company",
    "title",
    "country",
    "industry",
    "company_size",
    "fields",
    "owner",
)


def _details(source: Mapping[str, Any]) -> dict[str, Any]:
    """Validated lead details (every UPDATABLE key of ``source``), as the events store them."""
    email = normalize_email(source.get("email"))
    phone = normalize_phone(source.get("phone"))
    if email is None and phone is None and source.get("customer_id") is None:
        raise RuleViolation("email", "give an e-mail address or a phone number")
    return {
        "name": {
            "given_name": optional_text("given_name", source.get("given_name"), NAME_MAX_LENGTH),
            "family_name": required_text("family_name", source["family_name"], NAME_MAX_LENGTH),
        },
        "email": email,
        "phone": phone,
        "company": optional_text("company", source.get("company")),
        "title": optional_text("title", source.get("title")),
        "country": country_code(source.get("country")),
        "industry": optional_text("industry", source.get("industry"), 100),
        "company_size": positive_int(source.get("company_size"), "company_size"),
        "fields": custom_fields(source.get("fields") or {}),
        "owner": optional_text("owner", source.get("owner")),
    }


class Lead(Aggregate):
    # Declared so the library accepts ids chosen by the caller (derived from idempotency keys).
    id: UUID

    @classmethod
    def capture(
        cls,
        lead_id: UUID,
        *,
        source: str,
        family_name: str,
        given_name: str | None = None,
        email: str | None = None,
        phone: str | None = None,
        company: str | None = None,
        title: str | None = None,
        country: str | None = None,
        industry: str | None = None,
        company_size: int | None = None,
        fields: Mapping[str, FieldValue] | None = None,
        owner: str | None = None,
        customer_id: UUID | None = None,
        campaign_id: UUID | None = None,
        response_id: UUID | None = None,
    ) -> Lead:
        details = _details(
            {
                "family_name": family_name,
                "given_name": given_name,
                "email": email,
                "phone": phone,
                "company": company,
                "title": title,
                "country": country,
                "industry": industry,
                "company_size": company_size,
                "fields": fields,
                "owner": owner,
                "customer_id": customer_id,
            }
        )
        lead: Lead = cls(
            id=lead_id,
            source=member(LeadSource, source, "source").value,
            customer_id=customer_id,
            campaign_id=campaign_id,
            response_id=response_id,
            **details,
        )
        return lead

    @event("Captured")
    def __init__(
        self,
        source: str,
        name: dict[str, str | None] | None,
        email: str | None,
        phone: str | None,
        company: str | None,
        title: str | None,
        country: str | None,
        industry: str | None,
        company_size: int | None,
        fields: dict[str, FieldValue],
        owner: str | None,
        customer_id: UUID | None,
        campaign_id: UUID | None,
        response_id: UUID | None,
    ) -> None:
        self.source = LeadSource(source)
        self.customer_id = customer_id
        self.campaign_id = campaign_id
        self.response_id = response_id
        self._assign_details(
            name, email, phone, company, title, country, industry, company_size, fields, owner
        )
        self.status = LeadStatus.NEW
        self.score: Score | None = None
        self.rule_set_revision: int | None = None
        self.interactions: dict[UUID, Interaction] = {}
        self.responses: dict[UUID, CampaignResponse] = {}
        self.qualified_by: str | None = None
        self.disqualification: Disqualification | None = None
        self.conversion: Conversion | None = None
        self.erased_at: datetime | None = None
        self.partner: PartnerLink | None = None
        self.unknown_customer_id: UUID | None = None

    def _assign_details(
        self,
        name: dict[str, str | None] | None,
        email: str | None,
        phone: str | None,
        company: str | None,
        title: str | None,
        country: str | None,
        industry: str | None,
        company_size: int | None,
        fields: dict[str, FieldValue],
        owner: str | None,
    ) -> None:
        # Personal values are only assigned: after erasure they arrive as None.
        self.name = name
        self.email = email
        self.phone = phone
        self.company = company
        self.title = title
        self.country = country
        self.industry = industry
        self.company_size = company_size
        self.fields = fields
        self.owner = owner

    @property
    def given_name(self) -> str | None:
        return self.name.get("given_name") if self.name else None

    @property
    def family_name(self) -> str | None:
        return self.name.get("family_name") if self.name else None

    @property
    def score_points(self) -> int:
        return self.score.points if self.score else 0

    @property
    def reasons(self) -> tuple[Reason, ...]:
        return self.score.reasons if self.score else ()

    @property
    def is_frozen(self) -> bool:
        return self.status is LeadStatus.CONVERTED or self.erased_at is not None

    # --- details --------------------------------------------------------------------------------

    def update(self, changes: Mapping[str, Any]) -> bool:
        """Set the given details (keys of UPDATABLE); False (no event) when nothing changes."""
        self._require_open()
        if unknown := sorted(set(changes) - set(UPDATABLE)):
            raise RuleViolation(unknown[0], "cannot be changed")
        current = {
            "given_name": self.given_name,
            "family_name": self.family_name,
            "email": self.email,
            "phone": self.phone,
            "company": self.company,
            "title": self.title,
            "country": self.country,
            "industry": self.industry,
            "company_size": self.company_size,
            "fields": self.fields,
            "owner": self.owner,
            "customer_id": self.customer_id,
        }
        details = _details({**current, **changes})
        flattened = {**details, **details["name"]}
        changed = [key for key in UPDATABLE if flattened[key] != current[key]]
        if not changed:
            return False
        self._updated(changed=changed, **details)
        return True

    @event("Updated")
    def _updated(
        self,
        changed: list[str],
        name: dict[str, str | None] | None,
        email: str | None,
        phone: str | None,
        company: str | None,
        title: str | None,
        country: str | None,
        industry: str | None,
        company_size: int | None,
        fields: dict[str, FieldValue],
        owner: str | None,
    ) -> None:
        self._assign_details(
            name, email, phone, company, title, country, industry, company_size, fields, owner
        )

    # --- partner --------------------------------------------------------------------------------

    def register_partner(self, draft: PartnerDraft, *, registered_by: str) -> bool:
        """Register the partner on the lead (replacing another); False when already there."""
        self._require_open()
        attribution = registration(self.partner, draft)
        if attribution is None:
            return False
        self._partner_registered(
            partner_id=draft.partner_id, attribution=attribution.value, registered_by=registered_by
        )
        return True

    @event("PartnerRegistered")
    def _partner_registered(
        self,
        partner_id: UUID,
        attribution: str,
        registered_by: str,
        timestamp: datetime = EVENT_TIME,
    ) -> None:
        self.partner = PartnerLink(
            partner_id, PartnerAttribution(attribution), registered_by, timestamp
        )

    # --- the customer named ---------------------------------------------------------------------

    @property
    def customer_known(self) -> bool:
        return self.unknown_customer_id is None

    def flag_customer_unknown(self) -> bool:
        """The lead names a customer no service has heard of; False when already flagged."""
        if self.customer_id is None or self.unknown_customer_id == self.customer_id:
            return False
        self._customer_flagged_unknown(customer_id=self.customer_id)
        return True

    @event("CustomerFlaggedUnknown")
    def _customer_flagged_unknown(self, customer_id: UUID) -> None:
        self.unknown_customer_id = customer_id

    def clear_customer_flag(self) -> bool:
        """The customer became known; False when the lead was not flagged."""
        if self.unknown_customer_id is None:
            return False
        self._customer_flag_cleared(customer_id=self.unknown_customer_id)
        return True

    @event("CustomerFlagCleared")
    def _customer_flag_cleared(self, customer_id: UUID) -> None:
        self.unknown_customer_id = None

    # --- qualification --------------------------------------------------------------------------

    def qualify(self, *, qualified_by: str) -> None:
        self._require_status(LeadStatus.NEW, LeadStatus.DISQUALIFIED, action="qualify")
        self._qualified(qualified_by=qualified_by, score=self.score_points)

    @event("Qualified")
    def _qualified(self, qualified_by: str, score: int) -> None:
        self.status = LeadStatus.QUALIFIED
        self.qualified_by = qualified_by
        self.disqualification = None

    def disqualify(self, *, reason: str, note: str | None, disqualified_by: str) -> None:
        self._require_status(LeadStatus.NEW, LeadStatus.QUALIFIED, action="disqualify")
        self._disqualified(
            reason=member(DisqualificationReason, reason, "reason").value,
            note=optional_text("note", note, NOTE_MAX_LENGTH),
            disqualified_by=disqualified_by,
        )

    @event("Disqualified")
    def _disqualified(
        self, reason: str, note: str | None, disqualified_by: str, timestamp: datetime = EVENT_TIME
    ) -> None:
        self.status = LeadStatus.DISQUALIFIED
        self.disqualification = Disqualification(
            DisqualificationReason(reason), note, disqualified_by, timestamp
        )

    # --- conversion -----------------------------------------------------------------------------

    def convert(
        self,
        *,
        converted_by: str,
        owner: str | None = None,
        customer_id: UUID | None = None,
        organization_id: UUID | None = None,
    ) -> Conversion:
        """Mark the lead converted into a customer (a known one, else a new one with an id
        derived from the lead's) and the opportunity whose id is derived from the lead's."""
        self._require_status(LeadStatus.NEW, LeadStatus.QUALIFIED, action="convert")
        known_customer = customer_id or self.customer_id
        self._converted(
            customer_id=known_customer or derived_id(self.id, "customer"),
            new_customer=known_customer is None,
            organization_id=organization_id,
            opportunity_id=self.opportunity_id,
            owner=owner or self.owner or converted_by,
            converted_by=converted_by,
            name=self.name,
            email=self.email,
            phone=self.phone,
            company=self.company,
            title=self.title,
        )
        assert self.conversion is not None
        return self.conversion

    @property
    def opportunity_id(self) -> UUID:
        """The opportunity a conversion opens (one per lead, so retries find it)."""
        return derived_id(self.id, "opportunity")

    @event("Converted")
    def _converted(
        self,
        customer_id: UUID,
        new_customer: bool,
        organization_id: UUID | None,
        opportunity_id: UUID,
        owner: str,
        converted_by: str,
        name: dict[str, str | None] | None,
        email: str | None,
        phone: str | None,
        company: str | None,
        title: str | None,
        timestamp: datetime = EVENT_TIME,
    ) -> None:
        # The contact details travel with the event, for contacts to register the customer.
        self.status = LeadStatus.CONVERTED
        self.customer_id = customer_id
        self.owner = owner
        self.conversion = Conversion(
            customer_id, new_customer, organization_id, opportunity_id, converted_by, timestamp
        )

    # --- behaviour and scoring ------------------------------------------------------------------

    def note_interaction(self, interaction: Interaction) -> bool:
        """Remember an interaction with the lead's customer; False when frozen or known."""
        known = self.interactions
        return self._noted(interaction.interaction_id, known, self._interaction_noted, interaction)

    @event("InteractionNoted")
    def _interaction_noted(
        self, interaction_id: UUID, channel: str, direction: str, occurred_at: datetime
    ) -> None:
        self.interactions[interaction_id] = Interaction(
            interaction_id, channel, direction, occurred_at
        )

    def note_response(self, response: CampaignResponse) -> bool:
        """Remember a campaign response of the lead; False when frozen or known."""
        return self._noted(response.response_id, self.responses, self._response_noted, response)

    @event("ResponseNoted")
    def _response_noted(
        self, response_id: UUID, campaign_id: UUID, kind: str, responded_at: datetime
    ) -> None:
        self.responses[response_id] = CampaignResponse(response_id, campaign_id, kind, responded_at)

    def _noted(
        self, key: UUID, known: Mapping[UUID, Any], record: Callable[..., None], behaviour: Any
    ) -> bool:
        """Record ``behaviour`` (its fields are the event's) unless frozen or known by ``key``."""
        if self.is_frozen or key in known:
            return False
        record(**asdict(behaviour))
        return True

    def profile(self) -> LeadProfile:
        email_domain = self.email.rpartition("@")[2] if self.email else None
        attributes: dict[str, object] = {
            "source": self.source.value,
            "country": self.country,
            "industry": self.industry,
            "company_size": self.company_size,
            "title": self.title,
            "company": self.company,
            "email": self.email,
            "email_domain": email_domain,
            "phone": self.phone,
            "campaign_id": str(self.campaign_id) if self.campaign_id else None,
            "customer_id": str(self.customer_id) if self.customer_id else None,
        }
        attributes |= {f"fields.{key}": value for key, value in self.fields.items()}
        return LeadProfile(
            attributes, tuple(self.interactions.values()), tuple(self.responses.values())
        )

    def rescore(self, rule_set: RuleSet) -> bool:
        """Score the lead with ``rule_set``; an event only when the score or its reasons change
        (and none once the lead is frozen)."""
        if self.is_frozen:
            return False
        score = rule_set.score(self.profile())
        if score == self.score:
            return False
        self._scored(
            points=score.points,
            reasons=list(score.reasons),
            previous=self.score.points if self.score else None,
            rule_set_revision=rule_set.revision,
        )
        return True

    @event("Scored")
    def _scored(
        self, points: int, reasons: list[Reason], previous: int | None, rule_set_revision: int
    ) -> None:
        self.score = Score(points, tuple(reasons))
        self.rule_set_revision = rule_set_revision

    # --- erasure --------------------------------------------------------------------------------

    def erase(self, *, customer_id: UUID | None = None) -> bool:
        """Record the erasure (the key is destroyed by the application); False if done before."""
        if self.erased_at is not None:
            return False
        self._erased(customer_id=customer_id)
        return True

    @event("Erased")
    def _erased(self, customer_id: UUID | None, timestamp: datetime = EVENT_TIME) -> None:
        self.erased_at = timestamp
        self.name = self.email = self.phone = self.company = self.title = None
        if self.disqualification is not None:
            self.disqualification = Disqualification(
                self.disqualification.reason,
                None,
                self.disqualification.disqualified_by,
                self.disqualification.disqualified_at,
            )

    # --- guards ---------------------------------------------------------------------------------

    def _require_open(self) -> None:
        if self.erased_at is not None:
            raise InvalidState(KIND, self.id, "was erased")
        if self.status is LeadStatus.CONVERTED:
            raise InvalidState(KIND, self.id, "was converted and can no longer change")

    def _require_status(self, *allowed: LeadStatus, action: str) -> None:
        self._require_open()
        if self.status not in allowed:
            raise InvalidState(KIND, self.id, f"cannot {action} a {self.status} lead")


personal_data(event_class(Lead, "Captured"), "name", "email", "phone", "company", "title")
personal_data(event_class(Lead, "Updated"), "name", "email", "phone", "company", "title")
personal_data(event_class(Lead, "Disqualified"), "note")
personal_data(event_class(Lead, "Converted"), "name", "email", "phone", "company", "title")
