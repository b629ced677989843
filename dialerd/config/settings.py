"""The whole configuration: every section, the checks that span sections, and where the
values come from (the environment over the YAML file)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any, Self

from pydantic import field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from dialerd.config.alerts import AlertsSettings
from dialerd.config.ami import AmiSection, AmiSettings, check_pbx_list, merge_environment
from dialerd.config.api import ApiSettings
from dialerd.config.campaigns import CampaignSettings
from dialerd.config.console import ConsoleSettings
from dialerd.config.crm import CrmSettings
from dialerd.config.daemon import DaemonSettings
from dialerd.config.dialing import DialingSettings
from dialerd.config.logs import LoggingSettings
from dialerd.config.missed import MissedCallSettings
from dialerd.config.operators import GroupSettings, OperatorSettings
from dialerd.config.pauses import PauseSettings
from dialerd.config.phones import PhoneLimitSettings, PhoneSettings
from dialerd.config.recording import RecordingSettings
from dialerd.config.reports import ReportsSettings
from dialerd.config.rules import policy_of
from dialerd.config.store import StoreSettings
from dialerd.config.values import plain_name
from dialerd.config.window import WindowSettings
from dialerd.policy.modes import DialMode
from dialerd.policy.pick import Policy

ENV_PREFIX = "DIALERD_"


class Settings(BaseSettings):
    """The whole daemon configuration."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True
    )

    store: StoreSettings = StoreSettings()
    phones: PhoneSettings = PhoneSettings()
    phone_limits: PhoneLimitSettings = PhoneLimitSettings()
    ami: AmiSection = AmiSettings()  # one PBX, or a list of named PBXs
    dialing: DialingSettings = DialingSettings()
    window: WindowSettings = WindowSettings()
    campaigns: dict[str, CampaignSettings] = {"default": CampaignSettings()}
    groups: dict[str, GroupSettings] = {}
    operators: list[OperatorSettings] = []
    pauses: PauseSettings = PauseSettings()
    recording: RecordingSettings = RecordingSettings()
    logging: LoggingSettings = LoggingSettings()
    daemon: DaemonSettings = DaemonSettings()
    crm: CrmSettings = CrmSettings()
    alerts: AlertsSettings = AlertsSettings()
    missed_calls: MissedCallSettings = MissedCallSettings()
    api: ApiSettings = ApiSettings()
    reports: ReportsSettings = ReportsSettings()
    console: ConsoleSettings = ConsoleSettings()

    _ami_names = field_validator("ami")(check_pbx_list)

    @field_validator("campaigns")
    @classmethod
    def _campaign_names(cls, value: dict[str, CampaignSettings]) -> dict[str, CampaignSettings]:
        if not value:
            raise ValueError("at least one campaign is needed")
        for name in value:
            plain_name("campaign", name)
        return value

    @model_validator(mode="after")
    def _console_people(self) -> Settings:
        """One name, one person: a supervisor cannot share an operator's sign-in name."""
        operators = {op.name for op in self.operators}
        seen: set[str] = set()
        for supervisor in self.console.supervisors:
            if supervisor.name in operators or supervisor.name in seen:
                raise ValueError(
                    f"console.supervisors: {supervisor.name!r} is already an operator or listed"
                )
            seen.add(supervisor.name)
        return self

    @model_validator(mode="after")
    def _missed_call_campaign(self) -> Settings:
        name = self.missed_calls.campaign
        if name is not None and name not in self.campaigns:
            raise ValueError(f"missed_calls.campaign: unknown campaign {name!r}")
        return self

    @model_validator(mode="after")
    def _survey_campaigns(self) -> Settings:
        """``survey.campaign`` names a campaign of this file whose mode is survey."""
        for name, campaign in self.campaigns.items():
            target = campaign.survey.campaign
            if target is None:
                continue
            found = self.campaigns.get(target)
            if found is None or found.mode is not DialMode.SURVEY:
                raise ValueError(
                    f"campaigns.{name}.survey.campaign: {target!r} is not a campaign"
                    " with mode survey"
                )
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
    def pbxs(self) -> tuple[AmiSettings, ...]:
        """Every PBX the daemon drives, the first one first (it also carries the attempts
        of PBXs no longer in the config)."""
        return tuple(self.ami) if isinstance(self.ami, list) else (self.ami,)

    @property
    def pbxs_listed(self) -> bool:
        """``ami`` is a list: each PBX's secret is named after it."""
        return isinstance(self.ami, list)

    @property
    def default_campaign(self) -> str:
        """Where a lead without a campaign goes: 'default', or the first campaign listed."""
        return "default" if "default" in self.campaigns else next(iter(self.campaigns))

    @cached_property
    def policy(self) -> Policy:
        """The calling window and campaign rules the decisions take, built once per load."""
        return policy_of(
            self.window, self.campaigns, self.default_campaign, self.phone_limits.limits
        )

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy with other values is another config: its policy is built from its own."""
        copied = super().model_copy(update=update, deep=deep)
        copied.__dict__.pop("policy", None)
        return copied

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment overrides the YAML file (passed as init values); with a list of
        # PBXs, the environment's ami keys go to the PBX they name.
        return _PbxEnvironment(settings_cls, env_settings, init_settings), init_settings


class _PbxEnvironment(PydanticBaseSettingsSource):
    """The environment source, with ``DIALERD_AMI__<NAME>__<KEY>`` merged into the PBX of
    that name when ``ami`` is a list (``merge_environment``)."""

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        env: PydanticBaseSettingsSource,
        init: PydanticBaseSettingsSource,
    ) -> None:
        super().__init__(settings_cls)
        self._env = env
        self._init = init

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._env.get_field_value(field, field_name)

    def __call__(self) -> dict[str, Any]:
        values = dict(self._env())
        if "ami" in values:
            values["ami"] = merge_environment(values["ami"], self._init().get("ami"))
        return values
