"""Events stored before the command pipeline kept its receipts apart, read as today's events."""

from __future__ import annotations

from typing import Any, ClassVar

# What events of version 1 carried only to answer a retried request: the request's fingerprint
# and, on a ticket's changes, the command's id. A command's ``CommandReceipt`` holds them now.
_REQUEST_FIELDS = ("request_fingerprint", "command_id")


class WithoutRequestIds:
    """Mixed into an aggregate's ``Event`` base: its events are of version 2 (the library stores
    the class version with each event and upcasts older ones as it reads them)."""

    class_version: ClassVar[int] = 2

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        for name in _REQUEST_FIELDS:
            state.pop(name, None)
