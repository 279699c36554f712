"""scripts/platform/seed_demo.py against answers of every kind (httpx's mock transport): records
someone moved on never stop the seed; what it needs is made afresh under new keys."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

pytestmark = pytest.mark.unit
Answer = Callable[[httpx.Request], httpx.Response]


def seeder(seed_demo, answer: Answer):
    return seed_demo.Seeder(httpx.Client(transport=httpx.MockTransport(answer)))


def problem(status: int, detail: str = "no", field: str | None = None) -> httpx.Response:
    body = {"status": status, "detail": detail}
    if field:
        body["errors"] = [{"field": field, "detail": detail}]
    return httpx.Response(status, json=body)


@pytest.mark.parametrize("status", [404, 409, 410])
def test_a_step_on_a_record_moved_on_leaves_it_as_it_is(seed_demo, status):
    seed = seeder(seed_demo, lambda request: problem(status, "cannot win a lost opportunity"))
    assert seed.step("http://x/opportunities/1/win", {}, "demo-win") is None
    assert "cannot win a lost opportunity" in seed.left_as_is[0]


def test_what_the_rest_needs_is_made_afresh_under_new_keys(seed_demo):
    keys = []

    def answer(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers["Idempotency-Key"])
        if request.headers["Idempotency-Key"] == "demo-customer-0":
            return problem(410, "customer 1 was erased")
        if request.headers["Idempotency-Key"] == "demo-customer-0.1":
            return problem(422, "already used for a different request", "header.Idempotency-Key")
        return httpx.Response(201, json={"id": "new"})

    seed = seeder(seed_demo, answer)
    made = seed.afresh(
        "demo customer 0", lambda s: seed.command("http://x/c", {}, f"demo-customer-0{s}")
    )
    assert made == {"id": "new"}
    assert keys == ["demo-customer-0", "demo-customer-0.1", "demo-customer-0.2"]
    assert len(seed.left_as_is) == 2


def test_after_three_attempts_it_gives_up_without_failing(seed_demo):
    seed = seeder(seed_demo, lambda request: problem(409))
    assert seed.afresh("demo sale", lambda s: seed.command("http://x/leads", {}, f"l{s}")) is None
    assert seed.left_as_is[-1] == "demo sale: given up after 3 attempts"


@pytest.mark.parametrize("answer", [problem(500), problem(422, "amount: too large", "body.amount")])
def test_a_real_error_still_stops_the_seed(seed_demo, answer):
    seed = seeder(seed_demo, lambda request: answer)
    with pytest.raises(SystemExit):
        seed.step("http://x/invoices/1/payments", {}, "demo-payment")
