"""Commands and queries on organizations: accounts, partners (PRM) and suppliers (SRM)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from ..domain import Organization, OrganizationNotFound, RecordKind, RuleViolation
from .commands import CommandRunner, by_command
from .views import OrganizationView, Outcome

# Organization trees are shallow; a longer chain of parents can only be a corrupt one.
MAX_DEPTH = 100


class OrganizationCommands(CommandRunner):
    def register_organization(
        self, organization_id: UUID, *, profile: Mapping[str, Any], request_fingerprint: str
    ) -> Outcome[OrganizationView]:
        """Register once per id; a retry with the same request gets the first answer back."""
        organization, replayed = self._register(
            Organization,
            organization_id,
            lambda: self.new_organization(
                organization_id, profile=profile, request_fingerprint=request_fingerprint
            ),
            request_fingerprint,
        )
        return Outcome(OrganizationView.of(organization), replayed)

    def new_organization(
        self, organization_id: UUID, *, profile: Mapping[str, Any], request_fingerprint: str
    ) -> Organization:
        """An organization to save (alone, or with other changes), under a known parent."""
        organization = Organization.register(
            organization_id,
            profile=profile,
            definitions=self.custom_field_definitions(RecordKind.ORGANIZATION),
            request_fingerprint=request_fingerprint,
        )
        parent = organization.profile.parent_id
        if parent is not None and not self._exists(parent, Organization):
            raise RuleViolation("parent_id", "no such organization")
        return organization

    def update_organization(
        self,
        organization_id: UUID,
        *,
        command_id: UUID,
        patch: Mapping[str, Any],
        expected_version: int | None,
        request_fingerprint: str,
    ) -> Outcome[OrganizationView]:
        """Change the organization by a JSON Merge Patch (RFC 7396)."""
        definitions = self.custom_field_definitions(RecordKind.ORGANIZATION)

        def decide(organization: Organization) -> None:
            organization.update_profile(
                command_id=command_id,
                patch=patch,
                definitions=definitions,
                request_fingerprint=request_fingerprint,
                ancestors=self._ancestors,
            )

        organization, replayed = self._run(
            lambda: self._organization(organization_id),
            replayed=by_command(command_id, request_fingerprint),
            expected_version=expected_version,
            decide=decide,
        )
        return Outcome(OrganizationView.of(organization), replayed)

    def get_organization(self, organization_id: UUID) -> OrganizationView:
        return OrganizationView.of(self._organization(organization_id))

    def _organization(self, organization_id: UUID) -> Organization:
        return self._get(organization_id, Organization, OrganizationNotFound)

    def _ancestors(self, organization_id: UUID) -> list[UUID]:
        """The organization's parent, its parent's parent...; ``parent_id`` if it is unknown."""
        if not self._exists(organization_id, Organization):
            raise RuleViolation("parent_id", "no such organization")
        chain: list[UUID] = []
        parent: UUID | None = organization_id
        while parent is not None and len(chain) < MAX_DEPTH:
            chain.append(parent)
            parent = self._organization(parent).profile.parent_id
        return chain
