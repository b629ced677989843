"""The ``pauses`` section (issue 12): the reason codes an operator may pause with, each one
safe to put into an AMI header, every mistake named with its file and line."""

from pathlib import Path

import pytest

from dialerd.config import ConfigError, load_config

SHIPPED = Path(__file__).parents[2] / "config" / "dialerd.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dialerd.yaml"
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    return [p.replace(str(path), "F") for p in err.value.problems]


def test_without_the_section_operators_pause_for_a_break_lunch_or_training():
    assert load_config(None).settings.pauses.reasons == ["break", "lunch", "training"]


def test_the_listed_reasons_are_the_ones_offered_in_their_order(tmp_path):
    text = "pauses:\n  reasons: [lunch, coaching session, after-call_work]\n"
    settings = load_config(write(tmp_path, text)).settings
    assert settings.pauses.reasons == ["lunch", "coaching session", "after-call_work"]


def test_the_shipped_example_loads_when_uncommented(tmp_path):
    lines = SHIPPED.read_text().splitlines()
    start = lines.index("#   pauses:")
    example = "\n".join(line.removeprefix("# ") for line in lines[start : start + 2])
    settings = load_config(write(tmp_path, example.replace("  pauses:", "pauses:"))).settings
    assert settings.pauses.reasons == ["break", "lunch", "training", "meeting"]


@pytest.mark.parametrize(
    ("reason", "why"),
    [
        ('"lunch\\r\\nAction: Originate"', "control character"),  # would inject an AMI action
        ('"lunch;drop"', "use 1-40 letters"),
        ('" lunch"', "use 1-40 letters"),  # Asterisk's word would come back trimmed
        ('""', "use 1-40 letters"),
        ("x" * 41, "use 1-40 letters"),
        ("обед", "use 1-40 letters"),  # the console's catalogs translate a plain code
    ],
)
def test_a_reason_unsafe_or_unplain_is_refused_with_its_line(tmp_path, reason, why):
    text = f"pauses:\n  reasons:\n    - lunch\n    - {reason}\n"
    (problem,) = problems(tmp_path, text)
    assert problem.startswith("F:4: pauses.reasons.1: ")
    assert why in problem


def test_a_reason_twice_or_none_at_all_is_refused(tmp_path):
    assert problems(tmp_path, "pauses:\n  reasons: [lunch, Lunch]\n") == [
        "F:2: pauses.reasons: Value error, pause reason 'Lunch' is listed twice"
    ]
    (problem,) = problems(tmp_path, "pauses:\n  reasons: []\n")
    assert problem.startswith("F:2: pauses.reasons: ") and "at least 1" in problem


@pytest.mark.parametrize("reason", ["wrap-up", "Wrap-Up"])
def test_wrap_up_is_the_dialers_own_reason_and_cannot_be_listed(tmp_path, reason):
    (problem,) = problems(tmp_path, f"pauses:\n  reasons: [lunch, {reason}]\n")
    assert problem == (
        f"F:2: pauses.reasons: Value error, pause reason {reason!r} is reserved: dialerd pauses"
        " queue members with it during the wrap-up after a call"
        " (groups.<group>.after_call_work_s)"
    )


def test_a_misspelt_key_is_named(tmp_path):
    (problem,) = problems(tmp_path, "pauses:\n  reason: [lunch]\n")
    assert problem.startswith("F:2: pauses.reason: unknown key")
