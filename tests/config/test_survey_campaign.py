"""A survey campaign and the campaigns that call customers back through it: what is
accepted, and what is refused naming the file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialerd.config import ConfigError, load_config
from dialerd.policy.modes import DialMode
from dialerd.policy.survey_call import SurveyCall


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "dialerd.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    return err.value.problems


def test_a_sales_campaign_calls_back_through_a_survey_campaign(tmp_path):
    path = tmp_path / "dialerd.yaml"
    path.write_text(
        "campaigns:\n"
        "  default:\n    survey: {campaign: after-sale, call_after_h: 48}\n"
        "  after-sale:\n    mode: survey\n    max_attempts: 2\n"
    )
    policy = load_config(path).settings.policy
    assert policy.campaign("default").survey_call == SurveyCall("after-sale", 48 * 3600.0)
    assert policy.campaign("after-sale").mode is DialMode.SURVEY
    assert policy.campaign("after-sale").survey_call is None
    assert not DialMode.SURVEY.needs_operator and DialMode.PREDICTIVE.needs_operator


@pytest.mark.parametrize(
    "target", ["nowhere", "default"], ids=["unknown campaign", "not a survey campaign"]
)
def test_survey_campaign_must_name_a_survey_campaign(tmp_path, target):
    found = problems(tmp_path, f"campaigns:\n  default:\n    survey: {{campaign: {target}}}\n")
    assert len(found) == 1
    assert (
        f"campaigns.default.survey.campaign: {target!r} is not a campaign with mode survey"
        in (found[0])
    )


def test_a_survey_campaign_has_no_operator_group(tmp_path):
    path = tmp_path / "dialerd.yaml"
    found = problems(
        tmp_path,
        "groups:\n  sales: {queue: sales}\n"
        "operators:\n  - {name: anna, group: sales, interface: PJSIP/101}\n"
        "campaigns:\n  default:\n    mode: survey\n    group: sales\n",
    )
    assert len(found) == 1 and found[0].startswith(f"{path}:6: campaigns.default")
    assert "needs no operator group" in found[0]


def test_a_survey_campaign_asks_something(tmp_path):
    found = problems(
        tmp_path,
        "campaigns:\n  default:\n    mode: survey\n"
        "    survey: {nps_prompt: null, csat_prompt: null}\n",
    )
    assert len(found) == 1 and "the survey asks something" in found[0]


def test_a_negative_delay_is_refused(tmp_path):
    path = tmp_path / "dialerd.yaml"
    found = problems(
        tmp_path,
        "campaigns:\n  default:\n    survey: {campaign: s, call_after_h: -1}\n"
        "  s: {mode: survey}\n",
    )
    assert len(found) == 1 and found[0].startswith(
        f"{path}:3: campaigns.default.survey.call_after_h"
    )
