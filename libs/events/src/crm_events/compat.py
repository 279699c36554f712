"""Backward compatibility of a published event schema with its next revision.

Within a major version a schema may only grow: new optional properties, new enum values, looser
constraints. Anything that makes the new schema reject data the old one accepted, or drop what it
described, breaks consumers and needs a new major version on a new topic. The rules understand the
JSON Schema that pydantic emits: local ``$ref`` into ``$defs``, ``anyOf`` unions, ``properties``,
``required``, ``additionalProperties``, ``items``, ``enum``/``const`` and the numeric and string
constraints.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

_UPPER_BOUNDS = ("maxLength", "maxItems", "maxProperties", "maximum", "exclusiveMaximum")
_LOWER_BOUNDS = ("minLength", "minItems", "minProperties", "minimum", "exclusiveMinimum")
_EXACT = ("pattern", "format", "multipleOf")
_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null"}


def breaking_changes(old_schema: Schema, new_schema: Schema) -> list[str]:
    """Why ``new_schema`` is not a backward-compatible revision of ``old_schema`` (empty if it is).

    Each entry names the location as a path into the instance, e.g. ``$.data.email``.
    """
    return _Comparison(old_schema, new_schema).compare(old_schema, new_schema, "$")


class _Comparison:
    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self._old_root, self._new_root = old_root, new_root
        self._open_refs: set[tuple[str, str]] = set()

    def compare(self, old: Schema, new: Schema, path: str) -> list[str]:
        refs = (old.get("$ref", ""), new.get("$ref", ""))
        if all(refs):
            if refs in self._open_refs:  # a recursive model: this pair is being compared already
                return []
            self._open_refs.add(refs)
        try:
            return self._compare_alternatives(old, new, path)
        finally:
            self._open_refs.discard(refs)

    def _compare_alternatives(self, old: Schema, new: Schema, path: str) -> list[str]:
        """Each old alternative must live on in a new one of the same type (the closest one)."""
        old_alternatives = _alternatives(old, self._old_root)
        new_alternatives = _alternatives(new, self._new_root)
        errors: list[str] = []
        uncovered = False
        for old_alt in old_alternatives:
            candidates: list[list[str]] = [
                self._compare_same_type(old_alt, new_alt, path)
                for new_alt in new_alternatives
                if _covers(_types(new_alt), _types(old_alt))
            ]
            uncovered = uncovered or not candidates
            closest: list[str] = min(candidates, key=len) if candidates else []
            errors += closest
        if uncovered:
            changed = f"from {_union(old_alternatives)} to {_union(new_alternatives)}"
            errors.insert(0, f"{path}: type changed {changed}")
        return errors

    def _compare_same_type(self, old: Schema, new: Schema, path: str) -> list[str]:
        return [
            *_enum_changes(old, new, path),
            *_constraint_changes(old, new, path),
            *self._object_changes(old, new, path),
            *self._additional_properties_changes(old, new, path),
            *self._items_changes(old, new, path),
        ]

    def _object_changes(self, old: Schema, new: Schema, path: str) -> list[str]:
        errors: list[str] = []
        new_properties = new.get("properties", {})
        for name, old_property in old.get("properties", {}).items():
            if name in new_properties:
                errors += self.compare(old_property, new_properties[name], f"{path}.{name}")
            else:
                errors.append(f"{path}.{name}: property removed")
        newly_required = set(new.get("required", [])) - set(old.get("required", []))
        return errors + [f"{path}.{name}: newly required" for name in sorted(newly_required)]

    def _additional_properties_changes(self, old: Schema, new: Schema, path: str) -> list[str]:
        return self._subschema_changes(
            old.get("additionalProperties", True),
            new.get("additionalProperties", True),
            f"{path}: additionalProperties",
            f"{path}.*",
        )

    def _items_changes(self, old: Schema, new: Schema, path: str) -> list[str]:
        return self._subschema_changes(
            old.get("items", True), new.get("items", True), f"{path}: items", f"{path}[]"
        )

    def _subschema_changes(
        self, old: bool | Schema, new: bool | Schema, what: str, path: str
    ) -> list[str]:
        if new is False:
            return [] if old is False else [f"{what} changed from allowed to forbidden"]
        if old is False or new is True:  # nothing was allowed before, or anything is allowed now
            return []
        return self.compare(_as_schema(old), new, path)


def _enum_changes(old: Schema, new: Schema, path: str) -> list[str]:
    old_values, new_values = _allowed_values(old), _allowed_values(new)
    if new_values is None:
        return []
    if old_values is None:
        return [f"{path}: values newly restricted to {new_values!r}"]
    removed = [value for value in old_values if value not in new_values]
    return [f"{path}: enum values removed: {removed!r}"] if removed else []


def _constraint_changes(old: Schema, new: Schema, path: str) -> list[str]:
    errors = []
    for keyword in _UPPER_BOUNDS:
        before, after = old.get(keyword), new.get(keyword)
        if after is not None and (before is None or after < before):
            errors.append(f"{path}: {keyword} lowered from {_bound(before)} to {after}")
    for keyword in _LOWER_BOUNDS:
        before, after = old.get(keyword), new.get(keyword)
        if after is not None and (before is None or after > before):
            errors.append(f"{path}: {keyword} raised from {_bound(before)} to {after}")
    for keyword in _EXACT:
        if keyword in new and new[keyword] != old.get(keyword):
            errors.append(
                f"{path}: {keyword} changed from {old.get(keyword)!r} to {new[keyword]!r}"
            )
    return errors


def _bound(value: Any) -> str:
    return "none" if value is None else str(value)


def _resolve(schema: Schema, root: Schema) -> Schema:
    """Inline local ``$ref`` (and one-element ``allOf``); sibling keywords override the target."""
    while "$ref" in schema or len(schema.get("allOf", ())) == 1:
        if "$ref" in schema:
            target = _pointer(root, schema["$ref"])
            rest = {k: v for k, v in schema.items() if k != "$ref"}
        else:
            target = schema["allOf"][0]
            rest = {k: v for k, v in schema.items() if k != "allOf"}
        schema = {**_resolve(target, root), **rest}
    return schema


def _pointer(root: Schema, ref: str) -> Schema:
    if not ref.startswith("#"):
        raise ValueError(f"only local references are supported, not {ref!r}")
    node: Any = root
    for token in ref[1:].split("/")[1:]:
        node = node[token.replace("~1", "/").replace("~0", "~")]
    found: dict[str, Any] = node
    return found


def _alternatives(schema: Schema, root: Schema) -> list[Schema]:
    """The branches of a union (``anyOf``/``oneOf``, flattened), else the schema itself."""
    schema = _resolve(schema, root)
    branches = schema.get("anyOf") or schema.get("oneOf")
    if not branches:
        return [schema]
    return [alt for branch in branches for alt in _alternatives(branch, root)]


def _types(schema: Schema) -> frozenset[str] | None:
    """JSON types a schema admits; ``None`` for any type."""
    declared = schema.get("type")
    if isinstance(declared, str):
        return frozenset([declared])
    if declared is not None:
        return frozenset(declared)
    values = _allowed_values(schema)
    if values is None:
        return None
    return frozenset(
        _JSON_TYPES.get(type(v), "array" if isinstance(v, list) else "object") for v in values
    )


def _covers(new: frozenset[str] | None, old: frozenset[str] | None) -> bool:
    if new is None:
        return True
    if old is None:
        return False
    return all(t in new or (t == "integer" and "number" in new) for t in old)


def _allowed_values(schema: Schema) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    return schema.get("enum")


def _union(alternatives: list[Schema]) -> str:
    names: set[str] = set()
    for alt in alternatives:
        types = _types(alt)
        if types is None:
            return "any"
        names |= types
    return "|".join(sorted(names))


def _as_schema(value: bool | Schema) -> Schema:
    """``true`` as the schema that accepts anything (the callers handle ``false``)."""
    return {} if value is True else value  # type: ignore[return-value]
