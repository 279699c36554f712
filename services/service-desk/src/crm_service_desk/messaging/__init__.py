"""The worker's parts: consumers of other services' events, and its loops: the index kept
current, the SLA scheduler, the inbound mail listener and the outbox of the customer mail."""

from __future__ import annotations

from faststream.kafka import KafkaBroker

from crm_platform.loops import Loop

from ..application import ServiceDeskApplication
from ..application.index import IndexProjection
from .customers import subscribe_customers
from .inbound_mail import InboundMailListener
from .outbox import customer_mail
from .scheduler import SlaScheduler
from .settings import ServiceDeskSettings
from .subject_access import subscribe_subject_access_requests


def subscribe(broker: KafkaBroker, application: ServiceDeskApplication) -> None:
    subscribe_customers(broker, application, application.construct_keyring())
    subscribe_subject_access_requests(broker, application)


def background(application: ServiceDeskApplication) -> list[Loop]:
    settings = ServiceDeskSettings()
    listener = InboundMailListener(
        application,
        host=settings.smtp_host,
        port=settings.smtp_port,
        max_message_bytes=settings.smtp_max_message_bytes,
        classifier=settings.classifier(),
    )
    return [
        IndexProjection(application).loop(),
        SlaScheduler(application).loop(poll_seconds=settings.sla_poll_seconds),
        listener.loop(),
        customer_mail(application).loop(interval=0.5),
    ]
