"""The metrics' configuration, from the environment (prefix ``CRM_ANALYTICS_METRICS_``).

The models' parameters are configuration rather than constants because they are business
assumptions (how loyal customers are, what money costs) that the people
reading the figures should be able to set and see.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..domain.metrics_value import ValueModel
from .metrics_scores import ScoringSettings


class MetricsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_ANALYTICS_METRICS_", extra="ignore")

    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$", description="Reporting currency.")
    retention: Decimal = Field(default=Decimal("0.8"), ge=0, le=1)
    discount_rate: Decimal = Field(default=Decimal("0.1"), ge=0)
    horizon_years: int = Field(default=3, ge=0, le=50)
    scoring_seconds: float = Field(default=300.0, gt=0)

    def scoring(self) -> ScoringSettings:
        model = ValueModel(self.retention, self.discount_rate, self.horizon_years)
        return ScoringSettings(currency=self.currency, model=model)
