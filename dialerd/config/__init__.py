"""Configuration: one YAML file plus ``DIALERD_*`` environment overrides.

Unknown keys are errors (a typo must not silently fall back to a default), every
error names the file, the line and the field path, and secrets never sit in the
YAML file: they come from the environment (``DIALERD_AMI__SECRET``) or a file.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import string
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from dialerd.config.operators import (
    AbandonSettings,
    GroupSettings,
    OperatorSettings,
    PredictiveSettings,
    RecordingSettings,
    operator_problems,
)
from dialerd.config.reports import ReportsSettings
from dialerd.config.values import email_addresses, http_url, plain_name
from dialerd.policy.ami_safety import check_ami_value
from dialerd.policy.dedup import DuplicateRule
from dialerd.policy.modes import DialMode
from dialerd.policy.priority import Scheme
from dialerd.policy.window import CallingWindow, Hours, Weekday

DEFAULT_CONFIG_PATH = Path("/etc/dialerd/dialerd.yaml")
ENV_PREFIX = "DIALERD_"


class ConfigError(Exception):
    """A config that must not be used; ``problems`` are ready-to-print lines."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreSettings(_Section):
    path: Path = Path("/var/lib/dialerd/dialerd.sqlite3")
    wake_socket: Path | None = None

    @property
    def wake_socket_path(self) -> Path:
        """Datagram socket the CLI pokes so a running daemon sees new leads at once."""
        return self.wake_socket or self.path.with_name(self.path.name + ".wake")


class PhoneSettings(_Section):
    default_region: str = "RU"

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if value.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown region {value!r} (use an ISO 3166 code such as RU, US, DE)")
        return value.upper()


class AmiSettings(_Section):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 5038
    username: str = "dialer"
    secret: SecretStr | None = None
    secret_file: Path | None = None
    login_timeout_s: Annotated[float, Field(gt=0, le=120)] = 10.0
    reconnect_initial_s: Annotated[float, Field(gt=0, le=60)] = 0.5
    reconnect_max_s: Annotated[float, Field(gt=0, le=600)] = 30.0
    ping_interval_s: Annotated[float, Field(gt=0, le=600)] = 10.0
    event_filter: bool = True  # AMI Filter: only the events dialerd listens to

    @field_validator("host", "username")
    @classmethod
    def _ami_safe(cls, value: str) -> str:
        check_ami_value(value)
        return value

    def resolved_secret(self) -> str:
        """The AMI secret from the environment or the secret file; never logged."""
        if self.secret is not None:
            return self.secret.get_secret_value()
        if self.secret_file is not None:
            try:
                return self.secret_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(
                    [f"ami.secret_file: cannot read {self.secret_file}: {exc.strerror}"]
                ) from exc
        raise ConfigError(
            ["ami.secret: not set; set DIALERD_AMI__SECRET in the environment or ami.secret_file"]
        )


class RetryDelays(_Section):
    """Seconds to wait before the next attempt, by the previous attempt's outcome (R4)."""

    busy: Annotated[float, Field(ge=0)] = 600
    no_answer: Annotated[float, Field(ge=0)] = 1800
    congestion: Annotated[float, Field(ge=0)] = 300
    failed: Annotated[float, Field(ge=0)] = 3600
    abandoned: Annotated[float, Field(ge=0)] = 120
    unknown: Annotated[float, Field(ge=0)] = 1800
    # None: an answered call closes the lead (results live in the CRM); a number: redial
    # after that long unless the operator's result arrives first.
    answered: Annotated[float, Field(ge=0)] | None = None


_TEMPLATE_FIELDS = {"number", "e164"}


