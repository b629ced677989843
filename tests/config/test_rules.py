"""The policy's rule objects as config builds them: once per load, and faithful to the YAML."""

from datetime import time
from decimal import Decimal

from dialerd.config import (
    AlertsSettings,
    CampaignSettings,
    RetryDelays,
    WindowSettings,
    load_config,
)
from dialerd.config.rules import alert_rules, campaign_rules
from dialerd.domain import Outcome
from dialerd.policy.abandon import AbandonRule
from dialerd.policy.modes import DialMode
from dialerd.policy.window import Hours


def test_the_policy_is_built_once_per_load_and_again_for_a_new_one():
    settings = load_config(None).settings
    assert settings.policy is settings.policy
    assert load_config(None).settings.policy is not settings.policy


def test_a_copy_with_another_window_gets_its_own_policy():
    settings = load_config(None).settings
    assert settings.policy.window.open == time(10, 0)
    later = settings.model_copy(update={"window": WindowSettings(open=time(12, 0))})
    assert later.policy.window.open == time(12, 0)
    assert settings.policy.window.open == time(10, 0)


def test_every_outcome_has_its_retry_delay():
    delays = RetryDelays(
        busy=1, no_answer=2, congestion=3, failed=4, abandoned=5, unknown=6, machine=7
    )
    rules = campaign_rules(CampaignSettings(retry_delays=delays))
    assert dict(rules.retry_delays) == {
        Outcome.BUSY: 1.0,
        Outcome.NO_ANSWER: 2.0,
        Outcome.CONGESTION: 3.0,
        Outcome.FAILED: 4.0,
        Outcome.ABANDONED: 5.0,
        Outcome.UNKNOWN: 6.0,
        Outcome.MACHINE: 7.0,
        Outcome.ANSWERED: None,
    }


def test_campaign_rules_carry_local_hours_mode_and_pacing():
    loaded = load_config(
        None,
        overrides={
            "groups": {"sales": {"queue": "sales"}},
            "operators": [{"name": "a", "group": "sales", "interface": "PJSIP/101"}],
            "campaigns": {
                "default": {
                    "mode": "predictive",
                    "group": "sales",
                    "dial_ratio": 1.5,
                    "local_hours": {"enabled": True, "open": "09:00", "close": "20:00"},
                    "abandon": {"cap": 0.05, "window_days": 7, "after_s": 3},
                }
            },
        },
    )
    rules = loaded.settings.policy.campaign("default")
    assert rules.local_hours.enabled and rules.local_hours.hours == Hours(time(9), time(20))
    assert (rules.mode, rules.group, rules.dial_ratio) == (DialMode.PREDICTIVE, "sales", 1.5)
    assert (rules.abandon.cap, rules.abandon.window_days, rules.abandon.after_s) == (0.05, 7, 3)
    assert rules.predictive.min_samples == 30
    assert campaign_rules(CampaignSettings()).local_hours.hours is None


def test_alert_rules_in_minor_units_and_seconds():
    rules = alert_rules(AlertsSettings(big_order_amount=Decimal("10.01")), crm_pushes=True)
    assert (rules.big_order_minor, rules.warn_s, rules.crm_backlog) == (1001, 180.0, 100)


def test_the_abandon_rules_reach_the_policy_with_the_target_defaulting_below_the_cap():
    loaded = load_config(
        None,
        overrides={
            "campaigns": {
                "default": {},
                "uk": {
                    "abandon": {
                        "cap": 0.03,
                        "rule": "per_day",
                        "lockout_h": 24,
                        "message": "custom/acme-sorry",
                    }
                },
                "us": {"abandon": {"cap": 0.03, "target": 0.02}},
            },
        },
    )
    uk = loaded.settings.policy.campaign("uk").abandon
    assert (uk.rule, uk.lockout_h, uk.message) == (AbandonRule.PER_DAY, 24, "custom/acme-sorry")
    assert abs(uk.target - 0.025) < 1e-12
    assert loaded.settings.policy.campaign("us").abandon.target == 0.02
    default = loaded.settings.policy.campaign("default").abandon
    assert (default.rule, default.lockout_h, default.message) == (
        AbandonRule.ROLLING_30_DAYS,
        72,
        None,
    )
