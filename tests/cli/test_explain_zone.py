"""`dialerd explain` says which zone a lead's local hours are read in, and why (issue 15)."""

import json
from pathlib import Path

import pytest

from dialerd.cli.main import main


@pytest.mark.engines("sqlite", "postgresql")
def test_explain_names_the_zone_and_its_source(tmp_path: Path, capsys, engine_store):
    config = tmp_path / "dialerd.yaml"
    config.write_text(
        f"store: {{path: {tmp_path / 'd.sqlite3'}}}\nlogging: {{level: warning}}\n"
        "window: {timezone: Europe/Moscow}\n"
        "campaigns:\n  default:\n    local_hours: {enabled: true}\n"
    )
    args = ["--config", str(config)]
    assert main(["leads", "add", "+79161234567", "--region", "RU-KGD", *args]) == 0
    assert main(["leads", "add", "+79161234568", *args]) == 0
    assert main(["leads", "add", "+79161234569", "--timezone", "Asia/Omsk", *args]) == 0
    capsys.readouterr()
    assert main(["explain", "1", "--at", "2026-11-23T15:00", *args]) == 0
    out = capsys.readouterr().out
    assert "  local hours read in: Europe/Kaliningrad (its delivery region RU-KGD)\n" in out
    assert main(["explain", "2", "--at", "2026-11-23T15:00", "--format", "json", *args]) == 0
    assert json.loads(capsys.readouterr().out)["local_zone"] == (
        "Europe/Moscow (the centre's zone: its number names 16 zones)"
    )
    assert main(["plan", "--at", "2026-11-23T15:00", "--format", "json", *args]) == 0
    zones = {d["lead_id"]: d["local_zone"] for d in json.loads(capsys.readouterr().out)}
    assert zones[3] == "Asia/Omsk (the lead's own timezone)"
