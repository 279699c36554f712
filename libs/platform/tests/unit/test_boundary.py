"""The request boundary: bodies bounded before the token check, the text rule on every input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel

from crm_platform.settings import RequestLimitSettings
from crm_platform.web.app import create_api
from crm_platform.web.auth import Principal, require_scopes
from crm_platform.web.idempotency import OptionalIdempotencyKey
from crm_platform.web.testing import assert_problem, bearer

pytestmark = pytest.mark.unit

LIMITS = RequestLimitSettings(max_body_bytes=64 * 1024, max_json_depth=8, max_string_chars=1000)
TOKEN = bearer("test:write")
Writer = Annotated[Principal, Depends(require_scopes("test:write"))]
received: list[Any] = []  # what the routes saw: nothing when a request is refused


class Email(BaseModel):
    address: str


class Person(BaseModel):
    family_name: str
    note: str | None = None
    emails: list[Email] = []
    extra: dict[str, Any] = {}


def _routes() -> APIRouter:
    router = APIRouter()

    @router.post("/people", status_code=201)
    def register(body: Person, _: Writer, key: OptionalIdempotencyKey = None) -> dict[str, Any]:
        received.append(body.model_dump())
        return {"family_name": body.family_name}

    @router.get("/people/{name}")
    def find(name: str, tag: Annotated[str | None, Query()] = None) -> dict[str, Any]:
        received.append((name, tag))
        return {"name": name, "tag": tag}

    @router.put("/people/{name}")
    def update(name: str, if_match: Annotated[str | None, Header()] = None) -> dict[str, Any]:
        received.append(if_match)
        return {}

    @router.post("/raw")
    async def raw(request: Request) -> dict[str, Any]:
        body = await request.body()
        received.append(body)
        return {"length": len(body), "content_length": request.headers.get("content-length")}

    return router


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    app = create_api(title="Test", service="test", routers=[_routes()], limits=LIMITS)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(autouse=True)
def _forget() -> None:
    received.clear()


def _refused(response: Any, field: str, status: int = 422) -> dict[str, Any]:
    body = assert_problem(response, status)
    if status == 422:
        assert [error["field"] for error in body["errors"]] == [field], body
    assert received == []
    return body


def _post(client: TestClient, payload: bytes, **headers: str) -> Any:
    headers = {"content-type": "application/json", **TOKEN, **headers}
    return client.post("/people", content=payload, headers=headers)


def test_a_valid_request_passes_untouched(client: TestClient) -> None:
    person = {"family_name": "Zoë", "note": "two\nlines\tand a tab", "emails": [{"address": "z@x"}]}
    response = _post(client, json.dumps(person).encode())
    assert response.status_code == 201, response.text
    assert received == [{**person, "extra": {}}]


@pytest.mark.parametrize(
    ("payload", "field", "reason"),
    [
        ({"family_name": "a\u0000b"}, "body.family_name", "NUL"),
        ({"family_name": "a\u009bb"}, "body.family_name", "U+009B"),
        ({"family_name": "a\x7fb"}, "body.family_name", "U+007F"),
        ({"family_name": "a\ud800b"}, "body.family_name", "lone surrogate"),
        (
            {"family_name": "x", "emails": [{"address": "ok"}, {"address": "\x1b[2J"}]},
            "body.emails.1.address",
            "U+001B",
        ),
        ({"family_name": "x", "extra": {"bad\u0000key": 1}}, "body.extra.bad\\u0000key", "NUL"),
        ({"family_name": "x", "extra": {"line\nkey": 1}}, "body.extra.line\\u000akey", "line"),
        ({"family_name": "x" * 1001}, "body.family_name", "longer than 1000"),
    ],
)
def test_unsafe_body_text_is_refused_naming_the_field(
    client: TestClient, payload: dict[str, Any], field: str, reason: str
) -> None:
    body = _refused(_post(client, json.dumps(payload).encode()), field)
    assert reason in body["errors"][0]["detail"]
    if field.startswith("body.emails"):
        assert body["errors"][0]["pointer"] == "#/emails/1/address"


def test_raw_utf8_surrogates_and_del_are_refused_too(client: TestClient) -> None:
    # json.loads decodes bytes with "surrogatepass": an encoded lone surrogate becomes one.
    _refused(_post(client, b'{"family_name": "a\xed\xa0\x80b"}'), "body.family_name")
    _refused(_post(client, b'{"family_name": "a\x7fb"}'), "body.family_name")


def test_body_checks_run_before_the_token_check(client: TestClient) -> None:
    payload = json.dumps({"family_name": "a\u0000b"}).encode()
    response = client.post("/people", content=payload, headers={"content-type": "application/json"})
    _refused(response, "body.family_name")


@pytest.mark.parametrize(
    ("depth", "field"), [(9, "body.extra.deep.0.0.0.0.0.0"), (10_000, "body"), (500_000, None)]
)
def test_deep_json_is_refused_without_unbounded_recursion(
    client: TestClient, depth: int, field: str | None
) -> None:
    nested = "[" * depth + "]" * depth
    payload = f'{{"family_name": "x", "extra": {{"deep": {nested}}}}}'.encode()
    if field is None:  # a megabyte of brackets: refused by size before anything parses it
        _refused(_post(client, payload), "", status=413)
        return
    body = _refused(_post(client, payload), field)
    assert "deeper than 8" in body["errors"][0]["detail"]


def test_depth_at_the_limit_passes(client: TestClient) -> None:
    nested = "[" * 6 + "]" * 6  # body object, extra, then 6 lists: 8 levels
    response = _post(client, f'{{"family_name": "x", "extra": {{"d": {nested}}}}}'.encode())
    assert response.status_code == 201, response.text


def test_a_large_body_without_a_token_gets_413_not_401(client: TestClient) -> None:
    payload = b'{"family_name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = client.post("/people", content=payload, headers={"content-type": "application/json"})
    body = _refused(response, "", status=413)
    assert "at most 65536 bytes" in body["detail"]


async def test_a_chunked_body_is_refused_once_it_grows_past_the_limit(
    client: TestClient,
) -> None:
    read, sent = 0, []

    async def receive() -> dict[str, Any]:  # 1 MiB in 1 KiB chunks, no Content-Length
        nonlocal read
        read += 1
        return {"type": "http.request", "body": b"x" * 1024, "more_body": read < 1024}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")]
    scope = {**_scope("POST", "/people"), "headers": headers}
    await client.app(scope, receive, send)  # type: ignore[arg-type]
    assert sent[0]["status"] == 413
    assert read == LIMITS.max_body_bytes // 1024 + 1  # stopped reading at the limit
    assert received == []


def _scope(method: str, path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }


def test_small_chunked_bodies_arrive_whole(client: TestClient) -> None:
    response = client.post("/raw", content=iter([b'{"a":', b' "b"}']), headers=TOKEN)
    assert response.json()["length"] == 10
    assert received == [b'{"a": "b"}']


def test_other_small_bodies_are_bounded_and_streamed_types_pass(client: TestClient) -> None:
    big = b"x" * (LIMITS.max_body_bytes + 1)
    _refused(client.post("/raw", content=big, headers={"content-type": "text/plain"}), "", 413)
    response = client.post("/raw", content=big, headers={"content-type": "text/csv"})
    assert response.json()["length"] == len(big)


def test_strings_are_nfc_normalized_and_the_length_fixed(client: TestClient) -> None:
    response = _post(client, json.dumps({"family_name": "Zoe\u0308"}).encode())
    assert response.status_code == 201, response.text
    assert received[0]["family_name"] == "Zo\u00eb"
    payload = json.dumps({"name": "Zoe\u0308"}, ensure_ascii=False).encode()
    response = client.post("/raw", content=payload, headers={"content-type": "application/json"})
    assert json.loads(received[-1]) == {"name": "Zo\u00eb"}
    assert response.json()["content_length"] == str(len(received[-1]))


def test_bad_json_is_left_to_the_route(client: TestClient) -> None:
    response = _post(client, b'{"family_name": "\\u00e9", oops}')
    assert assert_problem(response, 400)["type"].endswith("/malformed-body")


def test_form_fields_follow_the_same_rule(client: TestClient) -> None:
    form = {"content-type": "application/x-www-form-urlencoded"}
    _refused(client.post("/raw", content=b"name=a%00b", headers=form), "body.name")
    # Not UTF-8: malformed, which the route answers (as for JSON); the body reaches it untouched.
    assert client.post("/raw", content=b"name=%ff", headers=form).status_code == 200
    assert received == [b"name=%ff"]
    received.clear()
    response = client.post("/raw", content=b"name=Zoe%CC%88&note=a%0Ab", headers=form)
    assert response.status_code == 200
    assert received == [b"name=Zo%C3%AB&note=a%0Ab"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("tag=%00", "query.tag"),
        ("tag=a%0Ab", "query.tag"),
        ("tag=%C2%85", "query.tag"),
        ("tag=%ff", "query.tag"),
        ("tag=50%", "query.tag"),
        ("tag=ok&a%00=1", "query.a\\u0000"),
        ("%ff=1", "query"),
    ],
)
def test_unsafe_or_malformed_query_parameters_are_refused(
    client: TestClient, query: str, field: str
) -> None:
    _refused(client.get(f"/people/someone?{query}"), field)


def test_query_values_are_normalized(client: TestClient) -> None:
    response = client.get("/people/someone?tag=Zoe%CC%88+x")
    assert response.json() == {"name": "someone", "tag": "Zo\u00eb x"}


@pytest.mark.parametrize("path", ["/people/a%00b", "/people/a%ffb", "/people/a%zzb"])
def test_unsafe_or_malformed_paths_are_refused(client: TestClient, path: str) -> None:
    body = _refused(client.get(path), "path")
    assert "\x00" not in body["instance"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Idempotency-Key", b"key-\x00-12345"),
        ("If-Match", b'W/"1"\x85'),
        ("X-Correlation-ID", b"abc\x1bdef"),
    ],
)
def test_unsafe_stored_header_values_are_refused(
    client: TestClient, name: str, value: bytes
) -> None:
    response = client.put("/people/x", headers={name: value})  # type: ignore[dict-item]
    _refused(response, f"header.{name}")


def test_other_headers_are_not_the_boundarys_business(client: TestClient) -> None:
    response = client.get("/people/x", headers={"User-Agent": b"bot\x85"})  # type: ignore[dict-item]
    assert response.status_code == 200


@pytest.mark.parametrize(
    "family_name",
    ["[[[[[[[[[[[[[[", "]]]]]]]]]]]]]]{{{{{{{{{{{{", "Zoë [[[[[[[[[[[[[[[[", "a\\\\b"],
)
def test_brackets_and_escapes_inside_strings_do_not_count_as_nesting(
    client: TestClient, family_name: str
) -> None:
    payload = f'{{"family_name": "{family_name}", "extra": {{"a": [[1]]}}}}'.encode()
    response = _post(client, payload)
    assert response.status_code == 201, response.text
    assert received[0]["family_name"] == json.loads(f'"{family_name}"')


def test_operations_taking_a_body_document_the_413(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    too_large = paths["/people"]["post"]["responses"]["413"]
    assert too_large["content"]["application/problem+json"]["schema"]["$ref"].endswith("/Problem")
    assert "413" not in paths["/people/{name}"]["get"]["responses"]


def test_a_safe_body_reaches_the_route_byte_for_byte(client: TestClient) -> None:
    payload = '{"name": "Zoë 東京 🙂", "note": "a\\nb", "n": [1.50, 1e3]}'.encode()
    client.post("/raw", content=payload, headers={"content-type": "application/json"})
    assert received == [payload]


def test_the_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_HTTP_MAX_BODY_BYTES", "2048")
    monkeypatch.setenv("CRM_HTTP_MAX_JSON_DEPTH", "4")
    monkeypatch.setenv("CRM_HTTP_MAX_STRING_CHARS", "10")
    limits = RequestLimitSettings()
    assert (limits.max_body_bytes, limits.max_json_depth, limits.max_string_chars) == (2048, 4, 10)
    assert RequestLimitSettings.model_fields["max_body_bytes"].default == 1024 * 1024


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (b'{"family_name": "x", "score": NaN}', "body.score"),
        (b'{"family_name": "x", "extra": {"scores": [1, -Infinity]}}', "body.extra.scores.1"),
        (b'{"family_name": "x", "extra": Infinity}', "body.extra"),
    ],
)
def test_nan_and_infinity_are_not_json_numbers(
    client: TestClient, payload: bytes, field: str
) -> None:
    body = _refused(_post(client, payload), field)
    assert "not JSON numbers" in body["errors"][0]["detail"]


def test_the_words_nan_and_infinity_inside_strings_pass(client: TestClient) -> None:
    response = _post(client, b'{"family_name": "NaN Infinity"}')
    assert response.status_code == 201, response.text
    assert response.json() == {"family_name": "NaN Infinity"}
