"""Operators, groups, modes and recording in the YAML: every mistake named with its line."""

import json
import os
import sqlite3
import time
from pathlib import Path

import pytest

from dialerd.cli.main import main
from dialerd.config import ConfigError, load_config
from dialerd.dialer.board import state_file

GOOD = """
groups:
  sales: {queue: sales, context: operators, exten: "600"}
operators:
  - {name: "101", group: sales, interface: Local/101@operators}
  - {name: anna, group: sales, device: PJSIP/201, interface: PJSIP/201}
campaigns:
  default:
    mode: predictive
    group: sales
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dialerd.yaml"
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    return [p.replace(str(path), "F") for p in err.value.problems]


def test_operators_groups_and_modes_load():
    settings = load_config(None, overrides={}).settings
    assert settings.operators == [] and settings.campaigns["default"].mode == "customer_first"


def test_a_good_file_loads(tmp_path):
    settings = load_config(write(tmp_path, GOOD)).settings
    anna = settings.operators[1]
    assert (anna.dial_device, anna.member_interface) == ("PJSIP/201", "PJSIP/201")
    assert settings.operators[0].dial_device == "Local/101@operators"  # device defaults to it
    assert settings.campaigns["default"].abandon.cap == 0.03
    assert settings.campaigns["default"].abandon.window_days == 30


def test_unknown_groups_and_modes_without_operators_are_named_with_their_line(tmp_path):
    text = GOOD.replace("group: sales, device", "group: salez, device") + (
        "  other:\n    mode: agent_first\n"
    )
    assert problems(tmp_path, text) == [
        "F:6: operators.1.group: unknown group 'salez' (define it under groups:)",
        "F:11: campaigns.other.group: mode agent_first needs an operator group",
    ]


def test_duplicate_operator_and_operator_without_a_phone(tmp_path):
    text = GOOD.replace("name: anna", 'name: "101"')
    assert problems(tmp_path, text) == ["F:6: operators.1.name: '101' is already operators.0"]
    text = GOOD.replace(", device: PJSIP/201, interface: PJSIP/201", "")
    (problem,) = problems(tmp_path, text)
    assert problem.startswith("F:6: operators.1: ") and "give a device" in problem


def test_customer_first_needs_a_queue_to_know_who_took_the_customer(tmp_path):
    text = GOOD.replace("sales: {queue: sales, context: operators", "sales: {context: operators")
    assert problems(tmp_path, text) == [
        "F:10: campaigns.default.group: mode predictive needs a group with a queue ('sales' has none)"
    ]
    text = text.replace("mode: predictive", "mode: agent_first")
    assert load_config(write(tmp_path, text)).settings.campaigns["default"].mode == "agent_first"


def test_a_campaign_group_without_operators_is_refused(tmp_path):
    text = GOOD.replace("groups:\n", "groups:\n  empty: {queue: empty}\n").replace(
        "    group: sales\n", "    group: empty\n"
    )
    assert problems(tmp_path, text) == [
        "F:11: campaigns.default.group: group 'empty' has no operators"
    ]


@pytest.mark.parametrize(
    ("template", "says"),
    [
        ("monitor/{call_id}.wav", "absolute path"),
        ("/rec/{date}.wav", "must contain {call_id}"),
        ("/rec/{who}/{call_id}.wav", "unknown placeholder(s) ['who']"),
        ("/rec/a,b/{call_id}.wav", "no spaces, commas"),
    ],
)
def test_recording_template_is_checked(tmp_path, template, says):
    (problem,) = problems(tmp_path, f"recording:\n  path_template: '{template}'\n")
    assert problem.startswith("F:2: recording.path_template: ") and says in problem


def test_dial_ratio_below_one_and_control_characters_are_refused(tmp_path):
    (problem,) = problems(tmp_path, GOOD + "    dial_ratio: 0.5\n")
    assert "campaigns.default.dial_ratio" in problem and "greater than or equal to 1" in problem
    (problem,) = problems(
        tmp_path, GOOD.replace("PJSIP/201}", '"PJSIP/201\\r\\nAction: Hangup"}', 1)
    )
    assert "operators.1.interface" in problem and "control character" in problem


def test_the_after_call_wrap_up_is_off_unless_set_and_at_most_ten_minutes(tmp_path):
    assert load_config(write(tmp_path, GOOD)).settings.groups["sales"].after_call_work_s == 0
    with_it = GOOD.replace('exten: "600"}', 'exten: "600", after_call_work_s: 45}')
    assert load_config(write(tmp_path, with_it)).settings.groups["sales"].after_call_work_s == 45
    for value, says in (("-1", "greater than or equal to 0"), ("601", "less than or equal to 600")):
        text = GOOD.replace('exten: "600"}', f'exten: "600", after_call_work_s: {value}}}')
        (problem,) = problems(tmp_path, text)
        assert problem.startswith("F:3: groups.sales.after_call_work_s: ") and says in problem


def test_operators_command_joins_the_daemons_state_with_todays_counts(tmp_path, capsys):
    config = write(tmp_path, GOOD + f"store:\n  path: {tmp_path / 'd.sqlite3'}\n")
    settings = load_config(config).settings
    assert main(["migrate", "--config", str(config)]) == 0  # `operators` only reads a store
    capsys.readouterr()
    assert main(["operators", "--config", str(config), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["daemon"]["running"] is False
    assert [op["state"] for op in report["operators"]] == ["unknown", "unknown"]

    with sqlite3.connect(tmp_path / "d.sqlite3") as conn:
        conn.execute(
            "INSERT INTO leads (id, phone, received_at, due_at, updated_at, state)"
            " VALUES (1, '+79161231001', 0, 0, 0, 'closed')"
        )
        now = time.time()
        for n, (outcome, talk) in enumerate(
            [("answered", 60.0), ("busy", None), ("answered", 30.0)]
        ):
            conn.execute(
                "INSERT INTO attempts (lead_id, number, call_id, action_id, campaign, phone,"
                " operator, status, created_at, outcome, talk_s)"
                " VALUES (1, ?, ?, ?, 'default', '+79161231001', '101', 'done', ?, ?, ?)",
                (n + 1, f"c{n}", f"a{n}", now - 60, outcome, talk),
            )
    state = {
        "written_at": now,
        "pid": os.getpid(),  # a live process: "the daemon is running"
        "ami_connected": True,
        "synced": True,
        "operators": [
            {
                "name": "101",
                "state": "busy",
                "detail": "connected to a dialer call",
                "since": now - 5,
                "current_call": {
                    "lead_id": 1,
                    "call_id": "c9",
                    "mode": "predictive",
                    "since": now - 5,
                },
            },
            {
                "name": "anna",
                "state": "paused",
                "detail": "paused in queue sales: lunch",
                "since": now,
                "current_call": None,
            },
        ],
    }
    state_file(settings).write_text(json.dumps(state))
    assert main(["operators", "--config", str(config), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["daemon"] == {"running": True, "ami_connected": True, "state_written_at": now}
    first, anna = report["operators"]
    assert (first["state"], first["current_call"]["lead_id"]) == ("busy", 1)
    assert first["today"] == {"calls": 3, "answered": 2, "talk_s": 90.0}
    assert (anna["state"], anna["today"]["calls"]) == ("paused", 0)
    assert main(["operators", "--config", str(config)]) == 0
    table = capsys.readouterr().out
    assert "paused in queue sales: lunch" in table and "lead 1 (predictive" in table


def test_the_documented_examples_in_the_shipped_config_are_valid(tmp_path):
    """The commented `groups:` and `operators:` examples, uncommented, load as they say."""
    shipped = (Path(__file__).parents[2] / "config" / "dialerd.yaml").read_text()
    examples = []
    for key in ("groups", "operators"):
        block = shipped.split(f"#   {key}:\n", 1)[1].split(f"\n{key}:", 1)[0]
        examples.append(f"{key}:\n" + "\n".join(line[3:] for line in block.splitlines()))
    text = (
        "\n".join(examples) + "\ncampaigns:\n  default:\n    mode: agent_first\n    group: sales\n"
    )
    settings = load_config(write(tmp_path, text)).settings
    assert settings.groups["sales"].queue == "sales"
    assert settings.groups["sales"].after_call_work_s == 60
    assert [op.name for op in settings.operators] == ["anna", "102"]
    assert settings.operators[0].dial_device == "PJSIP/101"
