"""Commands and queries on organizations: accounts, partners (PRM) and suppliers (SRM)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from crm_platform.commands import Command, Outcome

from ..domain import Organization, RecordKind, RuleViolation
from .custom_fields import CustomFieldCommands
from .views import OrganizationView

# Organization trees are shallow; a longer chain of parents can only be a corrupt one.
MAX_DEPTH = 100


class OrganizationCommands(CustomFieldCommands):
    def register_organization(
        self, command: Command, organization_id: UUID, *, profile: Mapping[str, Any]
    ) -> Outcome[OrganizationView]:
        """Register once per id (derived from the command's key): a retry gets the first answer."""
        outcome = self.create(
            command,
            "organization",
            lambda: [self.new_organization(organization_id, profile=profile)],
            made_before=lambda: self.find(Organization, organization_id),
        )
        return Outcome(self._organization_view(outcome.value), outcome.replayed)

    def new_organization(
        self, organization_id: UUID, *, profile: Mapping[str, Any]
    ) -> Organization:
        """An organization to save (alone, or with other changes), under a known parent."""
        organization = Organization.register(
            organization_id,
            profile=profile,
            definitions=self.custom_field_definitions(RecordKind.ORGANIZATION),
        )
        parent = organization.profile.parent_id
        if parent is not None and self.find(Organization, parent) is None:
            raise RuleViolation("parent_id", "no such organization")
        return organization

    def update_organization(
        self, organization_id: UUID, command: Command, *, patch: Mapping[str, Any]
    ) -> Outcome[OrganizationView]:
        """Change the organization by a JSON Merge Patch (RFC 7396)."""
        definitions = self.custom_field_definitions(RecordKind.ORGANIZATION)

        def update(organization: Organization) -> None:
            organization.update_profile(
                patch=patch, definitions=definitions, ancestors=self._ancestors
            )

        outcome = self.execute(
            command, "organization", lambda: self._organization(organization_id), update
        )
        return Outcome(self._organization_view(outcome.value), outcome.replayed)

    def get_organization(self, organization_id: UUID) -> OrganizationView:
        return self._organization_view(self._organization(organization_id))

    def _organization_view(self, organization: Organization) -> OrganizationView:
        definitions = self.custom_field_definitions(RecordKind.ORGANIZATION)
        return OrganizationView.of(organization, definitions)

    def _organization(self, organization_id: UUID) -> Organization:
        return self.load("organization", Organization, organization_id)

    def _ancestors(self, organization_id: UUID) -> list[UUID]:
        """The organization's parent, its parent's parent...; ``parent_id`` if it is unknown."""
        if self.find(Organization, organization_id) is None:
            raise RuleViolation("parent_id", "no such organization")
        chain: list[UUID] = []
        parent: UUID | None = organization_id
        while parent is not None and len(chain) < MAX_DEPTH:
            chain.append(parent)
            parent = self._organization(parent).profile.parent_id
        return chain
