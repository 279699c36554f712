"""Each test starts with an empty health registry: parts registered by one test (consumers,
loops) must not decide another's /healthz or /readyz."""

from __future__ import annotations

import pytest

from crm_platform.liveness import REGISTRY


@pytest.fixture(autouse=True)
def _fresh_health_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(REGISTRY, "_probes", {})
