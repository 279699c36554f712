"""Schemathesis against every running service, from its OpenAPI document, with every check.

The documents are the committed ``services/<name>/openapi.json`` (``make check`` proves each is
what its service serves); they are loaded when the module is collected, because Schemathesis
builds one test per operation then. The requests go to the whole platform's api processes (so
commands also flow through relays and workers), with a development token carrying every scope.
Generation is seeded: every run sends the same requests.

Stateless: each operation gets the schema's examples, the coverage cases (boundaries, invalid
values) and fuzzed cases, up to a per-service budget that keeps the whole file within about four
minutes on a two-core machine. Stateful: sequences of calls along the links Schemathesis infers
between operations (the documents declare none; it derives them from response schemas and path
parameters).

Every check runs. A 5xx or a response that breaks its schema fails the operation's test, with
Schemathesis' report and the reproducing request (a curl command). What the other checks find
(a documented value refused, an undocumented one accepted, a 405 without the right Allow...) is
reported once per operation and check as a ``ConformanceWarning`` in the warnings summary.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis.core.failures import FailureGroup

from tests.e2e.drills import ROOT, SERVICES, Platform, report

pytestmark = pytest.mark.e2e

SEED = 20_261_207
# Fuzzed examples per operation, on top of the schema's examples and the coverage cases (which
# take most of the time: about 2 s per operation here). Sales has four times the operations of
# marketing, so fewer each; analytics only reads.
BUDGET = {"contacts": 4, "sales": 2, "marketing": 5, "service-desk": 4, "analytics": 8}
# A deeper run by hand multiplies the budgets: CRM_FUZZ_SCALE=25 pytest tests/e2e/test_fuzz_openapi.py -s
SCALE = int(os.environ.get("CRM_FUZZ_SCALE", "1"))
STATEFUL_SCENARIOS = 5  # per service, each up to STATEFUL_STEPS calls
STATEFUL_STEPS = 5
SETTINGS = hypothesis.settings(deadline=None, suppress_health_check=list(hypothesis.HealthCheck))
GATING_CHECKS = {"not_a_server_error", "response_schema_conformance"}


class ConformanceWarning(UserWarning):
    """A check other than the gating ones failed: the API and its document disagree."""


_warned: set[tuple[str, str]] = set()
_requests: Counter[str] = Counter()  # sent, by service


@pytest.fixture(scope="module", autouse=True)
def _report_requests() -> Iterator[None]:
    yield
    for service, sent in sorted(_requests.items()):
        report(f"[fuzz] {service}: {sent} requests, none answered 5xx or off its schema")


def validated(case: schemathesis.Case, validate: Callable[[], Any]) -> None:
    """Run ``validate``; re-raise its failures when any is a server error or a response schema
    violation, else report each (operation, failure kind) once as a warning."""
    try:
        validate()
    except FailureGroup as group:
        if any(GATING_CHECKS.intersection(failure.checks) for failure in group.exceptions):
            raise
        for failure in group.exceptions:
            if (case.operation.label, failure.code) not in _warned:
                _warned.add((case.operation.label, failure.code))
                warnings.warn(
                    f"{case.operation.label}: {failure.code} {failure}\n{case.as_curl_command()}",
                    ConformanceWarning,
                    stacklevel=2,
                )


def document(service: str, examples: int) -> schemathesis.BaseSchema:
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "request-timeout": 30,
            "checks": {"enabled": True},
            # No example database: a run must not depend on what an earlier one found.
            "generation": {"max-examples": examples, "mode": "all", "database": "none"},
        }
    )
    return schemathesis.openapi.from_path(
        ROOT / "services" / service / "openapi.json", config=config
    )


def auth(platform: Platform) -> dict[str, str]:
    return {"Authorization": f"Bearer {platform.token}"}


def conformance(service: str) -> Callable[..., None]:
    """One test per operation of ``service``."""

    @document(service, BUDGET[service] * SCALE).parametrize()
    @SETTINGS
    def test(case: schemathesis.Case, whole_platform: Platform) -> None:
        url, headers = whole_platform.url(service), auth(whole_platform)
        _requests[service] += 1
        validated(case, lambda: case.call_and_validate(base_url=url, headers=headers))

    return test


test_contacts_operations_conform = conformance("contacts")
test_sales_operations_conform = conformance("sales")
test_marketing_operations_conform = conformance("marketing")
test_service_desk_operations_conform = conformance("service-desk")
test_analytics_operations_conform = conformance("analytics")


@pytest.mark.parametrize("service", SERVICES)
def test_call_sequences_conform(whole_platform: Platform, service: str) -> None:
    machine: Any = document(service, STATEFUL_SCENARIOS * SCALE).as_state_machine()
    base_url, headers = whole_platform.url(service), auth(whole_platform)

    class Calls(machine):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            _requests[service] += 1
            return {"base_url": base_url, "headers": headers}

        def validate_response(self, response: Any, case: schemathesis.Case, **kwargs: Any) -> None:
            validated(case, lambda: super(Calls, self).validate_response(response, case, **kwargs))

    Calls.run(
        settings=hypothesis.settings(
            SETTINGS,
            max_examples=STATEFUL_SCENARIOS * SCALE,
            stateful_step_count=STATEFUL_STEPS,
            derandomize=True,
        )
    )