class DialingSettings(_Section):
    """How calls are placed through Asterisk (the same for every campaign)."""

    max_concurrent_calls: Annotated[int, Field(ge=1, le=2000)] = 10
    channel_template: str = "PJSIP/{number}@trunk"
    context: str = "dialer-connect"
    exten: str = "s"
    priority: Annotated[int, Field(ge=1)] = 1
    caller_id: str | None = None
    originate_timeout_s: Annotated[float, Field(gt=0, le=300)] = 30.0
    safety_recheck_s: Annotated[float, Field(gt=0, le=3600)] = 30.0
    # agent_first: the operator's phone rings this long; once answered, Asterisk continues
    # at this context/exten, which dials the customer (config/asterisk/extensions.conf)
    agent_first_context: str = "dialer-agent-first"
    agent_first_exten: str = "s"
    operator_ring_timeout_s: Annotated[float, Field(gt=0, le=120)] = 20.0
    operator_missed_pause_s: Annotated[float, Field(ge=0, le=3600)] = 60.0
    # The dialplan subroutine pushed as a hangup handler on every call dialerd places: it
    # writes the call's end into AstDB, so a call that ends while dialerd is down (a crash,
    # an AMI drop) is settled from Asterisk's record. null: no handler (settled 'unknown').
    hangup_handler: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")] | None = "dialer-hangup"

    @field_validator("agent_first_context", "agent_first_exten")
    @classmethod
    def _ami_safe_agent(cls, value: str) -> str:
        check_ami_value(value)
        return value

    @field_validator("channel_template")
    @classmethod
    def _template(cls, value: str) -> str:
        check_ami_value(value)
        fields = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        if "number" not in fields and "e164" not in fields:
            raise ValueError("must contain {number} (E.164 digits without '+') or {e164}")
        if unknown := fields - _TEMPLATE_FIELDS:
            raise ValueError(
                f"unknown placeholder(s) {sorted(unknown)}; allowed: {{number}}, {{e164}}"
            )
        return value

    @field_validator("context", "exten", "caller_id")
    @classmethod
    def _ami_safe(cls, value: str | None) -> str | None:
        if value is not None:
            check_ami_value(value)
        return value


def _wall_time(value: object) -> object:
    """YAML 1.1 reads an unquoted 10:00 as the base-60 integer 600: take it as the time meant."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        return dt.time(value // 60, value % 60)
    return value


WallTime = Annotated[dt.time, BeforeValidator(_wall_time)]


class HoursSettings(_Section):
    open: WallTime
    close: WallTime


class WindowSettings(_Section):
    """When the centre may dial (R6): wall-clock hours in its IANA time zone."""

    timezone: str = "Europe/Moscow"
    open: WallTime = dt.time(10, 0)
    close: WallTime = dt.time(22, 0)
    days_off: list[Weekday] = []
    holidays: list[dt.date] = []
    weekdays: dict[Weekday, HoursSettings | Literal["closed"]] = {}

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name such as Europe/Moscow)"
            ) from None
        return value

    @model_validator(mode="after")
    def _buildable(self) -> WindowSettings:
        self.build()
        return self

    def build(self) -> CallingWindow:
        overrides = {
            day: None if hours == "closed" else Hours(hours.open, hours.close)
            for day, hours in self.weekdays.items()
        }
        return CallingWindow(
            ZoneInfo(self.timezone),
            self.open,
            self.close,
            days_off=frozenset(self.days_off),
            holidays=frozenset(self.holidays),
            overrides=overrides,
        )


class LocalHoursSettings(_Section):
    """Also respect each lead's own local hours (time zones from its number)."""

    enabled: bool = False
    open: WallTime | None = None  # default: the centre's open/close
    close: WallTime | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> LocalHoursSettings:
        if (self.open is None) != (self.close is None):
            raise ValueError("give both open and close, or neither")
        return self

    def hours(self) -> Hours | None:
        return None if self.open is None or self.close is None else Hours(self.open, self.close)


class DuplicateSettings(_Section):
    """R2: variant A ``phone_and_order`` or variant B ``phone_window``."""

    rule: DuplicateRule = DuplicateRule.PHONE_AND_ORDER
    window_h: Annotated[float, Field(gt=0, le=24 * 365)] = 24.0


class CampaignSettings(_Section):
    scheme: Scheme = Scheme.TIERS
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 7
    retry_delays: RetryDelays = RetryDelays()
    speed_to_lead_min: Annotated[float, Field(gt=0, le=24 * 60)] = 15.0
    duplicates: DuplicateSettings = DuplicateSettings()
    local_hours: LocalHoursSettings = LocalHoursSettings()
    # Dialing mode and pacing (R7, issue 4); see config_operators.py.
    mode: DialMode = DialMode.CUSTOMER_FIRST
    group: str | None = None
    dial_ratio: Annotated[float, Field(ge=1, le=10)] = 1.0
    abandon: AbandonSettings = AbandonSettings()
    predictive: PredictiveSettings = PredictiveSettings()


