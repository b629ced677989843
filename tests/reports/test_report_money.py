"""One money format and plain labels in every report format (issue 15): amounts are decimal
strings in JSON and CSV (as in the CRM webhook), named by the configured ISO 4217 code in
the table and the HTML; CSV numbers are rounded for people and spreadsheets; the table's
labels are words, not field names."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re

import pytest
from support.sample_reports import sample_report

from dialerd.config import ConfigError, load_config
from dialerd.reports.html import render_html
from dialerd.reports.render import render


def rub(by: str | None = "date"):
    return dataclasses.replace(sample_report(by), currency="RUB")


def test_json_money_is_a_decimal_string_with_its_currency():
    data = json.loads(render(rub(), "json"))
    assert data["currency"] == "RUB"
    assert data["totals"]["revenue"] == "22824.95"
    for row in [data["totals"], *(r["metrics"] for r in data["rows"] + data["operators"])]:
        for name in ("revenue", "average_check", "cost", "cost_per_contact"):
            assert row[name] is None or re.fullmatch(r"-?\d+\.\d\d", row[name]), (name, row[name])
    assert data["generated_at"].endswith("+00:00") and data["period"]["start"].endswith("+00:00")


def test_csv_numbers_are_rounded_and_money_has_two_decimals():
    rows = list(csv.DictReader(io.StringIO(render(rub(), "csv"))))
    for row in rows:
        for name, cell in row.items():
            if re.fullmatch(r"-?\d+\.\d+", cell or ""):
                assert len(cell.split(".")[1]) <= 4, (name, cell)
        assert re.fullmatch(r"\d+\.\d\d", row["revenue"])
    assert rows[0]["revenue"] == "22824.95"


def test_the_table_speaks_words_and_names_the_currency():
    table = render(rub(), "table")
    for label in ("speed to lead, median", "average handling time", "first call resolution"):
        assert label in table
    for field_name in ("aht s", "speed to lead median s", "fcr "):
        assert field_name not in table
    assert re.search(r"│ revenue +│ RUB\u00a022,824\.95", table)
    assert table.count("RUB") >= 4  # average order, cost, per conversation; the breakdown


def test_the_html_names_the_currency():
    page = render_html(rub())
    assert ">RUB\u00a022,824.95<" in page and "Money in RUB." in page
    assert "reports.currency" in render_html(sample_report())  # how to name it


def test_money_is_written_as_the_reports_locale_writes_it():
    """English: "RUB 22,824.95", "€22,824.95"; Russian: "22 824,95 ₽" (no-break spaces, a
    decimal comma) in the table, the HTML report and the e-mail; JSON and CSV stay
    machine-readable whatever the locale."""
    from dialerd.config.reports import ScheduleSettings
    from dialerd.reports.delivery import summary

    ru = dataclasses.replace(rub(), locale="ru")
    table = render(ru, "table")
    assert re.search(r"│ revenue +│ 22\u00a0824,95\u00a0₽", table)
    assert "RUB" not in table and "22,824" not in table
    page = render_html(ru)
    assert ">22\u00a0824,95\u00a0₽<" in page
    assert "22,824.95" not in page
    schedule = ScheduleSettings(name="daily", cron="0 8 * * *", email=["owner@example.com"])
    assert "Revenue:              22\u00a0824,95\u00a0₽" in summary(ru, schedule)
    assert "Revenue:              RUB\u00a022,824.95" in summary(rub(), schedule)
    euro = dataclasses.replace(rub(), currency="EUR")
    assert "€22,824.95" in render(euro, "table")
    assert "22\u00a0824,95\u00a0€" in render(dataclasses.replace(euro, locale="ru"), "table")

    assert json.loads(render(ru, "json"))["totals"]["revenue"] == "22824.95"
    assert render(ru, "csv") == render(rub(), "csv")


def test_the_reports_locale_is_the_consoles_language_unless_set(tmp_path):
    path = tmp_path / "dialerd.yaml"
    path.write_text("console:\n  language: ru\n")
    settings = load_config(path).settings
    assert (settings.reports.locale, settings.console.language) == (None, "ru")
    path.write_text("console:\n  language: ru\nreports:\n  locale: en\n")
    assert load_config(path).settings.reports.locale == "en"
    path.write_text("reports:\n  locale: de\n")
    with pytest.raises(ConfigError, match="locale"):
        load_config(path)


@pytest.mark.parametrize("code", ["rub", "RUBL", "₽"])
def test_currency_must_be_an_iso_4217_code(tmp_path, code):
    path = tmp_path / "dialerd.yaml"
    path.write_text(f"reports:\n  currency: {code}\n")
    with pytest.raises(ConfigError, match="ISO 4217"):
        load_config(path)
    path.write_text("reports:\n  currency: RUB\n")
    assert load_config(path).settings.reports.currency == "RUB"
