"""Fixtures of the fault suite: an Asterisk of the test's own, the Asterisk-side witness, and
the per-loop report lines (printed as they come with ``-s``, and in the terminal summary)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from faultkit import asterisk_kwargs, daemon_tree
from support.asterisk import AsteriskInstance
from support.callwatch import CallWatch

_REPORT: list[str] = []


@pytest.fixture
def pbx(fresh_asterisk: Callable[..., AsteriskInstance]) -> AsteriskInstance:
    """A sandbox Asterisk for this test alone: the loops restart and stop it."""
    return fresh_asterisk(**asterisk_kwargs())


@pytest.fixture
async def watch(pbx: AsteriskInstance) -> AsyncIterator[CallWatch]:
    """Asterisk's own account of every customer call, across restarts."""
    async with CallWatch.of(pbx) as watching:
        yield watching


@pytest.fixture
def fault_report() -> Callable[[str], None]:
    """``report(line)``: one line per loop (``faults: <loop> attempts=N faults=K disagreements=D``)."""

    def report(line: str) -> None:
        # the loop's result, for people: shown at once with -s, and in the summary
        print(line, flush=True)  # noqa: T201
        _REPORT.append(line)

    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _REPORT:
        terminalreporter.section("fault suite")
        terminalreporter.write_line(f"daemon under test: {daemon_tree()}")
        for line in _REPORT:
            terminalreporter.write_line(line)
