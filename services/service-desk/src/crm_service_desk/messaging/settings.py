"""The service desk's own settings (environment, prefix ``CRM_SERVICE_DESK_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceDeskSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_SERVICE_DESK_", extra="ignore")

    # The inbound mail listener: the MX (or the mail server's forward) delivers support mail here.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(2525, ge=1, le=65535)
    smtp_max_message_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    # How often the SLA scheduler looks for due deadlines: a breach is recorded at most this late.
    sla_poll_seconds: float = Field(5.0, gt=0)
