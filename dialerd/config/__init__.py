"""Configuration: one YAML file plus ``DIALERD_*`` environment overrides, turned into
validated sections and, once per load, the policy's frozen rule objects.

Unknown keys are errors (a typo must not silently fall back to a default), every
error names the file, the line and the field path, and secrets never sit in the
YAML file: they come from the environment (``DIALERD_AMI__SECRET``) or a file.

What lives here: one module per section (``ami``, ``dialing``, ``window``,
``campaigns``, ``operators``, ``recording``, ``crm``, ``alerts``, ``missed``, ``api``,
``reports``, ``store``, ``phones``, ``logs``, ``daemon``, ``pauses``); the checks they share
(``values``, ``secrets``); the files of secrets of their own (``console_passwords``,
``sip_passwords``: the browser phones'); the whole ``Settings`` (``settings``); reading and error
reporting (``loading``, ``errors``); and the policy's rule objects built from them
(``rules``). This module is the package's public face:
``from dialerd.config import Settings, load_config, ...``.

Imports ``dialerd.domain`` and ``dialerd.policy`` only; every layer above reads it.
"""

from dialerd.config.alerts import AlertEmailSettings, AlertsSettings, AlertWebhookSettings
from dialerd.config.ami import AmiSettings
from dialerd.config.api import MIN_TOKEN_CHARS, ApiSettings
from dialerd.config.campaigns import (
    AbandonSettings,
    CampaignSettings,
    DuplicateSettings,
    LocalHoursSettings,
    PredictiveSettings,
    RetryDelays,
)
from dialerd.config.crm import CrmSettings
from dialerd.config.daemon import DaemonSettings
from dialerd.config.dialing import DialingSettings
from dialerd.config.errors import ConfigError
from dialerd.config.loading import DEFAULT_CONFIG_PATH, LoadedConfig, load_config
from dialerd.config.logs import LoggingSettings
from dialerd.config.missed import MissedCallSettings
from dialerd.config.operators import GroupSettings, OperatorSettings
from dialerd.config.pauses import PauseSettings
from dialerd.config.phones import PhoneSettings
from dialerd.config.recording import RecordingSettings
from dialerd.config.reports import ReportsSettings
from dialerd.config.settings import ENV_PREFIX, Settings
from dialerd.config.store import StoreSettings
from dialerd.config.window import HoursSettings, WindowSettings

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "ENV_PREFIX",
    "MIN_TOKEN_CHARS",
    "AbandonSettings",
    "AlertEmailSettings",
    "AlertWebhookSettings",
    "AlertsSettings",
    "AmiSettings",
    "ApiSettings",
    "CampaignSettings",
    "ConfigError",
    "CrmSettings",
    "DaemonSettings",
    "DialingSettings",
    "DuplicateSettings",
    "GroupSettings",
    "HoursSettings",
    "LoadedConfig",
    "LocalHoursSettings",
    "LoggingSettings",
    "MissedCallSettings",
    "OperatorSettings",
    "PauseSettings",
    "PhoneSettings",
    "PredictiveSettings",
    "RecordingSettings",
    "ReportsSettings",
    "RetryDelays",
    "Settings",
    "StoreSettings",
    "WindowSettings",
    "load_config",
]
