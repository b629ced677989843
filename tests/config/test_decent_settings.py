"""The decent-calling keys refuse what would break a call or mislead a customer, naming
the file, line and field: caller IDs, per-phone limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialerd.config import ConfigError, load_config


def load(tmp_path: Path, text: str):
    path = tmp_path / "dialerd.yaml"
    path.write_text(text)
    return path, load_config(path)


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load(tmp_path, text)
    return err.value.problems


def test_a_pool_of_caller_ids_is_taken_as_written(tmp_path):
    _, loaded = load(
        tmp_path,
        "campaigns:\n  default:\n    caller_ids:\n"
        '      - {number: "+74951230001", name: Shop}\n'
        '      - {number: "74951230002"}\n',
    )
    pool = loaded.settings.policy.campaign("default").caller_ids
    assert [(c.number, c.header) for c in pool] == [
        ("+74951230001", '"Shop" <+74951230001>'),
        ("74951230002", "<74951230002>"),
    ]


def test_caller_id_and_a_pool_together_are_refused(tmp_path):
    found = problems(
        tmp_path,
        'campaigns:\n  default:\n    caller_id: {number: "+74951230001"}\n'
        '    caller_ids: [{number: "+74951230002"}]\n',
    )
    assert len(found) == 1 and "caller_id (one) or caller_ids (a pool), not both" in found[0]


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ('{number: "+7 495 123"}', "number"),
        ('{number: "12"}', "number"),
        ('{number: "+74951230001", name: "Shop, Inc"}', "name"),
        ('{number: "+74951230001", name: "<Shop>"}', "name"),
    ],
)
def test_a_caller_id_that_would_break_the_call_is_refused(tmp_path, entry, field):
    path = tmp_path / "dialerd.yaml"
    found = problems(tmp_path, f"campaigns:\n  default:\n    caller_id: {entry}\n")
    assert len(found) == 1
    assert found[0].startswith(f"{path}:3: campaigns.default.caller_id.{field}: ")


def test_phone_limits_are_checked(tmp_path):
    path = tmp_path / "dialerd.yaml"
    found = problems(tmp_path, "phone_limits:\n  per_day: 21\n  min_gap_min: -1\n")
    assert [p.split(": ")[0] + ": " + p.split(": ")[1] for p in found] == [
        f"{path}:2: phone_limits.per_day",
        f"{path}:3: phone_limits.min_gap_min",
    ]
    _, loaded = load(tmp_path, "phone_limits:\n  per_day: null\n  min_gap_min: 0\n")
    limits = loaded.settings.policy.phone_limits
    assert (limits.per_day, limits.min_gap_s) == (None, 0.0)
