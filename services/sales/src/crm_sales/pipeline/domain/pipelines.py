"""Pipelines: the ordered stages an opportunity goes through, each with a default probability.

Open stages come first, in selling order; then exactly one won and one lost stage, the terminal
stages closing an opportunity. Every service has the default pipeline; sales admins define more
(a pipeline per product line or market) and revise them. A revision may rename, reorder and
re-weight stages, and add new ones; it may not drop a stage that still holds open opportunities.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ...shared.domain.errors import RuleViolation
from ...shared.domain.values import DERIVED_ID_NAMESPACE, member, percentage, required_text, slug

MAX_STAGES = 30
DEFAULT_PIPELINE_ID = uuid5(DERIVED_ID_NAMESPACE, "pipeline:default")


class StageKind(StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


@dataclass(frozen=True)
class Stage:
    stage_id: str
    name: str
    probability: int
    kind: StageKind = StageKind.OPEN

    def __post_init__(self) -> None:
        # Stored events give the kind back as a plain string.
        object.__setattr__(self, "kind", StageKind(self.kind))

    @property
    def is_open(self) -> bool:
        return self.kind is StageKind.OPEN


DEFAULT_STAGES = (
    Stage("prospecting", "Prospecting", 10),
    Stage("qualification", "Qualification", 20),
    Stage("needs-analysis", "Needs analysis", 40),
    Stage("proposal", "Proposal", 60),
    Stage("negotiation", "Negotiation", 80),
    Stage("won", "Closed won", 100, StageKind.WON),
    Stage("lost", "Closed lost", 0, StageKind.LOST),
)


def stage(stage_id: str, name: str, probability: int, kind: str, index: int) -> Stage:
    """One validated stage; ``index`` places errors on ``stages.<index>.<field>``."""
    field = f"stages.{index}"
    stage_kind = member(StageKind, kind, f"{field}.kind")
    probability = percentage(probability, f"{field}.probability")
    if stage_kind is StageKind.WON and probability != 100:
        raise RuleViolation(f"{field}.probability", "a won stage has probability 100")
    if stage_kind is StageKind.LOST and probability != 0:
        raise RuleViolation(f"{field}.probability", "a lost stage has probability 0")
    return Stage(
        stage_id=slug(stage_id, f"{field}.stage_id"),
        name=required_text(f"{field}.name", name, 100),
        probability=probability,
        kind=stage_kind,
    )


def checked_stages(stages: Sequence[Stage]) -> tuple[Stage, ...]:
    """Stages that make a pipeline: open ones first, then exactly one won and one lost stage."""
    if not 3 <= len(stages) <= MAX_STAGES:
        raise RuleViolation("stages", f"a pipeline has 3 to {MAX_STAGES} stages")
    ids = [s.stage_id for s in stages]
    if duplicates := sorted({i for i in ids if ids.count(i) > 1}):
        raise RuleViolation("stages", f"stage ids must be unique: {', '.join(duplicates)}")
    kinds = [s.kind for s in stages]
    if kinds.count(StageKind.WON) != 1 or kinds.count(StageKind.LOST) != 1:
        raise RuleViolation("stages", "a pipeline has exactly one won and one lost stage")
    open_count = kinds.count(StageKind.OPEN)
    if open_count == 0 or any(s.is_open for s in stages[open_count:]):
        raise RuleViolation("stages", "open stages come first, the won and lost stages last")
    return tuple(stages)


class Pipeline(Aggregate):
    id: UUID

    @classmethod
    def define(cls, pipeline_id: UUID, *, name: str, stages: Sequence[Stage]) -> Pipeline:
        pipeline: Pipeline = cls(
            id=pipeline_id,
            name=required_text("name", name, 100),
            stages=list(checked_stages(stages)),
        )
        return pipeline

    @classmethod
    def default(cls) -> Pipeline:
        return cls.define(DEFAULT_PIPELINE_ID, name="Default", stages=DEFAULT_STAGES)

    @event("Defined")
    def __init__(self, name: str, stages: list[Stage]) -> None:
        self.name = name
        self.stages = tuple(stages)

    def revise(self, *, name: str, stages: Sequence[Stage], stages_in_use: Iterable[str]) -> bool:
        """Replace name and stages; False (no event) when nothing changes."""
        name = required_text("name", name, 100)
        revised = checked_stages(stages)
        kept = {s.stage_id for s in revised}
        if dropped := sorted(set(stages_in_use) - kept):
            raise RuleViolation(
                "stages", f"stages still holding open opportunities: {', '.join(dropped)}"
            )
        if (name, revised) == (self.name, self.stages):
            return False
        self._revised(name=name, stages=list(revised))
        return True

    @event("Revised")
    def _revised(self, name: str, stages: list[Stage]) -> None:
        self.name = name
        self.stages = tuple(stages)

    def stage(self, stage_id: str, field: str = "stage_id") -> Stage:
        for candidate in self.stages:
            if candidate.stage_id == stage_id:
                return candidate
        raise RuleViolation(field, f"pipeline {self.name!r} has no stage {stage_id!r}")

    def open_stage(self, stage_id: str | None, field: str = "stage_id") -> Stage:
        """The named open stage, or the first one when none is named."""
        if stage_id is None:
            return self.stages[0]
        chosen = self.stage(stage_id, field)
        if not chosen.is_open:
            raise RuleViolation(field, "close an opportunity by winning or losing it")
        return chosen

    @property
    def won_stage(self) -> Stage:
        return next(s for s in self.stages if s.kind is StageKind.WON)

    @property
    def lost_stage(self) -> Stage:
        return next(s for s in self.stages if s.kind is StageKind.LOST)
