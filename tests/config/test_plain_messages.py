"""Config problems in plain words (issue 15): no traceback for an unquoted bad date, none of
pydantic's own wording (class names, ``Value error, ``, ``literal[...]``), file and line kept;
warnings for hours that dial at night; every secret ``run`` needs reported at once."""

from pathlib import Path

import pytest

from dialerd.cli.main import main
from dialerd.config import ConfigError, load_config

PYDANTIC_WORDS = ("Value error", "Field required", "Settings", "literal[", "Input should")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dialerd.yaml"
    path.write_text(text)
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load_config(path)
    for problem in err.value.problems:
        assert not any(words in problem for words in PYDANTIC_WORDS), problem
    return err.value.problems


def test_an_unquoted_impossible_holiday_is_a_config_error_with_its_line(tmp_path, capsys):
    path = write(tmp_path, "window:\n  holidays: [2026-12-31, 2026-13-01]\n")
    assert problems(path) == [f"{path}:2: window.holidays.1: not a date (use YYYY-MM-DD)"]
    assert main(["check-config", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "window.holidays.1: not a date" in err


def test_unquoted_valid_holidays_still_load(tmp_path):
    loaded = load_config(write(tmp_path, "window:\n  holidays: [2026-12-31]\n"))
    assert [str(day) for day in loaded.settings.window.holidays] == ["2026-12-31"]


def test_weekday_hours_mistakes_name_the_day_in_plain_words(tmp_path):
    path = write(
        tmp_path,
        'window:\n  weekdays:\n    sat: {open: "10:00"}\n    sun: closd\n    mon: {open: "25:00", close: "12:00"}\n',
    )
    assert problems(path) == [
        f"{path}:3: window.weekdays.sat.close: required, but missing",
        f'{path}:4: window.weekdays.sun: must be closed or hours, e.g. {{open: "10:00", close: "16:00"}}',
        f'{path}:5: window.weekdays.mon.open: not a time of day (use "HH:MM", quoted)',
    ]


def test_validator_messages_lose_pydantic_prefix(tmp_path):
    path = write(tmp_path, "campaigns:\n  default:\n    local_hours: {open: '09:00'}\n")
    assert problems(path) == [
        f"{path}:3: campaigns.default.local_hours: give both open and close, or neither"
    ]
    path = write(tmp_path, "campaigns:\n  default:\n    max_attempts: 40\n")
    assert problems(path) == [f"{path}:3: campaigns.default.max_attempts: must be at most 20"]


@pytest.mark.parametrize(
    ("hours", "warning"),
    [
        (
            'open: "22:00"\n  close: "10:00"',
            "window: 22:00-10:00 runs past midnight and dials all night",
        ),
        ('open: "09:00"\n  close: "09:00"', "window: open = close (09:00) dials round the clock"),
    ],
)
def test_hours_that_dial_at_night_warn_but_pass(tmp_path, capsys, monkeypatch, hours, warning):
    monkeypatch.setenv("DIALERD_AMI__SECRET", "s3cret")
    path = write(
        tmp_path,
        f"window:\n  {hours}\napi:\n  enabled: false\nstore:\n  path: {tmp_path}/d.sqlite3\n",
    )
    assert any(w.startswith(warning) for w in load_config(path).warnings)
    assert main(["check-config", "--config", str(path)]) == 0
    out, err = capsys.readouterr()
    assert f"dialerd: warning: {warning}" in err and out.endswith(": OK\n")


def test_a_weekday_through_the_night_warns(tmp_path):
    path = write(tmp_path, 'window:\n  weekdays:\n    fri: {open: "10:00", close: "02:00"}\n')
    assert load_config(path).warnings == (
        "window.weekdays.fri: 10:00-02:00 runs past midnight and dials all night"
        " (closes at 02:00 the next day)",
    )


def test_daytime_hours_do_not_warn(tmp_path):
    assert (
        load_config(write(tmp_path, 'window:\n  open: "09:00"\n  close: "21:00"\n')).warnings == ()
    )


@pytest.mark.parametrize("command", ["run", "check-config"])
def test_run_and_check_config_report_every_missing_secret_at_once(tmp_path, capsys, command):
    path = write(tmp_path, f"api:\n  enabled: true\nstore:\n  path: {tmp_path}/d.sqlite3\n")
    assert main([command, "--config", str(path)]) == 2
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert any(line.startswith("dialerd: config error: ami.secret: not set") for line in lines)
    assert any(line.startswith("dialerd: config error: api.tokens: none set") for line in lines)
    assert "OK" not in out
    assert not (tmp_path / "d.sqlite3").exists()


def test_abandon_target_at_the_cap_and_an_unsafe_message_are_refused_with_their_lines(tmp_path):
    path = write(
        tmp_path,
        "campaigns:\n"
        "  default:\n"
        "    abandon:\n"
        "      cap: 0.03\n"
        "      target: 0.03\n"
        "  other:\n"
        "    abandon:\n"
        '      message: "../../etc/passwd"\n',
    )
    found = problems(path)
    assert any("target 0.03 must be below the cap 0.03" in p for p in found), found
    assert any("an Asterisk sound name" in p and ":8:" in p for p in found), found


@pytest.mark.parametrize("name", ["custom/safe-harbor.gsm", "/var/sounds/x", "a,b", "x)"])
def test_the_safe_harbor_and_the_machine_message_refuse_the_same_sound_names(tmp_path, name):
    """One rule for every sound the config hands Playback(): a name, no extension, no path."""
    path = write(
        tmp_path,
        "campaigns:\n"
        "  default:\n"
        "    abandon:\n"
        f'      message: "{name}"\n'
        "    amd:\n"
        f'      message: "{name}"\n',
    )
    found = [p for p in problems(path) if "an Asterisk sound name without extension" in p]
    assert any(":4:" in p for p in found) and any(":6:" in p for p in found), found
