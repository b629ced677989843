"""When the wallboard turns a number amber or red, and marks an operator's overrun (issue 13)."""

from __future__ import annotations

from dialerd.policy.wallboard import Level, Limits, cap_level, deadline_level, overrun, share_level


def test_the_oldest_new_lead_turns_amber_at_the_warning_and_red_at_the_deadline():
    deadline, warn = 1000.0, 180.0
    assert deadline_level(800.0, deadline, warn) is Level.OK
    assert deadline_level(820.0, deadline, warn) is Level.AMBER  # the warning alert's moment
    assert deadline_level(1000.0, deadline, warn) is Level.RED  # the missed alert's moment
    assert deadline_level(999.0, deadline, None) is Level.OK  # no warning configured
    assert deadline_level(5.0, None, warn) is Level.OK


def test_a_share_against_its_target_and_a_rate_against_its_cap():
    assert share_level(None, 0.8) is Level.OK
    assert share_level(0.8, 0.8) is Level.OK
    assert share_level(0.75, 0.8) is Level.AMBER
    assert share_level(0.69, 0.8) is Level.RED
    assert cap_level(None, 0.03) is Level.OK
    assert cap_level(0.02, 0.03) is Level.OK
    assert cap_level(0.025, 0.03) is Level.AMBER
    assert cap_level(0.03, 0.03) is Level.RED


def test_an_overrun_is_time_in_a_state_past_its_limit():
    limits = Limits(ringing_s=30, talking_s=600, wrapup_s=60, paused_s=900)
    assert not overrun("wrapup", 60, limits)
    assert overrun("wrapup", 61, limits)
    assert not overrun("wrapup", 100, limits, wrapup_s=120)  # the group's own wrap-up is longer
    assert overrun("paused", 901, limits) and overrun("ringing", 31, limits)
    assert not overrun("free", 10_000, limits) and not overrun("offline", 10_000, limits)
