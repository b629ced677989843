"""The operator board published for `dialerd operators`, and carried over a config reload."""

import asyncio
import json

import pytest

from dialerd.config import load_config
from dialerd.dialer.board import CurrentCall, OperatorBoard, publish, read_state_file, state_file
from dialerd.dialer.engine import Engine
from dialerd.dialer.tracking import CallTrack
from dialerd.pbx.events import MemberState

# on both store engines: on PostgreSQL the configs name a database of the test's own
pytestmark = [pytest.mark.engines("sqlite", "postgresql"), pytest.mark.usefixtures("engine_store")]

SALES = {"sales": {"queue": "sales", "context": "operators", "exten": "600"}}


def operators(*names: str) -> list[dict[str, str]]:
    return [{"name": n, "group": "sales", "interface": f"Local/{n}@operators"} for n in names]


def config(tmp_path, *names: str):
    overrides = {
        "store": {"path": str(tmp_path / "d.sqlite3")},
        "groups": SALES,
        "operators": operators(*names),
    }
    return load_config(None, overrides=overrides)


def member(name: str, status: int, at: float) -> MemberState:
    return MemberState("sales", f"Local/{name}@operators", name, status, False, False, "", at)


async def test_every_change_is_published_within_half_a_second(tmp_path):
    settings = config(tmp_path, "101", "102").settings
    board = OperatorBoard.from_settings(settings)
    path = state_file(settings)
    links = {"default": True}
    task = asyncio.create_task(publish(lambda: board, path, lambda: links, lambda: 1000.0))
    try:
        board.apply_snapshot([member("101", 1, 10.0), member("102", 2, 10.0)], [], 10.0)
        async with asyncio.timeout(2):
            while read_state_file(path) is None:
                await asyncio.sleep(0.02)
        first = read_state_file(path)
        assert first["ami_connected"] and first["synced"]
        assert [(op["name"], op["state"]) for op in first["operators"]] == [
            ("101", "free"),
            ("102", "busy"),
        ]
        board.reserve("101", CurrentCall(7, "call-7", "agent_first", 11.0))
        async with asyncio.timeout(2):
            while read_state_file(path)["operators"][0]["current_call"] is None:
                await asyncio.sleep(0.02)
        assert read_state_file(path)["operators"][0]["state"] == "ringing"
        # the AMI link lost, and no operator's state changed: the engine marks the board
        # changed (test_several_pbxs checks it does), and the file says so
        links = {"default": False}
        board.changed.set()
        async with asyncio.timeout(3):
            while read_state_file(path)["ami_connected"]:
                await asyncio.sleep(0.02)
        assert read_state_file(path)["pbx_connected"] == {"default": False}
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert not list(tmp_path.glob("*.tmp"))  # written atomically


class _NoPbx:
    """The engine's PBX is not used by a reload; it only needs to exist."""

    def __init__(self) -> None:
        self.events: asyncio.Queue[object] = asyncio.Queue()
        self.connected = asyncio.Event()


async def test_a_reload_with_new_operators_keeps_the_calls_holds(tmp_path, db):
    loaded = config(tmp_path, "101", "102")
    engine = Engine(loaded.settings, db, _NoPbx())
    engine.operators.apply_snapshot([member("101", 1, 1.0), member("102", 1, 1.0)], [], 1.0)
    engine.calls.tracks["call-8"] = CallTrack(
        attempt_id=1, lead_id=8, call_id="call-8", sent_at=1.0, queue_tracked=True, operator="102"
    )
    engine.reload(config(tmp_path, "101", "102", "103").settings)
    board = engine.operators
    assert set(board.operators) == {"101", "102", "103"}
    assert board.free("sales", 5.0) == []  # a new board knows nothing until Asterisk speaks
    board.apply_snapshot([member(n, 1, 6.0) for n in ("101", "102", "103")], [], 6.0)
    assert [op.name for op in board.free("sales", 7.0)] == ["101", "103"]  # 102 still on our call
    snapshot = json.loads(json.dumps(board.snapshot(7.0, connected={"default": False})))
    assert snapshot["operators"][1]["current_call"]["lead_id"] == 8


class _SilentPbx(_NoPbx):
    """Connected, but it never answers a QueueStatus: a full read stays in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.connected.set()

    async def queue_members(self) -> list[MemberState]:
        await asyncio.Event().wait()
        return []

    async def device_states(self, devices: list[str]) -> list[object]:
        return []


async def test_a_full_read_started_by_a_reload_ends_with_the_engine(tmp_path, db):
    engine = Engine(config(tmp_path, "101").settings, db, _SilentPbx())
    engine.reload(config(tmp_path, "101", "102").settings)  # connected: it asks Asterisk now

    def resyncs() -> list[str]:  # the tasks not yet finished
        return [t.get_name() for t in asyncio.all_tasks() if "resync" in t.get_name()]

    assert resyncs() == ["engine-operators-resync"]
    async with asyncio.timeout(10):
        await engine.run(until_idle=True)
    assert resyncs() == []
