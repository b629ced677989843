"""The documentation a user has is the documentation cited (issue 15): no DESIGN.md, no
requirement numbers (R7, §4) in what a user reads (the README, the shipped config,
``--help``, the HTML report, the OpenAPI document), and the documents the README links to
are in the repository and complete."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest
from support.sample_reports import sample_report

from dialerd.api.app import create_app
from dialerd.cli.main import _parser
from dialerd.reports.html import render_html
from dialerd.reports.model import METRIC_NAMES

ROOT = Path(__file__).resolve().parents[1]
CITATION = re.compile(r"DESIGN|§|\bR\d{1,2}\b")
DOCS = ("docs/metrics.md", "docs/plan-json.md", "docs/config.md", "docs/api.md")


def helps(parser: argparse.ArgumentParser) -> list[str]:
    found = [parser.format_help()]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                found += helps(child)
    return found


def citations(text: str) -> list[str]:
    return [line for line in text.splitlines() if CITATION.search(line)]


@pytest.mark.parametrize("path", ["README.md", "config/dialerd.yaml", *DOCS])
def test_no_citation_of_documents_the_user_does_not_have(path):
    assert citations((ROOT / path).read_text()) == []


def test_help_html_report_and_openapi_cite_nothing_missing():
    assert [c for text in helps(_parser()) for c in citations(text)] == []
    assert citations(render_html(sample_report())) == []
    openapi = json.dumps(create_app(None).openapi(), ensure_ascii=False)  # type: ignore[arg-type]
    assert CITATION.findall(openapi) == []


def test_the_readme_links_every_document_and_they_exist():
    readme = (ROOT / "README.md").read_text()
    for path in DOCS:
        assert f"]({path})" in readme, f"README does not link {path}"
        assert (ROOT / path).is_file()


def test_every_report_metric_is_defined():
    metrics = (ROOT / "docs/metrics.md").read_text()
    missing = [name for name in METRIC_NAMES if f"`{name}`" not in metrics]
    assert missing == []


def test_plan_json_fields_are_documented():
    from dialerd.policy.pick import Decision

    schema = (ROOT / "docs/plan-json.md").read_text()
    fields = [*Decision.__dataclass_fields__, "attempt_history"]
    assert [f for f in fields if f"`{f}`" not in schema] == []
