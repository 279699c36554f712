"""The worker's parts: consumers of other services' events and the service desk's own loops
(the SLA scheduler and the inbound mail listener)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from faststream.kafka import KafkaBroker

from crm_platform.runtime import Background

from ..application import ServiceDeskApplication
from .customers import subscribe_customers
from .inbound_mail import serve_inbound_mail
from .scheduler import run_sla_scheduler
from .settings import ServiceDeskSettings


def subscribe(broker: KafkaBroker, application: ServiceDeskApplication) -> None:
    subscribe_customers(broker, application, application.construct_keyring())


def background(application: ServiceDeskApplication) -> Sequence[Background]:
    settings = ServiceDeskSettings()
    return [
        partial(run_sla_scheduler, application, poll_seconds=settings.sla_poll_seconds),
        partial(
            serve_inbound_mail,
            application,
            host=settings.smtp_host,
            port=settings.smtp_port,
            max_message_bytes=settings.smtp_max_message_bytes,
        ),
    ]
