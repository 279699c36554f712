"""Document updates of read models in MongoDB: update operators with in-memory semantics.

A projection turns an event into an :class:`Update` made of update operators on top-level fields
of one document. ``read_models.write_update`` sends it unchanged to MongoDB, and
:func:`apply_update` interprets it in memory with the same result, so that unit and property
tests, and time travel (folding archived events up to an instant), go through exactly the code
the live projection runs.

Two version guards exist, chosen per read model:

- ``Guard.NEXT``: the document's ``version`` is the aggregate version of the last applied event and
  an event applies only when it is exactly the next one (:func:`decide`). It suits documents
  that accumulate (lists of changes): nothing may be skipped. A hole raises :class:`VersionGap`.
- ``Guard.NEWER``: an event applies when its version is above the stored one. It suits documents
  whose events each carry the state they set (an opportunity's stage and amount): a redelivered
  or older event is ignored, and a lost one costs only what it alone carried.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

Document = dict[str, Any]


class Decision(Enum):
    APPLY = "apply"
    DUPLICATE = "duplicate"


class Guard(Enum):
    NEXT = "next"
    NEWER = "newer"


class VersionGap(Exception):
    """An event arrived while one of its predecessors has not been applied.

    With per-aggregate ordering this means a predecessor never reached the projection (it was
    dead-lettered, or the topic lost it). Applying the event would hide the hole forever and
    skipping it would lose data, so the error goes to the consumer base, which retries and then
    dead-letters the event next to its missing predecessor; replaying the dead letters in order, or
    rebuilding the read model from the topic, repairs the document.
    """

    def __init__(self, key: str, stored: int, received: int) -> None:
        super().__init__(
            f"{key}: read model is at version {stored}, "
            f"received version {received} (expected {stored + 1})"
        )
        self.key = key
        self.stored = stored
        self.received = received


@dataclass(frozen=True)
class Update:
    """What one event changes, as update operators on top-level fields of one document (``set``
    may also name a field of an embedded document: ``"lineage.amount"``)."""

    key: str
    version: int
    set: Mapping[str, Any]
    push: Mapping[str, list[Any]] = field(default_factory=dict)  # values appended, in order
    inc: Mapping[str, int] = field(default_factory=dict)
    max: Mapping[str, Any] = field(default_factory=dict)
    unset: tuple[str, ...] = ()
    guard: Guard = Guard.NEXT
    since: int | None = None  # the version it applies on; None: version - 1 (one event)

    @property
    def previous(self) -> int:
        return self.version - 1 if self.since is None else self.since

    def operators(self) -> Document:
        """The MongoDB update document (empty operators are rejected by the server)."""
        ops = {
            "$set": self.set,
            "$push": {name: {"$each": list(values)} for name, values in self.push.items()},
            "$inc": self.inc,
            "$max": self.max,
            "$unset": dict.fromkeys(self.unset, ""),
        }
        return {name: dict(fields) for name, fields in ops.items() if fields}

    def filter(self) -> Document:
        """Which stored document the update may apply to (absent counts as version 0)."""
        if self.guard is Guard.NEXT:
            return {"_id": self.key, "version": self.previous}
        return {"_id": self.key, "version": {"$lt": self.version}}

    @property
    def may_insert(self) -> bool:
        """Whether the update may create the document (an upsert)."""
        return self.guard is Guard.NEWER or self.previous == 0


def decide(
    key: str, stored_version: int, event_version: int, guard: Guard = Guard.NEXT
) -> Decision:
    """Whether an event of ``event_version`` applies on a document at ``stored_version``."""
    if event_version <= stored_version:
        return Decision.DUPLICATE
    if guard is Guard.NEWER or event_version == stored_version + 1:
        return Decision.APPLY
    raise VersionGap(key, stored_version, event_version)


def apply_update(document: Document | None, update: Update) -> Document:
    """In-memory semantics of :meth:`Update.operators`, as an upsert would apply them."""
    new: Document = dict(document) if document else {"_id": update.key}
    for name, value in update.set.items():
        if "." in name:  # one level of embedding: "lineage.amount"
            parent, child = name.split(".", 1)
            new[parent] = {**new.get(parent, {}), child: value}
        else:
            new[name] = value
    for name, values in update.push.items():
        new[name] = [*new.get(name, []), *values]
    for name, amount in update.inc.items():
        new[name] = new.get(name, 0) + amount
    for name, value in update.max.items():
        if name not in new or value > new[name]:
            new[name] = value
    for name in update.unset:
        new.pop(name, None)
    return new


def fold(document: Document | None, update: Update | None) -> Document | None:
    """``document`` after ``update`` if its guard lets it apply (a redelivery changes nothing)."""
    if update is None:
        return document
    stored = document["version"] if document else 0
    if update.version <= stored:
        return document
    if update.guard is Guard.NEXT and stored != update.previous:
        raise VersionGap(update.key, stored, update.previous + 1)
    return apply_update(document, update)


def combine(first: Update, second: Update) -> Update | None:
    """One update with the effect of ``first`` then ``second`` (the next version of the same
    document), when one MongoDB update can express it: no field under two different operators.

    A projection applies a batch's run of one aggregate's events in one round trip this way.
    """
    if (
        first.key != second.key
        or Guard.NEWER in (first.guard, second.guard)
        or second.previous != first.version
    ):
        return None
    operators: dict[str, str] = {}
    for update in (first, second):
        named = (
            ("set", update.set),
            ("push", update.push),
            ("inc", update.inc),
            ("max", update.max),
            ("unset", update.unset),
        )
        for operator, fields in named:
            for name in fields:
                if operators.setdefault(name, operator) != operator:
                    return None
    maxima = dict(first.max)
    for name, value in second.max.items():
        maxima[name] = value if name not in maxima else max(maxima[name], value)
    return Update(
        first.key,
        second.version,
        {**first.set, **second.set},
        push={
            name: [*first.push.get(name, []), *second.push.get(name, [])]
            for name in {**first.push, **second.push}
        },
        inc={
            name: first.inc.get(name, 0) + second.inc.get(name, 0)
            for name in {**first.inc, **second.inc}
        },
        max=maxima,
        unset=tuple(dict.fromkeys((*first.unset, *second.unset))),
        since=first.previous,
    )


def runs(updates: list[Update]) -> list[tuple[Update, list[Update]]]:
    """Consecutive updates combined as far as :func:`combine` allows: (combined, its parts)."""
    result: list[tuple[Update, list[Update]]] = []
    for update in updates:
        merged = combine(result[-1][0], update) if result else None
        if merged is None:
            result.append((update, [update]))
        else:
            result[-1] = (merged, [*result[-1][1], update])
    return result


def bson_time(value: datetime) -> datetime:
    """UTC with millisecond precision, the precision of a BSON date.

    Truncating here keeps the in-memory document identical to the stored one. A naive time (the
    contract does not require an offset for ``occurred_at``) is taken as UTC.
    """
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware.replace(microsecond=aware.microsecond // 1000 * 1000)
