"""The ``reports`` section: what the numbers cost and count against (docs/metrics.md),
and the reports the daemon sends on its own (cron schedules, e-mail or webhook)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Literal

from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dialerd.config.values import email_addresses, http_url, plain_name

Breakdown = Literal["date", "hour", "group", "operator", "campaign"]
ReportFormat = Literal["html", "csv", "json"]
# Periods a scheduled report covers, relative to its fire time in the centre's time zone.
SchedulePeriod = Literal[
    "today", "yesterday", "last_7_days", "last_week", "month_to_date", "last_month"
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CostSettings(_Section):
    """Cost per contact = (operator cost/h × staffed hours + telephony/min × billed minutes)
    / conversations; money in the shop's currency (major units, like lead amounts)."""

    operator_per_hour: Annotated[Decimal, Field(ge=0)] = Decimal(0)
    telephony_per_minute: Annotated[Decimal, Field(ge=0)] = Decimal(0)
    # Carriers bill answered calls in increments: per started minute (60), per second (1),
    # 6 or 10 or 30 s (the report's rollup keeps the billed seconds for each of these).
    billing_increment_s: Literal[1, 6, 10, 30, 60] = 60


class ServiceLevelSettings(_Section):
    """Inbound queue service level: answered within ``answer_within_s`` / offered; 80/20."""

    answer_within_s: Annotated[float, Field(gt=0, le=3600)] = 20.0
    target: Annotated[float, Field(gt=0, le=1)] = 0.8


class ScheduleSettings(_Section):
    """One report sent by the daemon at the times of a cron expression (minute hour dom mon dow,
    in the centre's time zone)."""

    name: str
    cron: str
    period: SchedulePeriod = "yesterday"
    by: Breakdown | None = "date"
    format: ReportFormat = "html"
    email: list[str] = []  # recipients; sent through the alerts.email SMTP server
    webhook: str | None = None  # POSTed as JSON (the report) to this URL
    # A run missed while the daemon was down: "skip" it, or "run_once" at the next start.
    missed: Literal["skip", "run_once"] = "skip"

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return plain_name("schedule", value)

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        try:
            CronTrigger.from_crontab(value, timezone="UTC")
        except ValueError as error:
            raise ValueError(
                f"not a cron expression (minute hour day month weekday): {error}"
            ) from None
        return value

    @field_validator("email")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        return email_addresses(value)

    @field_validator("webhook")
    @classmethod
    def _webhook(cls, value: str | None) -> str | None:
        return http_url(value)

    @model_validator(mode="after")
    def _somewhere(self) -> ScheduleSettings:
        if not self.email and self.webhook is None:
            raise ValueError(f"schedule {self.name!r}: give 'email' recipients or a 'webhook'")
        return self


class ReportsSettings(_Section):
    """How the owner's numbers are computed and delivered."""

    # ISO 4217 code of the shop's currency (RUB, EUR, ...), shown with every amount; None: none
    currency: str | None = None
    # How the HTML report, the table and the e-mail write money: "en" RUB 1,234.50, "ru"
    # 1 234,50 ₽. None: console.language. JSON and CSV keep machine formats.
    locale: Literal["en", "ru"] | None = None

    # AHT the staffing plan assumed; the report shows forecast / actual. None: not shown.
    aht_forecast_s: Annotated[float, Field(gt=0, le=24 * 3600)] | None = None
    costs: CostSettings = CostSettings()
    service_level: ServiceLevelSettings = ServiceLevelSettings()
    # Staffing estimate: the share of new leads to dial within their speed-to-lead target.
    staffing_target_share: Annotated[float, Field(gt=0, lt=1)] = 0.8
    schedules: list[ScheduleSettings] = []

    @field_validator("currency")
    @classmethod
    def _iso_4217(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Z]{3}", value):
            raise ValueError(f"{value!r} is not an ISO 4217 currency code such as RUB or EUR")
        return value

    @field_validator("schedules")
    @classmethod
    def _unique(cls, value: list[ScheduleSettings]) -> list[ScheduleSettings]:
        names = [schedule.name for schedule in value]
        if len(names) != len(set(names)):
            raise ValueError("schedule names must be unique")
        return value
