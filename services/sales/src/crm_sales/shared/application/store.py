"""What every sales area's commands share: the platform's command pipeline on the one sales store,
the store's transcodings, and saving a reaction to another service's event.

Commands run through ``crm_platform.commands.CommandRunner``: a command's receipt is saved with the
aggregates it changes, so a retry replays the first answer, and a different request under the same
key is refused. The transcodings of the values that sales events carry are registered here once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar, cast
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import JSONTranscoder, Tracking, Transcoding

from crm_platform.commands import WRITE_ATTEMPTS, Command, CommandRunner, Outcome
from crm_platform.projection import LocalProjection

from ...pipeline.domain.pipelines import Stage
from ...pipeline.domain.scoring import Reason, ScoringRule
from ..domain.values import derived_id
from .read_models import opened

__all__ = ["WRITE_ATTEMPTS", "Command", "Outcome", "SalesStore", "new_id"]

P = TypeVar("P", bound=LocalProjection[Any])


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


def _dataclass_transcoding(cls: type, stored_name: str) -> Transcoding:
    """Frozen dataclasses of the domain stored as their fields (names fixed: stored forever)."""

    class DataclassAsDict(Transcoding):
        type = cls
        name = stored_name

        def encode(self, obj: Any) -> dict[str, Any]:
            return dict(vars(obj))

        def decode(self, data: dict[str, Any]) -> Any:
            return cls(**data)

    return DataclassAsDict()


class SalesStore(CommandRunner):
    """Base of the area mixins of SalesApplication (an eventsourcing Application)."""

    record_reaction: Callable[..., bool]

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        # A mixin: the Application it is mixed into registers the library's own first.
        super().register_transcodings(transcoder)  # type: ignore[misc]
        transcoder.register(DateAsISO())
        transcoder.register(_dataclass_transcoding(Stage, "sales_pipeline_stage"))
        transcoder.register(_dataclass_transcoding(ScoringRule, "sales_scoring_rule"))
        transcoder.register(_dataclass_transcoding(Reason, "sales_score_reason"))

    def read_model(self, model: Callable[[Application[Any]], P]) -> P:
        """The application's read model ``model``, its tables made (see ``read_models.opened``)."""
        application = cast("Application[Any]", self)  # the SalesApplication it is mixed into
        return opened(model(application))

    def save_reaction(self, position: Tracking | None, *aggregates: Aggregate) -> None:
        """Save what a reaction to another service's event changed, with the event's position
        when the caller tracks positions (exactly-once), else as a plain save."""
        if position is None:
            self.save(*aggregates)
        else:
            self.record_reaction(position, *aggregates)


def new_id(command: Command, purpose: str) -> UUID:
    """The id of the record ``command`` creates for ``purpose`` (``"quote"``; fixed forever): the
    same on every retry. Not the command's own id, which names the command's receipt."""
    return derived_id(command.command_id, purpose)
