"""The ``alerts`` section: what is worth telling the owner at once (R10), and where it goes
(a webhook, e-mail). ``dialerd.config.rules.alert_rules`` turns it into the policy's Rules."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated

from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from dialerd.config.secrets import read_secret
from dialerd.config.values import Section, email_addresses, http_url


class AlertWebhookSettings(Section):
    url: str | None = None  # None: no webhook alerts
    secret: SecretStr | None = None  # optional: signs the body like the CRM webhook
    secret_file: Path | None = None
    timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return http_url(value)

    def resolved_secret(self) -> str | None:
        return read_secret("alerts.webhook.secret", self.secret, self.secret_file)


class AlertEmailSettings(Section):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    host: str | None = None  # None: no e-mail alerts
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    starttls: bool = True
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    sender: str = Field("dialerd@localhost", alias="from")
    to: list[str] = []
    timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0

    @field_validator("sender")
    @classmethod
    def _sender_address(cls, value: str) -> str:
        return email_addresses(value)

    @field_validator("to")
    @classmethod
    def _recipient_addresses(cls, value: list[str]) -> list[str]:
        return email_addresses(value)

    @model_validator(mode="after")
    def _recipients(self) -> AlertEmailSettings:
        if self.host is not None and not self.to:
            raise ValueError("give at least one recipient in 'to' (or set host to null)")
        return self

    def resolved_password(self) -> str | None:
        return read_secret("alerts.email.password", self.password, self.password_file)


class AlertsSettings(Section):
    """Real-time alerts to the owner (R10): what is worth a message, and where it goes."""

    webhook: AlertWebhookSettings = AlertWebhookSettings()
    email: AlertEmailSettings = AlertEmailSettings.model_validate({})
    complaint: bool = True
    detractor: bool = True  # a post-call survey answered 0-6 to "would you recommend us"
    big_order_amount: Annotated[Decimal, Field(ge=0)] | None = None
    speed_to_lead_warn_min: Annotated[float, Field(gt=0, le=24 * 60)] | None = 3.0
    speed_to_lead_missed: bool = True
    ami_down_s: Annotated[float, Field(gt=0, le=86400)] | None = 60.0
    crm_backlog: Annotated[int, Field(ge=1)] | None = 100
    no_operators: bool = True  # leads past their deadline while no operator is signed in
    # the median answer → operator wait of the last 30 min's calls above this (null: off)
    dead_air_s: Annotated[float, Field(gt=0, le=600)] | None = 5.0
    # a caller ID answered on less than this share of its campaign's other numbers' rate
    caller_id_share: Annotated[float, Field(gt=0, lt=1)] | None = 0.5
    caller_id_min_attempts: Annotated[int, Field(ge=1, le=100_000)] = 30
    max_tries: Annotated[int, Field(ge=1, le=100)] = 8
    backoff_initial_s: Annotated[float, Field(gt=0, le=3600)] = 10.0
    backoff_max_s: Annotated[float, Field(gt=0, le=86400)] = 600.0
