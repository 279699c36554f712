"""Definitions of custom fields, kept per kind of record (people, organizations)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..domain import CustomFieldCatalog, FieldDefinition, RecordKind
from .commands import CommandRunner
from .views import Outcome


@dataclass(frozen=True)
class DefinedField:
    definition: FieldDefinition
    created: bool  # False: an existing field revised (or left as it was)
    catalog_version: int


class CustomFieldCommands(CommandRunner):
    def define_custom_field(
        self,
        kind: RecordKind,
        name: str,
        definition: Mapping[str, Any],
        *,
        expected_version: int | None,
    ) -> Outcome[DefinedField]:
        """Define the field, or revise it; defining it again as it is changes nothing (PUT)."""
        created = changed = False

        def decide(catalog: CustomFieldCatalog) -> None:
            nonlocal created, changed
            created = name not in catalog.definitions
            _, changed = catalog.define(name, definition)

        catalog, _ = self._run(
            lambda: self._catalog(kind) or CustomFieldCatalog.open(kind),
            replayed=lambda catalog: None,
            expected_version=expected_version,
            decide=decide,
        )
        defined = DefinedField(catalog.definitions[name], created, catalog.version)
        return Outcome(defined, replayed=not changed)

    def custom_fields(self, kind: RecordKind) -> tuple[int, list[FieldDefinition]]:
        """The catalog's version (0 before the first definition) and its fields by name."""
        catalog = self._catalog(kind)
        if catalog is None:
            return 0, []
        return catalog.version, sorted(catalog.definitions.values(), key=lambda d: d.name)
