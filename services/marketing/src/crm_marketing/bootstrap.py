"""The composition root: the marketing service described once; builders come from the platform.

Settings (environment only): ``CRM_MARKETING_*`` for the public base URL of tracking links, the
secret that signs them, the sender address and the send rate; ``CRM_SMTP_*`` for the relay.
"""

from __future__ import annotations

from typing import Any

from faststream.kafka import KafkaBroker
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from crm_platform.loops import Loop
from crm_platform.mail import SmtpSettings
from crm_platform.privacy import PostgresKeyring, subscribe_personal_data_keys
from crm_platform.quarantine import Quarantine
from crm_platform.service import ServiceSpec
from crm_platform.settings import KafkaSettings, PostgresSettings, local_secret
from crm_platform.web.admin import admin_router

from . import messaging
from .api import campaigns_router, profiles_router, public_router, segments_router
from .application import MarketingApplication
from .application.audience_index import PROJECTION as AUDIENCE_INDEX
from .application.audience_index import AudienceIndex
from .application.due import DUE_SENDS, DueSends
from .application.mailer import MAIL_QUEUE, Mailer, MailQueue
from .application.scheduler import scheduler_loops
from .application.tokens import TokenSigner, TrackingLinks
from .contracts import SOURCE_SERVICE, TOPICS, translate
from .messaging.subject_access import subscribe_subject_access_requests

DATABASE = "marketing"


class MarketingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_MARKETING_", extra="ignore")

    public_url: str = Field(
        default="http://127.0.0.1:8003", description="Where recipients reach the public endpoints."
    )
    tracking_secret: SecretStr | None = Field(
        default=None,
        description="Signs tracking links (32+ bytes); unset: a secret kept in the state dir.",
    )
    from_address: str = "news@crm.example"
    messages_per_second: float = Field(default=20.0, gt=0)

    def signer(self) -> TokenSigner:
        if self.tracking_secret is not None:
            return TokenSigner(self.tracking_secret.get_secret_value().encode())
        return TokenSigner(local_secret("marketing/tracking-secret"))

    def links(self) -> TrackingLinks:
        return TrackingLinks(self.public_url, self.signer())


def routers(application: MarketingApplication) -> list[Any]:
    return [
        segments_router(application),
        campaigns_router(application),
        profiles_router(application),
        public_router(application, MarketingSettings().signer()),
        admin_router(
            SOURCE_SERVICE,
            quarantine=lambda: Quarantine.of(application, service=SOURCE_SERVICE),
            # The local projections apply a record again at once; the loops (mailer,
            # launches, birthdays, automated sends) are released to try it on their next round.
            retries={
                AUDIENCE_INDEX: lambda entry: application.audience_index.retry(entry),
                MAIL_QUEUE: lambda entry: MailQueue(application).retry(entry),
                DUE_SENDS: lambda entry: DueSends(application).retry(entry),
            },
        ),
    ]


def subscribe(broker: KafkaBroker, application: MarketingApplication) -> None:
    """Audience profiles from other services' events; personal data opened with a keyring kept
    in marketing's database, fed by the key topic. Subject-access requests are answered."""
    postgres, kafka = PostgresSettings(), KafkaSettings()
    keyring = PostgresKeyring(postgres.dsn(postgres.database or DATABASE))
    subscribe_personal_data_keys(
        broker, keyring, group_id=kafka.group("marketing.personal-data-keys")
    )
    messaging.subscribe(broker, application, keyring, group_id=kafka.group(messaging.GROUP))
    subscribe_subject_access_requests(broker, application)


def background(application: MarketingApplication) -> list[Loop]:
    """The audience index follows the store; the mailer sends what is queued; the scheduler
    launches, greets and fires what falls due."""
    settings = MarketingSettings()
    mailer = Mailer(
        application,
        SmtpSettings().server(),
        settings.links(),
        from_address=settings.from_address,
        messages_per_second=settings.messages_per_second,
    )
    return [AudienceIndex(application).loop(), mailer.loop(), *scheduler_loops(application)]


SPEC = ServiceSpec(
    name=SOURCE_SERVICE,
    title="CRM marketing",
    description="Segments, campaigns (e-mail and telemarketing), tracking, responses and web forms.",
    database=DATABASE,
    port=8003,
    application=MarketingApplication,
    translate=translate,
    topics=TOPICS,
    routers=routers,
    subscribe=subscribe,
    background=background,
)
build_application = SPEC.build_application
build_api = SPEC.build_api
build_relay = SPEC.build_relay
