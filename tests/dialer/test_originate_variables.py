"""What a campaign's answering-machine detection and survey add to the Originate: channel
variables the shipped dialplan reads, every one through the AMI checks."""

from __future__ import annotations

from dialerd.config import load_config
from dialerd.dialer.originate import agent_first_request, customer_first_request
from dialerd.policy.modes import DialMode
from dialerd.policy.phones import Phone
from dialerd.store.attempts import Claim

CLAIM = Claim(7, 11, 1, "dialerd-7-1-ab", "act-1", Phone("+79161231001"), "default")


def settings(**campaign: object):
    overrides = {
        "groups": {"sales": {"queue": "sales", "context": "operators", "exten": "600"}},
        "operators": [{"name": "101", "group": "sales", "interface": "Local/101@operators"}],
        "campaigns": {"default": {"group": "sales", **campaign}},
    }
    return load_config(None, overrides=overrides).settings


def variables(action: dict) -> dict[str, str]:
    return dict(item.split("=", 1) for item in action["Variable"])


def test_nothing_extra_by_default():
    action = customer_first_request(
        CLAIM, settings(), DialMode.CUSTOMER_FIRST, "sales", None
    ).to_action()
    assert not {"DIALER_AMD", "DIALER_AMD_MESSAGE", "DIALER_SURVEY_NPS"} & set(variables(action))


def test_amd_parameters_and_the_message_travel_without_a_comma():
    s = settings(amd={"enabled": True, "greeting_ms": 1200, "message": "custom/leave-msg"})
    action = customer_first_request(CLAIM, s, DialMode.PREDICTIVE, "sales", None).to_action()
    found = variables(action)
    assert found["DIALER_AMD"] == "5000:1200:800:5000:100:50:3:256:5000"
    assert found["DIALER_AMD_MESSAGE"] == "custom/leave-msg"
    assert all("," not in value for name, value in found.items() if name.startswith("DIALER_"))
    assert (found["DIALER_LEAD"], found["DIALER_ATTEMPT"]) == ("7", "11")  # the survey needs them


def test_the_survey_prompts_travel_with_the_customer():
    s = settings(survey={"enabled": True, "csat_prompt": None, "thanks": "custom/thanks"})
    found = variables(
        customer_first_request(CLAIM, s, DialMode.CUSTOMER_FIRST, "sales", None).to_action()
    )
    assert found["DIALER_SURVEY_NPS"] == "custom/survey-recommend"
    assert (found["DIALER_SURVEY_CSAT"], found["DIALER_SURVEY_THANKS"]) == ("", "custom/thanks")
    assert found["DIALER_SURVEY_TIMEOUT"] == "10"


def test_agent_first_never_runs_amd_on_the_operator():
    s = settings(mode="agent_first", amd={"enabled": True})
    action = agent_first_request(CLAIM, s, s.operators[0], None).to_action()
    assert "DIALER_AMD" not in variables(action)
