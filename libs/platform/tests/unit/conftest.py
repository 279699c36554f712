"""Each test starts with an empty health registry: parts registered by one test (consumers,
loops) must not decide another's /healthz or /readyz."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from crm_platform.liveness import REGISTRY

SAMPLES = str(Path(__file__).resolve().parents[1])  # samples.py, shared with the integration tests
if SAMPLES not in sys.path:
    sys.path.insert(0, SAMPLES)


@pytest.fixture(autouse=True)
def _fresh_health_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(REGISTRY, "_probes", {})
