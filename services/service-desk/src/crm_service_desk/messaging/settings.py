"""The service desk's own settings (environment, prefix ``CRM_SERVICE_DESK_``), and the outgoing
mail server's (``CRM_SMTP_``, the same variables as marketing's)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from crm_platform.settings import local_secret

from ..application.classification import MailClassifier, MailRule
from ..application.outbound import SurveyLinks
from ..domain import Category


class ServiceDeskSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_SERVICE_DESK_", extra="ignore")

    # The inbound mail listener: the MX (or the mail server's forward) delivers support mail here.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(2525, ge=1, le=65535)
    smtp_max_message_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    # How often the SLA scheduler looks for due deadlines: a breach is recorded at most this late.
    sla_poll_seconds: float = Field(5.0, gt=0)
    # Sorting inbound mail: an address per queue, e.g. {"complaints@crm.example": "complaint"},
    # and rules, e.g. [{"words": ["refund", "invoice"], "category": "billing"}] (JSON).
    mail_queues: dict[str, Category] = Field(default_factory=dict)
    mail_rules: list[MailRule] = Field(default_factory=list)
    # The mail to customers: who it is from, and where their survey links lead.
    from_address: str = "support@crm.example"
    public_url: str = Field(
        default="http://127.0.0.1:8004", description="Where customers reach the survey endpoint."
    )
    survey_secret: SecretStr | None = Field(
        default=None,
        description="Signs survey links (32+ bytes); unset: a secret kept in the state dir.",
    )

    def classifier(self) -> MailClassifier:
        return MailClassifier(self.mail_queues, self.mail_rules)

    def survey_links(self) -> SurveyLinks:
        if self.survey_secret is not None:
            secret = self.survey_secret.get_secret_value().encode()
        else:
            secret = local_secret("service-desk/survey-secret")
        return SurveyLinks(self.public_url, secret)
