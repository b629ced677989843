"""The same scenarios on the AMI simulator and on real Asterisk: the daemon records the same."""

import pytest
from support.scenarios import OUTCOME_PHONES, pbx_config, run_outcome_scenarios

from dialerd.pbx.sim.server import AmiSimulator

pytestmark = pytest.mark.asterisk

EXPECTED = {
    OUTCOME_PHONES["answered"]: ("answered", "normal"),
    OUTCOME_PHONES["busy"]: ("busy", "busy"),
    OUTCOME_PHONES["no_answer"]: ("no_answer", "no_answer"),
    OUTCOME_PHONES["congestion"]: ("congestion", "congestion"),
    OUTCOME_PHONES["failed"]: ("failed", "invalid_number"),
}


def summary(recorded):
    return {phone: (r.outcome, r.cause_class) for phone, r in recorded.items()}


async def test_real_asterisk_outcomes_match_the_simulator(tmp_path, asterisk):
    real = await run_outcome_scenarios(
        pbx_config(tmp_path / "real.sqlite3", asterisk.host, asterisk.port, asterisk.secret)
    )
    async with AmiSimulator(secret="s", time_scale=10) as sim:
        simulated = await run_outcome_scenarios(
            pbx_config(tmp_path / "sim.sqlite3", "127.0.0.1", sim.port, "s")
        )
    assert summary(real) == EXPECTED
    assert summary(simulated) == summary(real)
    assert all(r.attempts == 1 for r in real.values())
    answered = real[OUTCOME_PHONES["answered"]]
    assert answered.outcome == "answered"
