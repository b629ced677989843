"""``dialerd operators`` with several PBXs: it names the PBX that is not connected, and says
nothing of the others' dialing that is untrue; with one PBX it says what it always said."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from dialerd.cli.main import main
from dialerd.config import load_config
from dialerd.dialer.board import state_file

OPERATORS = """\
groups:
  sales: {{queue: sales, context: operators, exten: "600"}}
operators:
  - {{name: anna, group: sales, interface: PJSIP/101{anna_pbx}}}
store:
  path: {store}
api:
  enabled: false
"""
THREE_PBXS = """\
ami:
  - {name: east, host: 127.0.0.1, port: 5038}
  - {name: west, host: 127.0.0.1, port: 5039}
  - {name: north, host: 127.0.0.1, port: 5040}
"""


def configured(tmp_path: Path, *, several: bool) -> Path:
    text = OPERATORS.format(anna_pbx=", pbx: east" if several else "", store=tmp_path / "d.sqlite3")
    path = tmp_path / "dialerd.yaml"
    path.write_text((THREE_PBXS if several else "") + text)
    assert main(["migrate", "--config", str(path)]) == 0
    return path


def daemon_wrote(config: Path, connected: dict[str, bool]) -> None:
    """The state file as a running daemon (this process: its pid is alive) writes it."""
    state = {
        "written_at": time.time(),
        "pid": os.getpid(),
        "ami_connected": all(connected.values()),
        "pbx_connected": connected,
        "synced": True,
        "operators": [
            {"name": "anna", "state": "free", "detail": "", "since": None, "current_call": None}
        ],
    }
    state_file(load_config(config).settings).write_text(json.dumps(state))


def run(config: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    capsys.readouterr()
    assert main(["operators", "--config", str(config), *extra]) == 0
    return capsys.readouterr().out


def test_the_pbx_that_is_down_is_named_and_the_others_are_said_to_be_connected(tmp_path, capsys):
    config = configured(tmp_path, several=True)
    daemon_wrote(config, {"east": True, "west": False, "north": True})
    out = run(config, capsys)
    assert out.splitlines()[0] == (
        "dialerd is running but not connected to Asterisk west: nobody is dialed there"
        " (east, north connected)"
    )
    report: dict[str, Any] = json.loads(run(config, capsys, "--format", "json"))
    assert report["daemon"]["ami_connected"] is False
    assert report["daemon"]["pbx_connected"] == {"east": True, "west": False, "north": True}

    daemon_wrote(config, {"east": False, "west": False, "north": True})
    assert run(config, capsys).splitlines()[0] == (
        "dialerd is running but not connected to Asterisk east, west: nobody is dialed there"
        " (north connected)"
    )
    daemon_wrote(config, {"east": False, "west": False, "north": False})
    assert run(config, capsys).splitlines()[0] == (
        "dialerd is running but connected to none of its Asterisk servers (east, west, north):"
        " nobody is dialed"
    )
    daemon_wrote(config, {"east": True, "west": True, "north": True})
    assert "not connected" not in run(config, capsys)
    assert "connected to none" not in run(config, capsys)


def test_one_pbx_down_reads_as_it_always_did(tmp_path, capsys):
    config = configured(tmp_path, several=False)
    daemon_wrote(config, {"default": False})
    assert run(config, capsys).splitlines()[0] == (
        "dialerd is running but not connected to Asterisk: nobody is dialed"
    )
    report = json.loads(run(config, capsys, "--format", "json"))
    assert set(report["daemon"]) == {"running", "ami_connected", "state_written_at"}
