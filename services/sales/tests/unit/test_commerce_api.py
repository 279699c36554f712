"""The commerce HTTP API on the in-memory store: the flow from catalog to paid invoice, idempotent
and conditional commands, problems naming the field at fault, and no state change on error (the
lists, which read the commerce read model, are tested on PostgreSQL:
integration/test_commerce_api_queries.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from crm_platform.web.pages import EMBEDDED_LIMIT
from crm_platform.web.testing import assert_problem, bearer
from crm_sales.application import SalesApplication
from crm_sales.bootstrap import SPEC

pytestmark = pytest.mark.unit

NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
WRITE = bearer("sales:read", "sales:write", subject="carol@example.org")
READ = bearer("sales:read", subject="carol@example.org")


class Clock:
    """The application's clock, moved by the tests."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def application(clock: Clock) -> Iterator[SalesApplication]:
    app = SalesApplication({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    app.clock = clock  # type: ignore[method-assign]
    yield app
    app.close()


@pytest.fixture
def client(application: SalesApplication) -> Iterator[TestClient]:
    with TestClient(SPEC.build_api(application)) as test_client:
        yield test_client


def send(
    client: TestClient,
    method: str,
    path: str,
    body: Any = None,
    key: str | None = None,
    if_match: str | None = None,
) -> Any:
    headers = {**WRITE, "Idempotency-Key": key or str(uuid4())}
    if if_match is not None:
        headers["If-Match"] = if_match
    return client.request(method, path, json=body, headers=headers)


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()


def get(client: TestClient, path: str, **params: Any) -> dict[str, Any]:
    return ok(client.get(path, headers=READ, params=params))


def eur(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "EUR"}


def add_product(client: TestClient, sku: str, category: str = "standard") -> dict[str, Any]:
    body = {"sku": sku, "name": f"Product {sku}", "unit": "each", "tax_category": category}
    return ok(send(client, "POST", "/products", body), 201)


def published_price_list(client: TestClient, *prices: tuple[str, str]) -> dict[str, Any]:
    body = {"name": "EU 2025", "currency": "EUR", "valid_from": "2025-01-01"}
    price_list = ok(send(client, "POST", "/price-lists", body), 201)
    for product_id, amount in prices:
        path = f"/price-lists/{price_list['id']}/prices/{product_id}"
        ok(send(client, "PUT", path, {"unit_price": eur(amount)}))
    return ok(send(client, "POST", f"/price-lists/{price_list['id']}/publish"))


def open_opportunity(client: TestClient, contact_id: str | None = None) -> dict[str, Any]:
    body = {
        "name": "Acme: widgets and support",
        "amount": "1000.00",
        "currency": "EUR",
        "expected_close_date": "2025-04-30",
        "contact_id": contact_id,
    }
    return ok(send(client, "POST", "/opportunities", body), 201)


@pytest.fixture
def catalog(client: TestClient) -> dict[str, Any]:
    """Two products priced in a published list, and an opportunity to quote them for."""
    widget, support = add_product(client, "WID-1"), add_product(client, "SUP-1", "reduced")
    prices = published_price_list(client, (widget["id"], "100.00"), (support["id"], "80.00"))
    return {
        "widget": widget["id"],
        "support": support["id"],
        "price_list": prices["id"],
        "opportunity": open_opportunity(client)["id"],
    }


def quote_body(catalog: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return {
        "opportunity_id": catalog["opportunity"],
        "customer_id": str(uuid4()),
        "currency": "EUR",
        "price_list_id": catalog["price_list"],
        "valid_until": "2025-04-13",
        "tax_rates": {"standard": "21", "reduced": "10"},
        "discount": {"percent": "5"},
        "lines": [
            {"product_id": catalog["widget"], "quantity": "2"},
            {"product_id": catalog["support"], "quantity": "10", "discount": {"amount": "40.00"}},
        ],
        **overrides,
    }


def draft_quote(client: TestClient, catalog: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return ok(send(client, "POST", "/quotes", quote_body(catalog, **overrides)), 201)


def accepted_quote(client: TestClient, catalog: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    quote = draft_quote(client, catalog, **overrides)
    ok(send(client, "POST", f"/quotes/{quote['id']}/issue"))
    return ok(send(client, "POST", f"/quotes/{quote['id']}/accept"))


def invoice_for(client: TestClient, catalog: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    quote = accepted_quote(client, catalog, **overrides)
    order = ok(send(client, "POST", "/orders", {"quote_id": quote["id"]}), 201)
    return ok(send(client, "POST", "/invoices", {"order_id": order["id"]}), 201)


def payment(value: str, **overrides: Any) -> dict[str, Any]:
    received = (NOW - timedelta(hours=1)).isoformat()
    return {"amount": eur(value), "method": "bank_transfer", "received_at": received, **overrides}


# --- the flow ---------------------------------------------------------------------------------


def test_a_quote_becomes_an_order_then_an_invoice_paid_in_two_payments(
    client: TestClient, catalog: dict[str, Any]
) -> None:
    created = send(client, "POST", "/quotes", quote_body(catalog))
    quote = ok(created, 201)
    assert created.headers["Location"].endswith(f"/quotes/{quote['id']}")
    assert created.headers["ETag"] == 'W/"1"'
    assert quote["status"] == "draft"
    # 2 x 100.00 + 10 x 80.00 - 40.00 = 960.00; 5 % off = 48.00 (10.00 + 38.00)
    # tax: 21 % of 190.00 = 39.90 and 10 % of 722.00 = 72.20
    assert quote["totals"]["subtotal"] == eur("1000.00")
    assert quote["totals"]["discount"] == eur("88.00")
    assert quote["totals"]["tax"] == eur("112.10")
    assert quote["totals"]["total"] == eur("1024.10")
    assert [line["unit_price"] for line in quote["lines"]] == [eur("100.00"), eur("80.00")]

    issued = ok(send(client, "POST", f"/quotes/{quote['id']}/issue", if_match='W/"1"'))
    accepted = ok(send(client, "POST", f"/quotes/{quote['id']}/accept"))
    assert (issued["status"], accepted["status"], accepted["version"]) == ("issued", "accepted", 3)

    placed = send(client, "POST", "/orders", {"quote_id": quote["id"]})
    order = ok(placed, 201)
    assert (order["totals"], order["lines"]) == (quote["totals"], quote["lines"])
    assert placed.headers["Location"].endswith(f"/orders/{order['id']}")

    invoice = ok(
        send(client, "POST", "/invoices", {"order_id": order["id"], "payment_terms_days": 14}), 201
    )
    assert invoice["number"] == "INV-2025-000001"
    assert (invoice["issued_on"], invoice["due_date"]) == ("2025-03-14", "2025-03-28")
    assert (invoice["status"], invoice["balance_due"]) == ("issued", eur("1024.10"))
    assert get(client, f"/orders/{order['id']}")["invoice_id"] == invoice["id"]

    first = send(client, "POST", f"/invoices/{invoice['id']}/payments", payment("24.10"))
    partly = ok(first, 201)
    assert (partly["status"], partly["balance_due"]) == ("partially_paid", eur("1000.00"))
    payment_id = partly["payments"][0]["payment_id"]
    assert first.headers["Location"].endswith(f"/invoices/{invoice['id']}/payments/{payment_id}")
    assert get(client, f"/invoices/{invoice['id']}/payments/{payment_id}")["amount"] == eur("24.10")

    paid = ok(send(client, "POST", f"/invoices/{invoice['id']}/payments", payment("1000.00")), 201)
    assert (paid["status"], paid["balance_due"], paid["amount_paid"]) == (
        "paid",
        eur("0.00"),
        eur("1024.10"),
    )
    assert get(client, f"/invoices/{invoice['id']}") == paid


def test_a_revision_supersedes_the_quote_it_revises_when_issued(
    client: TestClient, catalog: dict[str, Any]
) -> None:
    original = draft_quote(client, catalog)
    ok(send(client, "POST", f"/quotes/{original['id']}/issue"))

    revision = ok(send(client, "POST", f"/quotes/{original['id']}/revisions", {}), 201)
    assert (revision["revision"], revision["revises"], revision["status"]) == (
        2,
        original["id"],
        "draft",
    )
    changed = ok(send(client, "PATCH", f"/quotes/{revision['id']}", {"discount": None}))
    assert changed["totals"]["discount"] == eur("40.00")
    ok(send(client, "POST", f"/quotes/{revision['id']}/issue"))

    superseded = get(client, f"/quotes/{original['id']}")
    assert (superseded["status"], superseded["superseded_by"]) == ("superseded", revision["id"])
    assert_problem(send(client, "POST", f"/quotes/{original['id']}/accept"), 409)


def test_a_quote_is_for_the_opportunity_s_contact_unless_told_otherwise(
    client: TestClient, catalog: dict[str, Any]
) -> None:
    contact = str(uuid4())
    opportunity = open_opportunity(client, contact_id=contact)

    quote = draft_quote(client, catalog, opportunity_id=opportunity["id"], customer_id=None)

    assert (quote["opportunity_id"], quote["customer_id"]) == (opportunity["id"], contact)


@pytest.mark.parametrize("name", ["organization_id", "account_id"])  # account_id: deprecated
def test_the_organization_a_quote_names_follows_to_its_order_and_invoice_by_both_names(
    client: TestClient, catalog: dict[str, Any], name: str
) -> None:
    organization = str(uuid4())
    conflicting = {"organization_id": organization, "account_id": str(uuid4())}

    refused = send(client, "POST", "/quotes", quote_body(catalog, **conflicting))
    invoice = invoice_for(client, catalog, **{name: organization})

    assert assert_problem(refused, 422)["errors"][0]["field"] == "body.account_id"
    order = get(client, f"/orders/{invoice['order_id']}")
    for shown in (invoice, order):
        assert (shown["organization_id"], shown["account_id"]) == (organization, organization)


def test_draft_lines_are_added_and_removed(client: TestClient, catalog: dict[str, Any]) -> None:
    quote = draft_quote(client, catalog, lines=[], discount=None)

    added = send(
        client,
        "POST",
        f"/quotes/{quote['id']}/lines",
        {
            "product_id": catalog["widget"],
            "quantity": "3",
            "unit_price": eur("90.00"),
            "price_override_reason": "Volume promised",
        },
    )
    with_line = ok(added, 201)
    line = with_line["lines"][0]
    assert added.headers["Location"].endswith(f"/quotes/{quote['id']}/lines/{line['line_id']}")
    assert get(client, f"/quotes/{quote['id']}/lines/{line['line_id']}") == line
    assert (line["unit_price"], line["price_override_reason"]) == (eur("90.00"), "Volume promised")
    assert with_line["totals"]["total"] == eur("326.70")

    removed = ok(send(client, "DELETE", f"/quotes/{quote['id']}/lines/{line['line_id']}"))
    assert (removed["lines"], removed["totals"]["total"]) == ([], eur("0.00"))


def test_products_change_and_retire(client: TestClient) -> None:
    product = add_product(client, "GAD-1")

    updated = ok(
        send(client, "PATCH", f"/products/{product['id']}", {"name": "Gadget"}, if_match='W/"1"')
    )
    assert (updated["name"], updated["version"]) == ("Gadget", 2)
    assert get(client, "/products/sku/gad-1")["id"] == product["id"]
    retired = ok(send(client, "POST", f"/products/{product['id']}/retire", {"reason": "Old"}))
    assert retired["status"] == "retired"
    assert_problem(send(client, "PATCH", f"/products/{product['id']}", {"name": "New"}), 409)


# --- idempotency and concurrency --------------------------------------------------------------


def test_a_retried_command_replays_its_first_answer(
    client: TestClient, catalog: dict[str, Any]
) -> None:
    body, key = quote_body(catalog), str(uuid4())
    first = send(client, "POST", "/quotes", body, key=key)
    ok(send(client, "POST", f"/quotes/{first.json()['id']}/issue"))

    retry = send(client, "POST", "/quotes", body, key=key)

    assert retry.status_code == 201 and retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()  # the quote as the first request left it
    reused = send(client, "POST", "/quotes", quote_body(catalog), key=key)
    problem = assert_problem(reused, 422)
    assert [e["field"] for e in problem["errors"]] == ["header.Idempotency-Key"]


def test_a_retried_payment_is_recorded_once(client: TestClient, catalog: dict[str, Any]) -> None:
    invoice = invoice_for(client, catalog)
    key, path = str(uuid4()), f"/invoices/{invoice['id']}/payments"

    first = ok(send(client, "POST", path, payment("100.00"), key=key), 201)
    retry = send(client, "POST", path, payment("100.00"), key=key)

    assert retry.headers["Idempotent-Replayed"] == "true" and retry.json() == first
    assert get(client, f"/invoices/{invoice['id']}")["balance_due"] == eur("924.10")


def test_a_stale_version_is_a_conflict_naming_the_current_one(
    client: TestClient, catalog: dict[str, Any]
) -> None:
    quote = draft_quote(client, catalog)
    ok(send(client, "PATCH", f"/quotes/{quote['id']}", {"tax_jurisdiction": "ES"}))

    stale = send(client, "POST", f"/quotes/{quote['id']}/issue", if_match='W/"1"')

    assert assert_problem(stale, 409)["current_version"] == 2
    assert get(client, f"/quotes/{quote['id']}")["status"] == "draft"
    both = send(
        client, "POST", f"/quotes/{quote['id']}/issue", {"expected_version": 3}, if_match='W/"2"'
    )
    assert_problem(both, 400)


# --- bad input: problems naming the field, and nothing changed ---------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lines": [{"product_id": "{widget}", "quantity": "0"}]}, "body.lines.0.quantity"),
        ({"discount": {"percent": "150"}}, "body.discount.percent"),
        ({"discount": {"percent": "5", "amount": "1.00"}}, "body.discount"),
        ({"currency": "XYZ"}, "body.currency"),
        ({"opportunity_id": "{missing}"}, "body.opportunity_id"),
        ({"customer_id": None}, "body.customer_id"),  # the opportunity names no contact
        ({"price_list_id": "{missing}"}, "body.price_list_id"),
        ({"valid_until": "2025-03-13"}, "body.valid_until"),
        ({"tax_rates": {"standard": "21"}}, "body.tax_rates"),
        ({"lines": [{"product_id": "{missing}", "quantity": "1"}]}, "body.lines.0.product_id"),
        (
            {
                "lines": [
                    {
                        "product_id": "{widget}",
                        "quantity": "1",
                        "unit_price": {"amount": "1", "currency": "USD"},
                    }
                ]
            },
            "body.lines.0.unit_price.currency",
        ),
        (
            {
                "lines": [
                    {
                        "product_id": "{widget}",
                        "quantity": "1",
                        "unit_price": {"amount": "1", "currency": "EUR"},
                    }
                ]
            },
            "body.lines.0.price_override_reason",
        ),
        (
            {
                "lines": [
                    {"product_id": "{widget}", "quantity": "1", "discount": {"amount": "100.01"}}
                ]
            },
            "body.lines.0.discount.amount",
        ),
        ({"lines": [{"product_id": "{widget}", "quantity": "1.00001"}]}, "body.lines.0.quantity"),
    ],
)
def test_an_invalid_quote_is_refused_naming_the_field(
    client: TestClient,
    application: SalesApplication,
    catalog: dict[str, Any],
    change: dict[str, Any],
    field: str,
) -> None:
    ids = {"widget": catalog["widget"], "missing": str(uuid4())}
    body = quote_body(catalog) | {name: _fill(value, ids) for name, value in change.items()}
    before = application.recorder.max_notification_id()

    problem = assert_problem(send(client, "POST", "/quotes", body), 422)

    assert [e["field"] for e in problem["errors"]] == [field]
    assert application.recorder.max_notification_id() == before


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids) if value.startswith("{") else value
    if isinstance(value, list):
        return [_fill(item, ids) for item in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


def test_catalog_input_problems_name_the_field(client: TestClient, catalog: dict[str, Any]) -> None:
    duplicate = {"sku": "wid-1", "name": "Copy", "unit": "each", "tax_category": "standard"}
    assert [
        e["field"]
        for e in assert_problem(send(client, "POST", "/products", duplicate), 422)["errors"]
    ] == ["body.sku"]
    draft = ok(
        send(
            client,
            "POST",
            "/price-lists",
            {"name": "x", "currency": "EUR", "valid_from": "2025-01-01"},
        ),
        201,
    )
    tiers = {
        "unit_price": eur("10"),
        "tiers": [
            {"min_quantity": "10", "unit_price": eur("9")},
            {"min_quantity": "5", "unit_price": eur("8")},
        ],
    }
    path = f"/price-lists/{draft['id']}/prices/{catalog['widget']}"
    assert [
        e["field"] for e in assert_problem(send(client, "PUT", path, tiers), 422)["errors"]
    ] == ["body.tiers.1.min_quantity"]
    foreign = {"unit_price": {"amount": "10", "currency": "USD"}}
    assert [
        e["field"] for e in assert_problem(send(client, "PUT", path, foreign), 422)["errors"]
    ] == ["body.unit_price.currency"]
    assert_problem(
        send(
            client, "PUT", f"/price-lists/{draft['id']}/prices/{uuid4()}", {"unit_price": eur("1")}
        ),
        404,
    )
    assert get(client, f"/price-lists/{draft['id']}")["version"] == 1


def test_payment_problems(client: TestClient, catalog: dict[str, Any]) -> None:
    invoice = invoice_for(client, catalog)
    path = f"/invoices/{invoice['id']}/payments"

    for body, field in [
        (payment("1024.11"), "body.amount.amount"),
        (payment("0"), "body.amount.amount"),
        (payment("10", amount={"amount": "10", "currency": "USD"}), "body.amount.currency"),
        (payment("10", method="bitcoin"), "body.method"),
        (payment("10", received_at=(NOW + timedelta(days=1)).isoformat()), "body.received_at"),
        (payment("10", received_at="2025-03-14T09:00:00"), "body.received_at"),
        (payment("10", received_at="0001-01-01T00:00:00+14:00"), "body.received_at"),
        (payment("10", amount={"amount": "10", "currency": "XTS"}), "body.amount.currency"),
    ]:
        problem = assert_problem(send(client, "POST", path, body), 422)
        assert [e["field"] for e in problem["errors"]] == [field]
    assert get(client, f"/invoices/{invoice['id']}")["version"] == 1


# --- wrong state: 409 --------------------------------------------------------------------------


def test_an_expired_quote_cannot_be_accepted(
    client: TestClient, clock: Clock, catalog: dict[str, Any]
) -> None:
    quote = draft_quote(client, catalog, valid_until="2025-03-20")
    ok(send(client, "POST", f"/quotes/{quote['id']}/issue"))
    clock.now = NOW + timedelta(days=7)

    problem = assert_problem(send(client, "POST", f"/quotes/{quote['id']}/accept"), 409)

    assert problem["type"].endswith("/invalid-state") and "expired" in problem["detail"]
    assert get(client, f"/quotes/{quote['id']}")["status"] == "expired"


def test_commands_in_the_wrong_state_are_conflicts(
    client: TestClient, catalog: dict[str, Any]
) -> None:
    draft = draft_quote(client, catalog)
    assert_problem(send(client, "POST", f"/quotes/{draft['id']}/accept"), 409)
    assert_problem(send(client, "POST", "/orders", {"quote_id": draft["id"]}), 409)

    accepted = accepted_quote(client, catalog)
    order = ok(send(client, "POST", "/orders", {"quote_id": accepted["id"]}), 201)
    again = send(client, "POST", "/orders", {"quote_id": accepted["id"]})
    assert "already" in assert_problem(again, 409)["detail"]
    ok(send(client, "POST", f"/orders/{order['id']}/cancel", {"reason": "Budget cut"}))
    assert_problem(send(client, "POST", "/invoices", {"order_id": order["id"]}), 409)

    invoice = invoice_for(client, catalog)
    voided = ok(
        send(client, "POST", f"/invoices/{invoice['id']}/void", {"reason": "Wrong address"})
    )
    assert (voided["status"], voided["balance_due"]) == ("void", eur("0.00"))
    paying_void = send(client, "POST", f"/invoices/{invoice['id']}/payments", payment("1.00"))
    assert assert_problem(paying_void, 409)["type"].endswith("/invalid-state")
    reissued = ok(send(client, "POST", "/invoices", {"order_id": invoice["order_id"]}), 201)
    # The refused invoice of the cancelled order used no number; the void one keeps its own.
    assert (invoice["number"], reissued["number"]) == ("INV-2025-000001", "INV-2025-000002")


def test_unknown_ids_are_not_found(client: TestClient) -> None:
    missing = uuid4()
    for response in (
        client.get(f"/quotes/{missing}", headers=READ),
        client.get(f"/invoices/{missing}/payments/{uuid4()}", headers=READ),
        client.get("/products/sku/NOPE", headers=READ),
        send(client, "POST", f"/quotes/{missing}/issue"),
        send(client, "POST", f"/orders/{missing}/fulfil"),
    ):
        assert_problem(response, 404)
    assert [
        e["field"]
        for e in assert_problem(send(client, "POST", "/orders", {"quote_id": str(missing)}), 422)[
            "errors"
        ]
    ] == ["body.quote_id"]


def test_commands_need_the_write_scope(client: TestClient) -> None:
    body = {"sku": "X-1", "name": "X", "unit": "each", "tax_category": "standard"}
    refused = client.post("/products", json=body, headers={**READ, "Idempotency-Key": str(uuid4())})
    assert_problem(refused, 403)
    assert_problem(client.get("/invoices"), 401)
    assert_problem(client.post("/products", json=body, headers=WRITE), 422)  # no Idempotency-Key


def test_a_price_list_embeds_its_first_prices_by_sku_and_pages_the_rest(client: TestClient) -> None:
    products = [add_product(client, f"SKU-{n:02d}") for n in range(EMBEDDED_LIMIT + 2)]
    price_list = published_price_list(client, *((p["id"], "10.00") for p in reversed(products)))

    rest = ok(client.get(price_list["prices_next"], headers=READ))
    first = get(client, f"/price-lists/{price_list['id']}/prices", limit=3)
    second = get(
        client, f"/price-lists/{price_list['id']}/prices", limit=3, cursor=first["next_cursor"]
    )

    skus = [p["sku"] for p in price_list["prices"] + rest["items"]]
    assert skus == [p["sku"] for p in products] and rest["next_cursor"] is None
    assert [p["sku"] for p in first["items"] + second["items"]] == skus[:6]


def test_an_invoice_embeds_its_first_payments_and_pages_the_rest(
    client: TestClient, catalog: dict[str, Any]
) -> None:
    invoice = invoice_for(client, catalog)
    path = f"/invoices/{invoice['id']}/payments"
    for n in range(EMBEDDED_LIMIT + 1):
        ok(send(client, "POST", path, payment(f"1.{n:02d}")), 201)

    shown = get(client, f"/invoices/{invoice['id']}")
    rest = ok(client.get(shown["payments_next"], headers=READ))

    amounts = [p["amount"]["amount"] for p in shown["payments"] + rest["items"]]
    assert amounts == [f"1.{n:02d}" for n in range(EMBEDDED_LIMIT + 1)]
    assert rest["next_cursor"] is None
    problem = assert_problem(send(client, "GET", path + "?cursor=x"), 422)
    assert [e["field"] for e in problem["errors"]] == ["query.cursor"]
