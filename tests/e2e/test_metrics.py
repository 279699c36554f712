"""Every process serves its Prometheus metrics; after a command, the named series have samples.

The api serves /metrics on its HTTP port; a relay or a worker on CRM_METRICS_PORT. These processes
get a database, consumer groups and a MongoDB database of their own, so that the relay is the
active one and the worker owns every partition, whatever else the session runs.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from crm_events.contacts import CustomerRegisteredV2
from crm_platform.testing import ServiceProcess, eventually, free_port

pytestmark = pytest.mark.e2e

TOPIC = CustomerRegisteredV2.topic()
Samples = dict[str, list[dict[str, str]]]  # series name -> label sets with a sample


@pytest.fixture(scope="module")
def processes(
    platform_env: dict[str, str], fresh_database, tmp_path_factory
) -> Iterator[dict[str, ServiceProcess]]:
    env = platform_env | {
        "CRM_POSTGRES_DATABASE": fresh_database("metrics_contacts"),
        "CRM_KAFKA_GROUP_PREFIX": f"metrics-{uuid.uuid4().hex[:8]}.",
        "CRM_MONGODB_DATABASE": f"metrics_{uuid.uuid4().hex[:8]}",
    }
    logs: Path = tmp_path_factory.mktemp("metrics-logs")
    started: dict[str, ServiceProcess] = {}

    def start(command: str, http: bool = False) -> None:
        # Each relay and worker on a port of its own: on one machine they would all want 9464.
        extra = {} if http else {"CRM_METRICS_PORT": str(free_port())}
        process = ServiceProcess(command, env | extra, logs, free_port() if http else None)
        started[command] = process.start()

    try:
        for command in ("crm-contacts-api", "crm-analytics-api"):
            start(command, http=True)
        for command in ("crm-contacts-relay", "crm-contacts-worker", "crm-analytics-worker"):
            start(command)
        yield started
    finally:
        for process in started.values():
            process.stop()


def metrics_url(process: ServiceProcess) -> str:
    port = process.port or int(process.env["CRM_METRICS_PORT"])
    return f"http://127.0.0.1:{port}/metrics"


def scrape(process: ServiceProcess) -> Samples:
    response = httpx.get(metrics_url(process), timeout=5)
    assert response.status_code == 200, f"{process.command}: {response.status_code}"
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample.labels)
    return samples


Series = tuple[str, dict[str, str]]  # a series name and labels one of its samples must have


def series(name: str, **labels: str) -> Series:
    return name, labels


def missing(samples: Samples, expected: tuple[Series, ...]) -> list[Series]:
    return [
        (name, labels)
        for name, labels in expected
        if not any(labels.items() <= found.items() for found in samples.get(name, ()))
    ]


def eventually_scraped(process: ServiceProcess, *expected: Series, within: float = 60) -> Samples:
    """The first scrape that has every ``expected`` series (the server starts with the process;
    the samples come as the process works)."""

    def complete() -> Samples:
        samples = scrape(process)
        lacking = missing(samples, expected)
        assert not lacking, f"{process.command} lacks {lacking}\n{process.log_tail(10)}"
        return samples

    return eventually(
        complete,
        what=f"{process.command}'s metrics",
        within=within,
        retry_on=(AssertionError, httpx.HTTPError),
    )


@pytest.fixture(scope="module")
def customer_registered(processes: dict[str, ServiceProcess], token: str) -> str:
    """One command, and one message the worker cannot read (so that it dead-letters one)."""
    response = httpx.post(
        f"{processes['crm-contacts-api'].url}/customers",
        json={"given_name": "Katherine", "family_name": "Johnson"},
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    asyncio.run(put_poison(processes["crm-contacts-relay"].env["CRM_KAFKA_BOOTSTRAP_SERVERS"]))
    return response.json()["id"]


async def put_poison(bootstrap: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(TOPIC, b"{not an event", key=b"metrics-poison")
    finally:
        await producer.stop()


def test_an_api_counts_and_times_requests_by_route_template(
    processes: dict[str, ServiceProcess], customer_registered: str
) -> None:
    api = processes["crm-contacts-api"]
    url = f"{api.url}/customers/{customer_registered}"
    assert httpx.get(url, timeout=5).status_code == 401  # no token: counted all the same
    samples = eventually_scraped(
        api,
        series("crm_http_requests_total", service="contacts", route="/customers", status="201"),
        series("crm_http_requests_total", route="/customers/{customer_id}", status="401"),
        series("crm_http_request_duration_seconds_bucket", method="POST", route="/customers"),
    )
    routes = {labels["route"] for labels in samples["crm_http_requests_total"]}
    assert not any(customer_registered in route for route in routes), "templates, not paths"
    assert not {"/metrics", "/healthz", "/readyz"} & routes, "probes and scrapes are not counted"
    analytics = processes["crm-analytics-api"]
    httpx.get(f"{analytics.url}/customers/{customer_registered}/360", timeout=5)
    eventually_scraped(analytics, series("crm_http_requests_total", service="analytics"))


def test_the_relay_reports_what_it_published_its_lag_and_that_it_is_active(
    processes: dict[str, ServiceProcess], customer_registered: str
) -> None:
    eventually_scraped(
        processes["crm-contacts-relay"],
        series("crm_relay_published_total", service="contacts", topic=TOPIC),
        series("crm_relay_lag_events", service="contacts"),
        series("crm_relay_active", service="contacts"),
    )
    samples = httpx.get(metrics_url(processes["crm-contacts-relay"]), timeout=5).text
    assert 'crm_relay_active{service="contacts"} 1.0' in samples


def test_a_worker_reports_outcomes_processing_time_lag_and_dead_letters(
    processes: dict[str, ServiceProcess], customer_registered: str
) -> None:
    group = (
        f"{processes['crm-analytics-worker'].env['CRM_KAFKA_GROUP_PREFIX']}analytics.customer-360"
    )
    eventually_scraped(
        processes["crm-analytics-worker"],
        series("crm_consumer_events_total", group=group, topic=TOPIC, outcome="applied"),
        series("crm_consumer_events_total", group=group, topic=TOPIC, outcome="dead_lettered"),
        series("crm_consumer_processing_seconds_count", group=group, topic=TOPIC),
        series("crm_consumer_lag_messages", group=group, topic=TOPIC),
        series("crm_dead_letters_total", group=group, topic=TOPIC),
        # The new group walks the shared topic's history first (other tests' records, some of
        # them retried and dead-lettered) before its lag is measured at an acknowledged batch.
        within=240,
    )
    # A worker with nothing consumed yet still serves its metrics.
    eventually_scraped(processes["crm-contacts-worker"], series("python_info"))


def test_the_analytics_worker_reports_the_freshness_of_the_customer_360(
    processes: dict[str, ServiceProcess], customer_registered: str
) -> None:
    eventually_scraped(
        processes["crm-analytics-worker"],
        series("crm_read_model_freshness_seconds", model="customer_360"),
    )