def _read_secret(name: str, secret: SecretStr | None, secret_file: Path | None) -> str | None:
    """A secret from the environment (as ``secret``) or its file; None when neither is set."""
    if secret is not None:
        return secret.get_secret_value()
    if secret_file is not None:
        try:
            return secret_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError([f"{name}_file: cannot read {secret_file}: {exc.strerror}"]) from exc
    return None


class CrmSettings(_Section):
    """Results pushed to the shop's CRM webhook (R9) through the durable outbox."""

    url: str | None = None  # None: results are still recorded in the outbox, not pushed
    secret: SecretStr | None = None
    secret_file: Path | None = None
    timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0
    max_tries: Annotated[int, Field(ge=1, le=1000)] = 30
    backoff_initial_s: Annotated[float, Field(gt=0, le=3600)] = 5.0
    backoff_max_s: Annotated[float, Field(gt=0, le=86400)] = 1800.0

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return http_url(value)

    def resolved_secret(self) -> str | None:
        """The HMAC key (env DIALERD_CRM__SECRET or secret_file); required once a URL is set."""
        if self.url is None:
            return None
        secret = _read_secret("crm.secret", self.secret, self.secret_file)
        if not secret:
            raise ConfigError(
                [
                    "crm.secret: not set; the webhook is signed: set DIALERD_CRM__SECRET "
                    "or crm.secret_file"
                ]
            )
        return secret


class AlertWebhookSettings(_Section):
    url: str | None = None  # None: no webhook alerts
    secret: SecretStr | None = None  # optional: signs the body like the CRM webhook
    secret_file: Path | None = None
    timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return http_url(value)

    def resolved_secret(self) -> str | None:
        return _read_secret("alerts.webhook.secret", self.secret, self.secret_file)


class AlertEmailSettings(_Section):
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

    @field_validator("sender", "to")
    @classmethod
    def _addresses(cls, value: str | list[str]) -> str | list[str]:
        return email_addresses(value)

    @model_validator(mode="after")
    def _recipients(self) -> AlertEmailSettings:
        if self.host is not None and not self.to:
            raise ValueError("give at least one recipient in 'to' (or set host to null)")
        return self

    def resolved_password(self) -> str | None:
        return _read_secret("alerts.email.password", self.password, self.password_file)


class AlertsSettings(_Section):
    """Real-time alerts to the owner (R10): what is worth a message, and where it goes."""

    webhook: AlertWebhookSettings = AlertWebhookSettings()
    email: AlertEmailSettings = AlertEmailSettings.model_validate({})
    complaint: bool = True
    big_order_amount: Annotated[Decimal, Field(ge=0)] | None = None
    speed_to_lead_warn_min: Annotated[float, Field(gt=0, le=24 * 60)] | None = 3.0
    speed_to_lead_missed: bool = True
    ami_down_s: Annotated[float, Field(gt=0, le=86400)] | None = 60.0
    crm_backlog: Annotated[int, Field(ge=1)] | None = 100
    max_tries: Annotated[int, Field(ge=1, le=100)] = 8
    backoff_initial_s: Annotated[float, Field(gt=0, le=3600)] = 10.0
    backoff_max_s: Annotated[float, Field(gt=0, le=86400)] = 600.0


class MissedCallSettings(_Section):
    """Inbound calls missed or abandoned in the queue become callback leads (R1)."""

    enabled: bool = True
    queues: list[str] = []  # inbound queues to watch; empty: every queue
    campaign: str | None = None  # None: the default campaign
    callback_target_min: Annotated[float, Field(gt=0, le=24 * 60)] = 5.0


class LoggingSettings(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "console", "json"] = "auto"


_TOKEN_NAME = re.compile(r"^[a-z0-9_.-]{1,32}$")
MIN_TOKEN_CHARS = 16


