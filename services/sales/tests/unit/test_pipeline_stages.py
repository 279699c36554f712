"""Pipeline stage configuration: what makes a valid pipeline and a valid revision."""

from __future__ import annotations

from uuid import uuid4

import pytest

from crm_sales.pipeline.domain.pipelines import (
    DEFAULT_PIPELINE_ID,
    DEFAULT_STAGES,
    Pipeline,
    Stage,
    StageKind,
    stage,
)
from crm_sales.shared.domain.errors import RuleViolation

pytestmark = pytest.mark.unit

WON = Stage("won", "Won", 100, StageKind.WON)
LOST = Stage("lost", "Lost", 0, StageKind.LOST)
OPEN = Stage("demo", "Demo", 30)


def test_the_default_pipeline() -> None:
    pipeline = Pipeline.default()

    assert (pipeline.id, pipeline.name, pipeline.stages) == (
        DEFAULT_PIPELINE_ID,
        "Default",
        DEFAULT_STAGES,
    )
    assert (pipeline.won_stage.stage_id, pipeline.lost_stage.stage_id) == ("won", "lost")
    assert pipeline.open_stage(None).stage_id == "prospecting"


@pytest.mark.parametrize(
    ("stages", "message"),
    [
        ([OPEN, WON], "3 to"),
        ([OPEN, OPEN, WON, LOST], "unique"),
        ([OPEN, WON, Stage("won2", "Won too", 100, StageKind.WON), LOST], "exactly one won"),
        ([OPEN, Stage("x", "X", 10), LOST], "exactly one won"),
        ([WON, OPEN, LOST], "open stages come first"),
        ([WON, LOST, Stage("late", "Late", 5)], "open stages come first"),
    ],
)
def test_invalid_pipelines(stages: list[Stage], message: str) -> None:
    with pytest.raises(RuleViolation) as refused:
        Pipeline.define(uuid4(), name="Enterprise", stages=stages)
    assert refused.value.field == "stages"
    assert message in refused.value.detail


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        (("Demo", "Demo", 30, "open"), "stages.2.stage_id"),
        (("demo", " ", 30, "open"), "stages.2.name"),
        (("demo", "Demo", 130, "open"), "stages.2.probability"),
        (("demo", "Demo", 30, "paused"), "stages.2.kind"),
        (("won", "Won", 90, "won"), "stages.2.probability"),
        (("lost", "Lost", 10, "lost"), "stages.2.probability"),
    ],
)
def test_invalid_stages_name_their_position(arguments: tuple[object, ...], field: str) -> None:
    with pytest.raises(RuleViolation) as refused:
        stage(*arguments, index=2)  # type: ignore[arg-type]
    assert refused.value.field == field


def test_revisions_keep_the_stages_in_use() -> None:
    pipeline = Pipeline.define(uuid4(), name="Partners", stages=[OPEN, WON, LOST])
    renamed = [Stage("demo", "Live demo", 35), Stage("trial", "Trial", 50), WON, LOST]

    assert (
        pipeline.revise(name="Partners", stages=[OPEN, WON, LOST], stages_in_use={"demo"}) is False
    )
    assert pipeline.revise(name="Partner deals", stages=renamed, stages_in_use={"demo"}) is True
    assert [s.name for s in pipeline.stages] == ["Live demo", "Trial", "Won", "Lost"]
    with pytest.raises(RuleViolation) as refused:
        pipeline.revise(
            name="Partner deals",
            stages=[Stage("trial", "Trial", 50), WON, LOST],
            stages_in_use={"demo", "trial"},
        )
    assert "demo" in refused.value.detail
