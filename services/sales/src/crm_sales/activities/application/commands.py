"""Sales commands and queries: activities (tasks, calls and appointments) and their reminders.

HTTP commands are idempotent and conditional through the sales command machinery (receipts saved
with the activity: ``SalesStore``). Lists and the reminder scheduler (``messaging.reminders``)
use the activity index, which every query brings up to date first, so a client reads its writes.

Reactions to other services' events (``messaging.activities``) get their aggregates from here
unsaved, and record them together with the event's position (exactly once).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from crm_platform.privacy import KeyStore

from ...shared.application.store import Command, Outcome, SalesStore, new_id
from ...shared.domain.values import derived_id
from ..domain.activities import KIND, Activity, ActivityKind, Plan, RecordRef, TaskPriority
from .index import ActivityFilter, ActivityIndex, After

MAX_PAGE = 200  # as many as a page of the API (crm_platform.web.pages.MAX_LIMIT)
DUE_BATCH = 100


@dataclass(frozen=True)
class ActivityDraft:
    """What scheduling an activity takes; the kind decides which of the optional fields apply."""

    kind: str
    subject: str
    regarding: RecordRef
    owner: str | None = None
    notes: str | None = None
    due_at: datetime | None = None
    priority: str | None = None
    call_direction: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    location: str | None = None
    attendees: Sequence[tuple[str, str]] = ()


@dataclass(frozen=True)
class ActivityPage:
    items: list[Activity]
    next_after: After | None  # the position to continue after; None on the last page


class ActivityCommands(SalesStore):
    """Mixed into SalesApplication (an eventsourcing Application with personal data keys)."""

    personal_data_keys: KeyStore

    @cached_property
    def activity_index(self) -> ActivityIndex:
        return self.read_model(ActivityIndex)

    # --- commands -------------------------------------------------------------------------------

    def schedule_activity(self, command: Command, draft: ActivityDraft) -> Outcome[Activity]:
        activity_id = new_id(command, KIND)
        return self.create(
            command, KIND, lambda: [self._new_activity(activity_id, draft, command.actor)]
        )

    def reschedule_activity(
        self,
        command: Command,
        activity_id: UUID,
        *,
        due_at: datetime | None = None,
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
    ) -> Outcome[Activity]:
        return self._change_activity(
            command,
            activity_id,
            lambda a: a.reschedule(now=_now(), due_at=due_at, starts_at=starts_at, ends_at=ends_at),
        )

    def complete_activity(
        self,
        command: Command,
        activity_id: UUID,
        *,
        completed_at: datetime | None = None,
        outcome: str | None = None,
        call_outcome: str | None = None,
        call_duration_seconds: int | None = None,
    ) -> Outcome[Activity]:
        return self._change_activity(
            command,
            activity_id,
            lambda a: a.complete(
                completed_by=command.actor,
                now=_now(),
                completed_at=completed_at,
                outcome=outcome,
                call_outcome=call_outcome,
                call_duration_seconds=call_duration_seconds,
            ),
        )

    def cancel_activity(
        self, command: Command, activity_id: UUID, *, reason: str | None = None
    ) -> Outcome[Activity]:
        return self._change_activity(
            command,
            activity_id,
            lambda a: a.cancel(cancelled_by=command.actor, now=_now(), reason=reason),
        )

    def _new_activity(self, activity_id: UUID, draft: ActivityDraft, actor: str) -> Activity:
        plan = Plan.of(
            draft.kind,
            now=_now(),
            due_at=draft.due_at,
            priority=draft.priority,
            call_direction=draft.call_direction,
            starts_at=draft.starts_at,
            ends_at=draft.ends_at,
            location=draft.location,
            attendees=draft.attendees,
        )
        return Activity.schedule(
            activity_id,
            plan=plan,
            subject=draft.subject,
            notes=draft.notes,
            owner=draft.owner or actor,
            regarding=draft.regarding,
        )

    def _change_activity(
        self, command: Command, activity_id: UUID, change: Callable[[Activity], object]
    ) -> Outcome[Activity]:
        def apply(activity: Activity) -> list[Aggregate]:
            change(activity)
            return []

        return self.execute(command, KIND, lambda: self.get_activity(activity_id), apply)

    # --- queries --------------------------------------------------------------------------------

    def get_activity(self, activity_id: UUID, version: int | None = None) -> Activity:
        return self.load(KIND, Activity, activity_id, version)

    def list_activities(
        self, where: ActivityFilter, *, after: After | None = None, limit: int = 50
    ) -> ActivityPage:
        """Matching activities by due time (then id), ``limit`` at most, after ``after``."""
        limit = max(1, min(limit, MAX_PAGE))
        found = self.activity_index.find(where, after, limit + 1)
        items = [self.get_activity(activity_id) for _, activity_id in found[:limit]]
        return ActivityPage(items, found[limit - 1] if len(found) > limit else None)

    # --- reminders ------------------------------------------------------------------------------

    def due_activities(self, now: datetime, *, skip: Collection[UUID] = ()) -> list[UUID]:
        """Open activities whose due time passed by ``now`` and that have not fallen due for it,
        a batch of them, oldest first; those in ``skip`` left out."""
        return self.activity_index.due(now, DUE_BATCH, skip=skip)

    def fire_activity(self, activity_id: UUID, now: datetime) -> bool:
        """Record ``FellDue`` on the activity if its due time passed by ``now``; True when it
        fell due now. Safe from any number of workers at once: of two that load the activity,
        one saves and the other meets the conflict and leaves it."""
        activity = self.find(Activity, activity_id)
        if activity is None or not activity.fall_due(now):
            return False  # closed, moved or reminded meanwhile: the index lags behind
        try:
            self.save(activity)
        except IntegrityError:
            return False  # changed since loaded: the next round decides on fresh state
        return True

    # --- reactions (the caller records the aggregates with the event's position) ---------------

    def erase_activities_regarding(self, *records: RecordRef) -> list[Activity]:
        """Destroy the keys of every activity about any of ``records``, so that their text goes
        blind in every copy of the log, and return those not erased before, their erasure
        pending. Activities the index holds in quarantine (no row, or a stale one) are loaded
        and erased too; one that cannot be loaded raises."""
        listed = self.activity_index.regarding(*records)
        held = self.activity_index.quarantined_aggregates(Activity)
        activity_ids = listed + [a.id for a in held if a.regarding in records]
        erased = []
        for activity_id in dict.fromkeys(activity_ids):
            self.personal_data_keys.destroy(activity_id)  # first: a crash after it is retried
            activity = self.get_activity(activity_id)
            if activity.erase(_now()):
                erased.append(activity)
        return erased

    def follow_up_task(
        self,
        *,
        cause_id: UUID,
        regarding: RecordRef,
        owner: str,
        subject: str,
        notes: str | None,
        due_in: timedelta,
        priority: TaskPriority,
    ) -> Activity | None:
        """A task caused by another service's event ``cause_id``, or None when that event
        scheduled it already (a republished event schedules nothing twice)."""
        task_id = derived_id(cause_id, f"follow-up:{regarding.type}:{regarding.id}")
        if self.find(Activity, task_id) is not None:
            return None
        plan = Plan.of(ActivityKind.TASK, now=_now(), due_at=_now() + due_in, priority=priority)
        return Activity.schedule(
            task_id, plan=plan, subject=subject, notes=notes, owner=owner, regarding=regarding
        )


def _now() -> datetime:
    return datetime.now(UTC)