class ApiSettings(_Section):
    """The HTTP API served inside the daemon (R1, R8, R11): leads in, results and recordings out."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8440  # 0: any free port (tests)
    # name -> token; from the environment (DIALERD_API__TOKENS__CRM) or tokens_file, never the YAML
    tokens: dict[str, SecretStr] = {}
    tokens_file: Path | None = None
    require_token: bool = True
    max_body_bytes: Annotated[int, Field(ge=1024, le=64 * 1024 * 1024)] = 4 * 1024 * 1024
    max_batch: Annotated[int, Field(ge=1, le=10_000)] = 1000
    max_json_field_bytes: Annotated[int, Field(ge=256, le=1024 * 1024)] = 16 * 1024
    idempotency_ttl_h: Annotated[float, Field(gt=0, le=24 * 365)] = 72.0
    recordings_dir: Path | None = None

    @field_validator("tokens")
    @classmethod
    def _token_shape(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name, token in value.items():
            _check_token(name, token.get_secret_value())
        return value

    def resolved_tokens(self) -> dict[str, str]:
        """Token name -> token, from the environment and the tokens file; never logged."""
        found = {name: token.get_secret_value() for name, token in self.tokens.items()}
        if self.tokens_file is not None:
            try:
                loaded = yaml.safe_load(self.tokens_file.read_text(encoding="utf-8"))
            except OSError as exc:
                raise ConfigError(
                    [f"api.tokens_file: cannot read {self.tokens_file}: {exc.strerror}"]
                ) from exc
            except yaml.YAMLError:
                loaded = None
            if not isinstance(loaded, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in loaded.items()
            ):
                raise ConfigError(
                    [f"api.tokens_file: {self.tokens_file} must be a YAML mapping of name: token"]
                )
            for name, token in loaded.items():
                try:
                    _check_token(name, token)
                except ValueError as exc:
                    raise ConfigError([f"api.tokens_file: {self.tokens_file}: {exc}"]) from None
                found.setdefault(name, token)
        if self.enabled and self.require_token and not found:
            raise ConfigError(
                [
                    "api.tokens: none set; set DIALERD_API__TOKENS__<NAME> in the environment or "
                    "api.tokens_file (or api.enabled: false)"
                ]
            )
        return found


def _check_token(name: str, token: str) -> None:
    if not _TOKEN_NAME.match(name):
        raise ValueError(f"token name {name!r}: use 1-32 lowercase letters, digits, '_', '.', '-'")
    if (
        len(token) < MIN_TOKEN_CHARS
        or not token.isascii()
        or not token.isprintable()
        or " " in token
    ):
        raise ValueError(
            f"token {name!r}: at least {MIN_TOKEN_CHARS} printable ASCII characters, no spaces"
        )


class DaemonSettings(_Section):
    """Process lifecycle under systemd (R12); read once at start."""

    # SIGTERM: stop dialing, wait this long for calls in flight, then exit anyway (the calls
    # left are reconciled at the next start). systemd's TimeoutStopSec must be longer.
    drain_timeout_s: Annotated[float, Field(gt=0, le=3600)] = 60.0


class Settings(BaseSettings):
    """The whole daemon configuration."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True
    )

    store: StoreSettings = StoreSettings()
    phones: PhoneSettings = PhoneSettings()
    ami: AmiSettings = AmiSettings()
    dialing: DialingSettings = DialingSettings()
    window: WindowSettings = WindowSettings()
    campaigns: dict[str, CampaignSettings] = {"default": CampaignSettings()}
    groups: dict[str, GroupSettings] = {}
    operators: list[OperatorSettings] = []
    recording: RecordingSettings = RecordingSettings()
    logging: LoggingSettings = LoggingSettings()
    daemon: DaemonSettings = DaemonSettings()
    crm: CrmSettings = CrmSettings()
    alerts: AlertsSettings = AlertsSettings()
    missed_calls: MissedCallSettings = MissedCallSettings()
    api: ApiSettings = ApiSettings()
    reports: ReportsSettings = ReportsSettings()

    @field_validator("campaigns")
    @classmethod
    def _campaign_names(cls, value: dict[str, CampaignSettings]) -> dict[str, CampaignSettings]:
        if not value:
            raise ValueError("at least one campaign is needed")
        for name in value:
            plain_name("campaign", name)
        return value

    @model_validator(mode="after")
    def _missed_call_campaign(self) -> Settings:
        name = self.missed_calls.campaign
        if name is not None and name not in self.campaigns:
            raise ValueError(f"missed_calls.campaign: unknown campaign {name!r}")
        return self

    @model_validator(mode="after")
    def _report_mail_server(self) -> Settings:
        mailed = [s.name for s in self.reports.schedules if s.email]
        if mailed and self.alerts.email.host is None:
            raise ValueError(
                f"reports.schedules {', '.join(mailed)}: e-mail needs an SMTP server"
                " (alerts.email.host)"
            )
        return self

    @property
    def default_campaign(self) -> str:
        """Where a lead without a campaign goes: 'default', or the first campaign listed."""
        return "default" if "default" in self.campaigns else next(iter(self.campaigns))

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment overrides the YAML file (passed as init values).
        return env_settings, init_settings


