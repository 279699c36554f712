"""Value objects to JSON values and back, for the fields of domain events.

Domain events hold plain JSON values (str, int, bool, lists, objects), never value objects:
a personal field is then sealed whole, and stored events never name a Python class. Decoding is
driven by the value object's type hints. ``None`` decodes to the type's empty value, because
personal fields come back as ``None`` once their subject's key was destroyed (erasure).
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from functools import cache
from typing import Any, Union, get_args, get_origin, get_type_hints
from uuid import UUID

_FROM_TEXT: dict[type, Any] = {
    UUID: UUID,
    Decimal: Decimal,
    date: date.fromisoformat,
    time: time.fromisoformat,
    datetime: datetime.fromisoformat,
}


def to_json(value: Any) -> Any:
    """The JSON value of ``value`` (value objects, enums, dates, ids, decimals, collections)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, date | time):  # datetime is a date
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    raise TypeError(f"no JSON form for {type(value).__name__}")


def from_json(kind: Any, raw: Any) -> Any:
    """The value of type ``kind`` whose JSON value is ``raw`` (the inverse of ``to_json``)."""
    origin, args = get_origin(kind), get_args(kind)
    if origin is tuple:
        return tuple(from_json(args[0], item) for item in raw or ())
    if origin in (dict, Mapping) or kind is dict:
        value_kind = args[1] if args else Any
        return {key: from_json(value_kind, item) for key, item in (raw or {}).items()}
    if raw is None:
        return None
    if origin in (Union, types.UnionType):
        present = [arg for arg in args if arg is not type(None)]
        return from_json(present[0], raw) if len(present) == 1 else raw
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        hints = _hints(kind)
        known = {f.name for f in dataclasses.fields(kind)}
        return kind(**{name: from_json(hints[name], v) for name, v in raw.items() if name in known})
    if isinstance(kind, type) and issubclass(kind, Enum):
        return kind(raw)
    if kind in _FROM_TEXT:
        return _FROM_TEXT[kind](raw)
    return raw


@cache
def _hints(kind: type) -> dict[str, Any]:
    return get_type_hints(kind)
