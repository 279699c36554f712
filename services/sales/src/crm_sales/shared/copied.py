"""Records built from another object's attributes of the same names: a response from an
aggregate, a read model's row from an aggregate, an integration event from a domain event.

    ProductSummary(**copied(ProductSummary, row, id=row.product_id))

names only what differs; every other field is the source's attribute of that name.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import BaseModel


def _field_names(kind: type) -> list[str]:
    """The fields of a pydantic model or a dataclass, in their order."""
    if issubclass(kind, BaseModel):
        return list(kind.model_fields)
    if dataclasses.is_dataclass(kind):
        return [field.name for field in dataclasses.fields(kind)]
    raise TypeError(f"{kind} is neither a pydantic model nor a dataclass")


def copied(kind: type, source: Any, **given: Any) -> dict[str, Any]:
    """The arguments of ``kind``: ``given``, and every other field from ``source``."""
    return {
        name: given[name] if name in given else getattr(source, name) for name in _field_names(kind)
    }
