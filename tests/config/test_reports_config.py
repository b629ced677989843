"""The shipped example documents every ``reports`` key, and its schedule example loads."""

from pathlib import Path

from dialerd.config import load_config
from dialerd.config.reports import ReportsSettings, ScheduleSettings

SHIPPED = Path(__file__).parent.parent.parent / "config" / "dialerd.yaml"


def section(text):
    return text.split("\nreports:\n", 1)[1]


def test_every_reports_key_is_in_the_example():
    text = section(SHIPPED.read_text())
    keys = set(ReportsSettings.model_fields) | set(ScheduleSettings.model_fields)
    for field in ReportsSettings.model_fields.values():
        annotation = field.annotation
        if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
            keys |= set(annotation.model_fields)
    missing = [key for key in sorted(keys) if f"{key}:" not in text]
    assert missing == []


def test_the_schedule_example_loads_as_documented(tmp_path):
    text = section(SHIPPED.read_text())
    block = text.split("  #   schedules:\n", 1)[1].split("\n  schedules:", 1)[0]
    example = "  schedules:\n" + "\n".join("  " + line[5:] for line in block.splitlines())
    path = tmp_path / "dialerd.yaml"
    path.write_text(
        "alerts:\n  email:\n    host: smtp.example\n    to: [ops@shop.example]\n"
        f"reports:\n{example}\n"
    )
    daily, weekly = load_config(path).settings.reports.schedules
    assert (daily.name, daily.cron, daily.by, daily.missed) == (
        "daily",
        "0 7 * * *",
        "operator",
        "run_once",
    )
    assert (weekly.period, weekly.format, weekly.email) == ("last_week", "json", [])