@dataclass(frozen=True)
class LoadedConfig:
    settings: Settings
    path: Path | None
    warnings: tuple[str, ...] = ()


def load_config(path: Path | None, *, overrides: dict[str, Any] | None = None) -> LoadedConfig:
    """Read, validate and return the config; raise ConfigError naming file, line and field."""
    data: dict[str, Any] = {}
    root: yaml.Node | None = None
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from exc
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
            raise ConfigError([f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}"]) from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError([f"{path}:1: the top level must be a mapping of sections"])
        data = loaded
    if overrides:
        data = _deep_merge(data, overrides)
    secret_problem = _secret_in_yaml(data, path, root)
    if secret_problem:
        raise ConfigError([secret_problem])
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        raise ConfigError([_describe(err, path, root) for err in exc.errors()]) from None
    modes = {name: (c.mode, c.group) for name, c in settings.campaigns.items()}
    if problems := operator_problems(settings.groups, settings.operators, modes):
        raise ConfigError(
            [
                _describe({"loc": loc, "msg": msg, "type": "value_error"}, path, root)
                for loc, msg in problems
            ]
        )
    return LoadedConfig(settings=settings, path=path, warnings=tuple(_warnings(settings)))


def _warnings(settings: Settings) -> list[str]:
    found = []
    for name, campaign in settings.campaigns.items():
        if not 5 <= campaign.max_attempts <= 10:
            found.append(
                f"campaigns.{name}.max_attempts: {campaign.max_attempts} is outside the recommended 5-10"
            )
    return found


_SECRETS_NOT_IN_YAML = (
    (("ami", "secret"), "DIALERD_AMI__SECRET or ami.secret_file"),
    (("crm", "secret"), "DIALERD_CRM__SECRET or crm.secret_file"),
    (
        ("alerts", "webhook", "secret"),
        "DIALERD_ALERTS__WEBHOOK__SECRET or alerts.webhook.secret_file",
    ),
    (("api", "tokens"), "DIALERD_API__TOKENS__<NAME> or api.tokens_file"),
    (
        ("alerts", "email", "password"),
        "DIALERD_ALERTS__EMAIL__PASSWORD or alerts.email.password_file",
    ),
)


def _secret_in_yaml(data: dict[str, Any], path: Path | None, root: yaml.Node | None) -> str | None:
    if path is None:
        return None
    for loc, instead in _SECRETS_NOT_IN_YAML:
        node: Any = data
        for part in loc[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and loc[-1] in node:
            line = _line_of(root, loc)
            where = f"{path}:{line}" if line else str(path)
            return (
                f"{where}: {'.'.join(loc)}: secrets do not belong in the config file; set {instead}"
            )
    return None


def _describe(err: Any, path: Path | None, root: yaml.Node | None) -> str:
    loc = tuple(str(part) for part in err["loc"])
    field = ".".join(loc) or "(top level)"
    message = err["msg"]
    if err["type"] == "extra_forbidden":
        message = "unknown key (check the spelling; see config/dialerd.yaml for every key)"
    env_name = ENV_PREFIX + "__".join(part.upper() for part in loc)
    if env_name in os.environ:
        return f"environment {env_name}: {field}: {message}"
    line = _line_of(root, loc)
    where = str(path) if path is not None else "(defaults)"
    if line:
        where += f":{line}"
    return f"{where}: {field}: {message}"


def _line_of(root: yaml.Node | None, loc: tuple[str, ...]) -> int | None:
    """1-based line of the deepest YAML node on the field path."""
    node, line = root, None
    for part in loc:
        if isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            node = node.value[int(part)]
            line = node.start_mark.line + 1
            continue
        if not isinstance(node, yaml.MappingNode):
            break
        for key, value in node.value:
            if key.value == part:
                line, node = key.start_mark.line + 1, value
                break
        else:
            break
    return line


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
