"""Which alerts a cause gives, and when a monitor must look again."""

from dialerd.config import AlertsSettings
from dialerd.config.rules import alert_rules
from dialerd.policy.alerting import (
    Backlog,
    Kind,
    Rules,
    WaitingNewLead,
    backlog_change,
    next_speed_to_lead_check,
    result_alerts,
    speed_to_lead_alerts,
)

NOW = 1_000_000.0


def message(result, amount_minor=None, key="k1"):
    return {
        "idempotency_key": key,
        "lead": {"id": 7, "phone": "+79161234567", "name": "Anna"},
        "order_id": "A-1",
        "result": result,
        "amount": None if amount_minor is None else f"{amount_minor / 100:.2f}",
        "amount_minor": amount_minor,
        "operator": "101",
        "call_id": "c1",
        "note": "rude",
    }


def test_rules_from_settings_convert_money_and_minutes():
    rules = alert_rules(
        AlertsSettings(big_order_amount="500.50", speed_to_lead_warn_min=2, crm_backlog=None),
        crm_pushes=True,
    )
    assert rules.big_order_minor == 50050 and rules.warn_s == 120 and rules.crm_backlog is None


def test_no_crm_backlog_rule_without_a_crm():
    settings = AlertsSettings(crm_backlog=5)
    assert alert_rules(settings, crm_pushes=True).crm_backlog == 5
    assert alert_rules(settings, crm_pushes=False).crm_backlog is None


def test_a_complaint_and_a_big_order_are_alerted_with_their_own_cause():
    rules = Rules(big_order_minor=100000)
    (complaint,) = result_alerts(message("complaint"), rules)
    assert complaint.kind is Kind.COMPLAINT and complaint.causes == ("complaint:k1",)
    assert "Anna" in complaint.text and "rude" in complaint.text
    (big,) = result_alerts(message("confirmed", 100000), rules)
    assert big.kind is Kind.BIG_ORDER and big.causes == ("big_order:k1",)
    assert "1000.00" in big.subject
    assert result_alerts(message("confirmed", 99999), rules) == []
    assert result_alerts(message("confirmed", 10**9), Rules(big_order_minor=None)) == []
    assert result_alerts(message("complaint"), Rules(complaint=False)) == []
    assert result_alerts(message("refused"), rules) == []


def lead(n, deadline, warned=False):
    return WaitingNewLead(n, f"+7916123000{n}", "api", deadline, warned)


def test_speed_to_lead_groups_warnings_and_misses():
    rules = Rules(warn_s=180)
    leads = [lead(1, NOW - 5), lead(2, NOW + 60), lead(3, NOW + 100, warned=True), lead(4, NOW)]
    warn, missed = speed_to_lead_alerts(leads, NOW, rules)
    assert warn.kind is Kind.SPEED_TO_LEAD_WARNING and warn.causes == ("stl_warn:2",)
    assert missed.kind is Kind.SPEED_TO_LEAD_MISSED
    # a missed lead also takes its warning cause: no late warning after the miss
    assert missed.causes == ("stl_missed:1", "stl_warn:1", "stl_missed:4", "stl_warn:4")
    assert "2 lead(s) missed" in missed.subject
    assert speed_to_lead_alerts(leads, NOW, Rules(warn_s=None, missed=False)) == []


def test_a_big_group_names_twenty_leads_and_counts_the_rest():
    (missed,) = speed_to_lead_alerts([lead(n, NOW - 1) for n in range(25)], NOW, Rules())
    assert missed.text.count("\n  lead ") == 20 and "and 5 more" in missed.text
    assert len(missed.causes) == 50


def test_next_check_is_the_nearest_threshold():
    rules = Rules(warn_s=180)
    assert next_speed_to_lead_check(NOW + 100, NOW + 400, rules) == NOW + 100
    assert next_speed_to_lead_check(NOW + 500, NOW + 500, rules) == NOW + 320
    assert next_speed_to_lead_check(None, None, rules) is None
    assert next_speed_to_lead_check(NOW + 100, NOW + 400, Rules(missed=False)) == NOW + 220


def test_backlog_has_hysteresis():
    assert backlog_change(100, 100, active=False) is None
    assert backlog_change(101, 100, active=False) is Backlog.RAISE
    assert backlog_change(80, 100, active=True) is None
    assert backlog_change(50, 100, active=True) is Backlog.CLEAR
    assert backlog_change(500, None, active=True) is Backlog.CLEAR
    assert backlog_change(500, None, active=False) is None
