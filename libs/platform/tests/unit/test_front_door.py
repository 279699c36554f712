"""The front door: which client a request comes from, and what every answer declares."""

from __future__ import annotations

import ipaddress

import pytest
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient

from crm_platform.web.app import create_api
from crm_platform.web.front_door import FrontDoorSettings, client_address
from crm_platform.web.rate_limit import RateLimit, RateLimitSettings, client_key
from crm_platform.web.testing import assert_problem, counting_in_memory

pytestmark = pytest.mark.unit

PROXIES = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8")]


@pytest.mark.parametrize(
    ("peer", "chain", "client"),
    [
        ("203.0.113.9", ["1.2.3.4"], "203.0.113.9"),  # an untrusted peer's header is ignored
        ("10.0.0.2", ["198.51.100.7"], "198.51.100.7"),
        ("10.0.0.2", ["6.6.6.6, 198.51.100.7"], "198.51.100.7"),  # the visitor's own, left
        ("10.0.0.2", ["6.6.6.6, 198.51.100.7, 10.0.0.3"], "198.51.100.7"),  # two proxies
        ("10.0.0.2", ["6.6.6.6", "198.51.100.7"], "198.51.100.7"),  # repeated headers
        ("10.0.0.2", [], "10.0.0.2"),
        ("10.0.0.2", ["10.0.0.3"], "10.0.0.3"),  # trusted all the way: the last hop
        ("10.0.0.2", ["not-an-ip, 10.0.0.3"], "10.0.0.3"),  # nothing known beyond garbage
        ("fd00::1", ["[2001:db8::5]"], "2001:db8::5"),
    ],
)
def test_the_client_is_the_right_most_untrusted_address(
    peer: str, chain: list[str], client: str
) -> None:
    assert client_address(peer, chain, PROXIES) == client


def test_settings_read_comma_separated_lists_as_uvicorn_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CRM_HTTP_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.7")
    monkeypatch.setenv("CRM_HTTP_CORS_ORIGINS", "https://www.example.com")

    settings = FrontDoorSettings()

    assert settings.trusted_proxies == [
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("192.168.1.7/32"),
    ]
    assert settings.cors_origins == ["https://www.example.com"]
    assert FrontDoorSettings(_env_file=None).public_base_url is None


def test_ipv6_clients_share_their_64_block() -> None:
    assert client_key("2001:db8::1") == client_key("2001:db8::ffff:1") == "2001:db8::/64"
    assert client_key("198.51.100.7") == "198.51.100.7"


def _app(**settings: object) -> TestClient:
    router = APIRouter()
    limited = RateLimit("probe", RateLimitSettings(limit=2, window_seconds=60))

    @router.get("/who", dependencies=[Depends(limited)])
    def who(request: Request) -> dict[str, str]:
        return {
            "client": request.client.host if request.client else "",
            "scheme": request.url.scheme,
        }

    @router.get("/page", response_class=HTMLResponse)
    def page() -> HTMLResponse:
        return HTMLResponse("<p>hi</p>")

    @router.post("/things", status_code=201)
    def create(request: Request, response: Response) -> dict[str, str]:
        response.headers["Location"] = str(request.url_for("thing", thing_id="7"))
        return {}

    @router.get("/things/{thing_id}", name="thing")
    def thing(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    @router.get("/list")
    def listed(request: Request, response: Response) -> list[str]:
        url = request.url.include_query_params(cursor="abc")
        response.headers["Link"] = f'<{url}>; rel="next"'
        return []

    @router.get("/away")
    def away(response: Response) -> dict[str, str]:
        response.headers["Location"] = "https://shop.example/offer"
        return {}

    front_door = FrontDoorSettings.model_validate(settings)
    app = create_api(title="t", service="t", routers=[router], front_door=front_door)
    return TestClient(counting_in_memory(app), client=("10.0.0.2", 5000))


def test_forwarded_headers_count_only_from_a_trusted_proxy() -> None:
    behind = _app(trusted_proxies="10.0.0.0/8")
    answer = behind.get("/who", headers={"X-Forwarded-For": "6.6.6.6, 198.51.100.7"})
    assert answer.json()["client"] == "198.51.100.7"

    exposed = _app()  # no proxy trusted: the peer is the client, whatever it says
    answers = [
        exposed.get("/who", headers={"X-Forwarded-For": f"198.51.100.{n}"}) for n in range(3)
    ]
    assert answers[0].json()["client"] == "10.0.0.2"
    assert [a.status_code for a in answers] == [200, 200, 429]  # rotating it resets nothing
    assert int(answers[2].headers["Retry-After"]) >= 1
    assert_problem(answers[2], 429)


def test_every_answer_carries_the_security_headers() -> None:
    client = _app(trusted_proxies="10.0.0.0/8")

    api = client.get("/things/1")
    page = client.get("/page")
    refused = client.get("/nowhere")

    for answer in (api, page, refused):
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Referrer-Policy"] == "no-referrer"
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
        assert answer.headers["Cache-Control"] == "no-store"
        assert "Strict-Transport-Security" not in answer.headers  # plain HTTP
    assert "form-action 'self'" in page.headers["Content-Security-Policy"]
    https = client.get("/things/1", headers={"X-Forwarded-Proto": "https"})
    assert https.headers["Strict-Transport-Security"].startswith("max-age=")
    assert client.get("/healthz").headers["X-Content-Type-Options"] == "nosniff"


def test_an_untrusted_peer_cannot_claim_https() -> None:
    answer = _app().get("/who", headers={"X-Forwarded-Proto": "https"})
    assert answer.json()["scheme"] == "http"
    assert "Strict-Transport-Security" not in answer.headers


def test_location_never_reflects_the_request_host() -> None:
    relative = _app().post("/things", headers={"Host": "evil.example"})
    assert relative.headers["Location"] == "/things/7"

    configured = _app(public_base_url="https://crm.example.com")
    based = configured.post("/things", headers={"Host": "evil.example"})
    assert based.headers["Location"] == "https://crm.example.com/things/7"
    listed = configured.get("/list", headers={"Host": "evil.example"})
    assert listed.headers["Link"] == '<https://crm.example.com/list?cursor=abc>; rel="next"'
    # A Location to another site (a tracked link's target) is the route's own choice.
    away = configured.get("/away", headers={"Host": "evil.example"}, follow_redirects=False)
    assert away.headers["Location"] == "https://shop.example/offer"


def test_cors_is_closed_unless_origins_are_configured() -> None:
    preflight = {
        "Origin": "https://www.example.com",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    closed = _app().options("/things", headers=preflight)
    assert "access-control-allow-origin" not in closed.headers

    open_ = _app(cors_origins="https://www.example.com")
    allowed = open_.options("/things", headers=preflight)
    assert allowed.headers["access-control-allow-origin"] == "https://www.example.com"
    other = open_.options("/things", headers={**preflight, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    assert other.headers["X-Content-Type-Options"] == "nosniff"
