"""Answering-machine detection on real Asterisk: AMD() hears a recorded greeting and a person.

The customers are in the sandbox dialplan (``791655501XX``: a machine, ``791655502XX``: a
person); their voices are made here with espeak-ng and sox, as 8 kHz mono WAV files
Asterisk plays, so what AMD() classifies is real speech and real silence.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from support.asterisk import AsteriskInstance, start_asterisk
from support.operators import SANDBOX_OPERATORS, operators_config, sandbox_dialplan
from support.scenarios import add_leads, running_engine, wait_until_settled
from support.voices import require_tools, say

from dialerd.store import leads as store

pytestmark = pytest.mark.asterisk

MACHINE = "+79165550101"  # a long recorded greeting, a beep, silence
PERSON = "+79165550201"  # "Hello?", then waits
GREETING = (
    "Hello, you have reached the Petrov family. We cannot come to the phone right now. "
    "Please leave your message after the tone."
)
MACHINE_DELAY_S = 5400


@pytest.fixture(scope="module")
def voices(asterisk: AsteriskInstance) -> None:
    """The customers' audio in the chroot's sounds directory (dialerd-test/...)."""
    require_tools()
    say(asterisk, "amd-machine", GREETING, silence_after_s=8, beep=True)
    say(asterisk, "amd-person", "Hello?", silence_after_s=10)
    say(asterisk, "amd-message", "This is your shop calling about your order.", silence_after_s=0)


@pytest.fixture
def pbx(asterisk: AsteriskInstance, voices: None) -> Iterator[AsteriskInstance]:
    instance = start_asterisk(extra_config=sandbox_dialplan(3))
    try:
        yield instance
    finally:
        instance.stop()


def _amd_campaign(**amd: object) -> dict[str, object]:
    return {
        "amd": {"enabled": True, **amd},
        "retry_delays": {"machine": MACHINE_DELAY_S, "no_answer": 3600, "failed": 3600},
    }


async def test_amd_drops_the_machine_and_puts_the_person_through(tmp_path, pbx):
    loaded = operators_config(
        pbx, tmp_path / "d.sqlite3", mode="customer_first", campaign=_amd_campaign()
    )
    async with running_engine(loaded) as (engine, db, _):
        machine_lead, person_lead = await add_leads(db, [MACHINE, PERSON])
        engine.wake()
        await wait_until_settled(db, [machine_lead, person_lead], timeout_s=40)
        (machine,) = await store.attempts_of(db, machine_lead)
        (person,) = await store.attempts_of(db, person_lead)
        machine_after = await store.get_lead(db, machine_lead)
        person_after = await store.get_lead(db, person_lead)
    assert machine_after is not None and person_after is not None

    # the machine: Asterisk said MACHINE, nobody was put through, redialed after its own delay
    assert machine["amd_status"] == "MACHINE", machine
    assert machine["amd_cause"].split("-")[0] in {"LONGGREETING", "MAXWORDS"}, machine
    assert machine["outcome"] == "machine"
    assert machine["operator"] is None
    assert machine["talk_s"] < 10  # dropped during its greeting, not after 17 s of it
    assert machine_after["state"] == "waiting"
    assert machine_after["due_at"] == pytest.approx(time.time() + MACHINE_DELAY_S, abs=60)

    # the person: Asterisk said HUMAN, and an operator took the call
    assert person["amd_status"] == "HUMAN", person
    assert person["outcome"] == "answered"
    assert person["operator"] in SANDBOX_OPERATORS
    assert person_after["state"] == "closed"


async def test_amd_leaves_the_message_on_the_machine_after_its_beep(tmp_path, pbx):
    loaded = operators_config(
        pbx,
        tmp_path / "d.sqlite3",
        mode="customer_first",
        campaign=_amd_campaign(message="dialerd-test/amd-message"),
    )
    async with running_engine(loaded) as (engine, db, _):
        (lead_id,) = await add_leads(db, [MACHINE])
        engine.wake()
        await wait_until_settled(db, [lead_id], timeout_s=60)
        (attempt,) = await store.attempts_of(db, lead_id)
    assert (attempt["outcome"], attempt["amd_status"]) == ("machine", "MACHINE")
    log = pbx.log_path.read_text(errors="replace")
    assert f"message left on the machine -- lead={lead_id}" in log
    # the message came after the greeting and its beep (about 9 s), not over them
    assert attempt["talk_s"] > 9
