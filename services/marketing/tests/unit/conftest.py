from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.utils import get_topic

from crm_events.personal import Sealed, new_key, seal, unseal
from crm_marketing.application import MarketingApplication
from crm_platform.eventstore import ContextCapturingMapper
from crm_platform.privacy import KeyNotYetKnown, MemoryKeyring

from ..feed import NOW, Feed

__all__ = ["NOW"]  # for the tests that import it from here


class SyncMemoryKeyring(MemoryKeyring):
    """The in-memory keyring with the synchronous opening the reactions use."""

    def unseal_sync(self, sealed: Sealed | None) -> Any:
        if sealed is None:
            return None
        if sealed.kid not in self._keys:
            raise KeyNotYetKnown(sealed.kid)
        key = self._keys[sealed.kid]
        return None if key is None else unseal(sealed, key)

    def seal(self, value: Any, subject: UUID) -> Sealed:
        key = self._keys.setdefault(subject, new_key())
        assert key is not None
        return seal(value, key=key, subject=subject)


@pytest.fixture
def application() -> Iterator[MarketingApplication]:
    app = MarketingApplication(
        env={
            "PERSISTENCE_MODULE": "eventsourcing.popo",
            "MAPPER_TOPIC": get_topic(ContextCapturingMapper),
        }
    )
    yield app
    app.close()


@pytest.fixture
def keyring() -> SyncMemoryKeyring:
    return SyncMemoryKeyring()


@pytest.fixture
def feed(application: MarketingApplication, keyring: SyncMemoryKeyring) -> Feed:
    return Feed(application, keyring)


@pytest.fixture
def ids() -> Callable[[], UUID]:
    return uuid4
