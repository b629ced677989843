"""Faults against ``dialerd run`` on the AMI simulator: a crash mid-call, a PBX that refuses.

The real-Asterisk versions, repeated in loops, are in tests/faults/.
"""

import asyncio
import signal

import pytest
from support.daemon import Daemon, answering, wait_for

PHONE = "+79161238201"
PHONES = [f"+7916123{8300 + n}" for n in range(5)]


def dialing(daemon: Daemon) -> int:
    return daemon.rows("SELECT COUNT(*) FROM attempts WHERE status = 'dialing'")[0][0]


@pytest.mark.parametrize("handler", ["dialer-hangup", None])
async def test_a_customer_who_answered_while_the_daemon_died_is_not_called_again(
    daemon: Daemon, handler: str | None
):
    """SIGKILL while the customer talks; the call ends before the next daemon starts."""
    daemon.sim.rule = answering(talk_s=1.5)
    daemon.write_config(**({} if handler else {"hangup_handler": "null"}))
    await daemon.start()
    await daemon.notify.expect("READY=1")
    (lead_id,) = await daemon.add_leads([PHONE])
    # the answer is in the store while the call is live
    await wait_for(
        lambda: daemon.rows("SELECT answered_at FROM attempts")[:1] not in ([], [(None,)]),
        10,
        "the answer written while the call is live",
    )
    await daemon.kill()
    await wait_for(lambda: not daemon.sim.active_channels, 10, "the call to end unobserved")

    await daemon.start()
    await daemon.notify.expect("READY=1")
    await wait_for(lambda: dialing(daemon) == 0, 10, "the adopted call to be settled")
    daemon.signal(signal.SIGTERM)
    assert await daemon.exit_code() == 0, daemon.tail()

    assert not daemon.events("evidence_unavailable")  # found or not, Asterisk answered at once
    ((outcome, talk_s, note),) = daemon.rows("SELECT outcome, talk_s, note FROM attempts")
    assert outcome == "answered"
    if handler:  # Asterisk's own talk time, from the hangup handler's record
        assert talk_s == pytest.approx(1.5, abs=0.3)
        assert "settled from Asterisk's record" in note
        assert daemon.sim.astdb == {}  # read, then deleted
    assert len(daemon.sim.originates) == 1
    assert daemon.rows(f"SELECT attempts, reached FROM leads WHERE id = {lead_id}") == [(1, 1)]


async def test_every_finished_call_leaves_no_record_behind_in_astdb(daemon: Daemon):
    daemon.sim.rule = answering(talk_s=0.2)
    daemon.write_config()
    await daemon.start()
    await daemon.notify.expect("READY=1")
    await daemon.add_leads(PHONES)
    await wait_for(
        lambda: daemon.rows("SELECT COUNT(*) FROM attempts WHERE status = 'done'")[0][0] == 5,
        10,
        "5 calls recorded",
    )
    await wait_for(lambda: daemon.sim.astdb == {}, 5, "AstDB entries deleted")
    daemon.signal(signal.SIGTERM)
    assert await daemon.exit_code() == 0, daemon.tail()
    headers = [o.headers["Variable"] for o in daemon.sim.originates]
    assert all('CHANNEL(hangup_handler_push)="dialer-hangup,s,1"' in h for h in headers)


@pytest.mark.parametrize("end", ["called_off", "restart"])
async def test_a_pbx_that_refuses_burns_no_lead_and_dialing_resumes_by_itself(
    daemon: Daemon, end: str
):
    """``core stop gracefully`` / ``core restart``: Asterisk refuses every action meanwhile."""
    daemon.sim.rule = answering(talk_s=0.2)
    daemon.write_config()
    await daemon.start()
    await daemon.notify.expect("READY=1")
    daemon.sim.begin_shutdown()
    await daemon.add_leads(PHONES)
    await wait_for(lambda: daemon.events("originate_not_an_attempt"), 10, "a refusal")
    await asyncio.sleep(1.0)  # long enough to burn the backlog, were refusals attempts
    refused = len(daemon.sim.originates)
    assert refused <= len(PHONES)  # then dialing stopped: the PBX said it is going down
    assert daemon.rows("SELECT COUNT(*) FROM attempts")[0][0] == 0
    assert daemon.rows("SELECT SUM(attempts) FROM leads")[0][0] == 0
    assert daemon.events("ami_pbx_refusing")

    if end == "called_off":
        daemon.sim.cancel_shutdown()
    else:
        await daemon.sim.shut_down(restart=True)  # Shutdown event, sessions close; back at once
    await wait_for(
        lambda: daemon.rows("SELECT COUNT(*) FROM attempts WHERE status = 'done'")[0][0] == 5,
        15,
        "every lead dialed once Asterisk takes calls again",
    )
    daemon.signal(signal.SIGTERM)
    assert await daemon.exit_code() == 0, daemon.tail()
    assert len(daemon.sim.originates) == refused + len(PHONES)
    assert daemon.rows("SELECT attempts, COUNT(*) FROM leads GROUP BY attempts") == [(1, 5)]
    assert {o for (o,) in daemon.rows("SELECT outcome FROM attempts")} == {"answered"}
