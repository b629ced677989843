"""From config to policy: the frozen rule objects the decisions take, built from the
validated sections (the calling window, each campaign's rules, the alert rules).

``Settings.policy`` calls these once per load; a reload builds new ones. Nothing here
reads a file or the environment: by now the values are checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from dialerd.domain import Outcome
from dialerd.policy.abandon import default_target
from dialerd.policy.alerting import Rules
from dialerd.policy.caller_id import CallerId
from dialerd.policy.campaign import AbandonCap, CampaignRules, LocalHours, PredictiveLimits
from dialerd.policy.phone_limits import PhoneLimits
from dialerd.policy.pick import Policy
from dialerd.policy.window import CallingWindow, Hours

if TYPE_CHECKING:  # the sections import this module to check themselves
    from dialerd.config.alerts import AlertsSettings
    from dialerd.config.campaigns import CampaignSettings
    from dialerd.config.window import WindowSettings


def calling_window(window: WindowSettings) -> CallingWindow:
    overrides = {
        day: None if hours == "closed" else Hours(hours.open, hours.close)
        for day, hours in window.weekdays.items()
    }
    return CallingWindow(
        ZoneInfo(window.timezone),
        window.open,
        window.close,
        days_off=frozenset(window.days_off),
        holidays=frozenset(window.holidays),
        overrides=overrides,
    )


def abandon_cap(campaign: CampaignSettings) -> AbandonCap:
    abandon = campaign.abandon
    return AbandonCap(
        cap=abandon.cap,
        window_days=abandon.window_days,
        after_s=abandon.after_s,
        target=default_target(abandon.cap) if abandon.target is None else abandon.target,
        rule=abandon.rule,
        lockout_h=abandon.lockout_h,
        message=abandon.message,
    )


def campaign_rules(campaign: CampaignSettings) -> CampaignRules:
    delays = campaign.retry_delays.model_dump()
    local = campaign.local_hours
    return CampaignRules(
        scheme=campaign.scheme,
        max_attempts=campaign.max_attempts,
        retry_delays=MappingProxyType(
            {
                outcome: None if delays[outcome.value] is None else float(delays[outcome.value])
                for outcome in Outcome
            }
        ),
        local_hours=LocalHours(
            local.enabled,
            None if local.open is None or local.close is None else Hours(local.open, local.close),
        ),
        mode=campaign.mode,
        group=campaign.group,
        dial_ratio=campaign.dial_ratio,
        abandon=abandon_cap(campaign),
        predictive=PredictiveLimits(
            campaign.predictive.max_ratio,
            campaign.predictive.min_samples,
            campaign.predictive.answer_rate_window_min,
        ),
        caller_ids=tuple(CallerId(c.number, c.name) for c in campaign.caller_id_pool),
    )


def policy_of(
    window: WindowSettings,
    campaigns: Mapping[str, CampaignSettings],
    default_campaign: str,
    phone_limits: PhoneLimits,
) -> Policy:
    """What the engine, ``plan`` and ``explain`` decide with."""
    return Policy(
        calling_window(window),
        MappingProxyType({name: campaign_rules(c) for name, c in campaigns.items()}),
        default_campaign,
        phone_limits,
    )


def alert_rules(alerts: AlertsSettings, *, crm_pushes: bool) -> Rules:
    """The ``alerts`` section in the policy's units (money in minor units, minutes in seconds).

    ``crm_pushes``: a CRM webhook is configured (``crm.url``). Without one the outbox only
    accumulates by design, so its backlog says nothing about a CRM: no backlog alert.
    """
    big = alerts.big_order_amount
    warn = alerts.speed_to_lead_warn_min
    return Rules(
        complaint=alerts.complaint,
        detractor=alerts.detractor,
        big_order_minor=None if big is None else int(Decimal(big) * 100),
        warn_s=None if warn is None else warn * 60.0,
        missed=alerts.speed_to_lead_missed,
        ami_down_s=alerts.ami_down_s,
        crm_backlog=alerts.crm_backlog if crm_pushes else None,
        no_operators=alerts.no_operators,
        dead_air_s=alerts.dead_air_s,
        caller_id_share=alerts.caller_id_share,
        caller_id_min_attempts=alerts.caller_id_min_attempts,
    )
