"""Definitions of custom fields, kept per kind of record (people, organizations)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crm_platform.commands import Command, CommandRunner, Outcome
from crm_platform.privacy import ShreddingApplication

from ..domain import CustomFieldCatalog, FieldDefinition, RecordKind, catalog_id
from ..domain.custom_fields import Definitions


@dataclass(frozen=True)
class DefinedField:
    definition: FieldDefinition
    created: bool  # False: an existing field revised (or left as it was)
    version: int  # of the kind's catalog


class CustomFieldCommands(CommandRunner, ShreddingApplication):
    """The base of the contacts application's command mixins: people's personal data is sealed
    with keys of their own (``ShreddingApplication``), commands run on the platform's pipeline
    (``CommandRunner``), and records validate their custom fields against these definitions."""

    def define_custom_field(
        self, kind: RecordKind, name: str, definition: Mapping[str, Any], command: Command
    ) -> Outcome[DefinedField]:
        """Define the field, or revise it; defining it again as it is changes nothing (PUT)."""
        created = changed = False

        def define(catalog: CustomFieldCatalog) -> None:
            nonlocal created, changed
            created = name not in catalog.definitions
            _, changed = catalog.define(name, definition)

        catalog = self.execute(
            command,
            "custom fields",
            lambda: self._catalog(kind) or CustomFieldCatalog.open(kind),
            define,
        ).value
        defined = DefinedField(catalog.definitions[name], created, catalog.version)
        return Outcome(defined, replayed=not changed)

    def custom_fields(self, kind: RecordKind) -> tuple[int, list[FieldDefinition]]:
        """The catalog's version (0 before the first definition) and its fields by name."""
        catalog = self._catalog(kind)
        if catalog is None:
            return 0, []
        return catalog.version, sorted(catalog.definitions.values(), key=lambda d: d.name)

    def custom_field_definitions(self, kind: RecordKind) -> Definitions:
        catalog = self._catalog(kind)
        return {} if catalog is None else catalog.definitions

    def _catalog(self, kind: RecordKind) -> CustomFieldCatalog | None:
        return self.find(CustomFieldCatalog, catalog_id(kind))
