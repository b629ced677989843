"""Commands that make the scheduling policy visible: `plan`, `explain`, `dnc`.

"Why is nobody being called?" is the most common question about a dialer;
`dialerd plan` and `dialerd explain` answer it with the engine's own reasoning.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console
from rich.table import Table

from dialerd.config import LoadedConfig, Settings
from dialerd.daemon.wake import poke
from dialerd.dialer.planning import decision_json, plan
from dialerd.formats import utc_iso
from dialerd.policy.dnc import InvalidPattern, normalise_pattern
from dialerd.policy.pick import Decision, explain
from dialerd.store import dnc as dnc_store
from dialerd.store import leads as store
from dialerd.store.db import Database, open_store

Loader = Callable[[argparse.Namespace], LoadedConfig]
T = TypeVar("T")


def parse_when(text: str, settings: Settings) -> float:
    """ISO 8601; a time without a zone is read in the call centre's zone."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 time such as 2026-11-23T15:30") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=settings.policy.tz)
    return when.timestamp()


def add_policy_commands(sub: Any, load: Loader) -> None:
    def with_config(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument("--config", type=Path)
        return parser

    cmd = with_config(
        sub.add_parser("plan", help="the dial order the daemon would follow, and who waits why")
    )
    cmd.add_argument("--at", help="ISO time to plan for (default: now; no zone: the centre's zone)")
    cmd.add_argument("--limit", type=int, default=20)
    cmd.add_argument("--format", choices=["table", "json"], default="table")
    cmd.set_defaults(handler=lambda args: _plan(args, load(args)))

    cmd = with_config(
        sub.add_parser("explain", help="why a lead is (not) being called, with its attempts")
    )
    cmd.add_argument("lead_id", type=int)
    cmd.add_argument("--at", help="ISO time (default: now)")
    cmd.add_argument("--format", choices=["text", "json"], default="text")
    cmd.set_defaults(handler=lambda args: _explain(args, load(args)))

    dnc = sub.add_parser("dnc", help="the do-not-call list").add_subparsers(metavar="ACTION")
    cmd = with_config(
        dnc.add_parser("add", help="never dial this number or prefix (closes open leads)")
    )
    cmd.add_argument("pattern")
    cmd.add_argument("--note")
    cmd.set_defaults(handler=lambda args: _dnc_add(args, load(args)))
    cmd = with_config(dnc.add_parser("remove", help="remove an entry"))
    cmd.add_argument("pattern")
    cmd.set_defaults(handler=lambda args: _dnc_remove(args, load(args)))
    cmd = with_config(dnc.add_parser("list", help="every entry"))
    cmd.set_defaults(handler=lambda args: _dnc_list(args, load(args)))


def _at(args: argparse.Namespace, settings: Settings) -> float:
    return parse_when(args.at, settings) if args.at else time.time()


def _plan(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    settings = loaded.settings
    if args.limit < 1:
        print("dialerd: plan: --limit must be ≥ 1", file=sys.stderr)
        return 2
    try:
        now = _at(args, settings)
    except ValueError as exc:
        print(f"dialerd: plan: --at: {exc}", file=sys.stderr)
        return 2
    policy = settings.policy

    decisions = _in_store(loaded, lambda db: plan(db, now, policy, args.limit), create=False)
    if args.format == "json":
        print(json.dumps([decision_json(d) for d in decisions], indent=2))
        return 0
    console = Console()
    window = policy.window
    state = "open" if window.is_open(datetime.fromtimestamp(now, UTC)) else "closed"
    console.print(f"Plan at {policy.local_time(now)} — calling window {state}")
    table = Table("#", "lead", "phone", "campaign", "tier", "why", "deadline")
    for d in decisions:
        table.add_row(
            str(d.position) if d.position else "—",
            str(d.lead_id),
            d.phone,
            d.campaign,
            d.tier,
            d.reason,
            policy.local_time(d.deadline_at) if d.deadline_at and d.attempts == 0 else "",
        )
    console.print(table)
    return 0


def _explain(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    settings = loaded.settings
    try:
        now = _at(args, settings)
    except ValueError as exc:
        print(f"dialerd: explain: --at: {exc}", file=sys.stderr)
        return 2
    policy = settings.policy

    async def look(db: Database) -> tuple[Decision | None, list[dict[str, Any]]]:
        views = await store.lead_views(db, "id = ?", (args.lead_id,), "id", 1)
        if not views:
            return None, []
        return explain(views[0], now, policy), await store.attempts_of(db, args.lead_id)

    decision, attempts = _in_store(loaded, look, create=False)
    if decision is None:
        print(f"dialerd: explain: no lead {args.lead_id}", file=sys.stderr)
        return 2
    history = [
        {
            "attempt": a["number"],
            "at": policy.local_time(a["created_at"]),
            "outcome": a["outcome"] or "in flight",
            "hangup_cause": a["hangup_cause"],
            "talk_s": a["talk_s"],
            "note": a["note"],
        }
        for a in attempts
    ]
    if args.format == "json":
        print(json.dumps({**decision_json(decision), "attempt_history": history}, indent=2))
        return 0
    verdict = "callable now" if decision.callable else "not callable now"
    print(
        f"lead {decision.lead_id} {decision.phone} (campaign {decision.campaign}, tier {decision.tier}): {verdict}"
    )
    print(f"  why: {decision.reason}")
    if decision.local_zone is not None:
        print(f"  local hours read in: {decision.local_zone}")
    if decision.deadline_at and decision.attempts == 0:
        print(f"  speed-to-lead deadline: {policy.local_time(decision.deadline_at)}")
    print(f"  attempts: {decision.attempts}")
    for item in history:
        cause = f", cause {item['hangup_cause']}" if item["hangup_cause"] is not None else ""
        print(f"    #{item['attempt']} {item['at']}: {item['outcome']}{cause}")
    return 0


def _in_store(loaded: LoadedConfig, work: Callable[[Database], Awaitable[T]], *, create: bool) -> T:
    """Run one piece of store work from the command line.

    ``create``: only for work that adds something; a read of a missing store is StoreMissing.
    """

    async def go() -> T:
        async with open_store(loaded.settings.store.path, create=create) as db:
            return await work(db)

    return asyncio.run(go())


def _pattern(args: argparse.Namespace) -> str | None:
    try:
        return normalise_pattern(args.pattern)
    except InvalidPattern as exc:
        print(f"dialerd: dnc: {exc}", file=sys.stderr)
        return None


def _dnc_add(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    if (pattern := _pattern(args)) is None:
        return 2
    closed = _in_store(
        loaded, lambda db: dnc_store.add(db, pattern, args.note, time.time()), create=True
    )
    if closed:
        poke(loaded.settings.store.wake_socket_path)  # their results wait in the CRM outbox
    print(f"{pattern} is on the do-not-call list; {closed} waiting lead(s) closed as dnc")
    return 0


def _dnc_remove(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    if (pattern := _pattern(args)) is None:
        return 2
    if not _in_store(loaded, lambda db: dnc_store.remove(db, pattern), create=False):
        print(f"dialerd: dnc: {pattern} is not on the list", file=sys.stderr)
        return 2
    print(f"{pattern} removed from the do-not-call list (leads closed as dnc stay closed)")
    return 0


def _dnc_list(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    table = Table("pattern", "note", "added")
    for entry in _in_store(loaded, dnc_store.entries, create=False):
        table.add_row(entry["pattern"], entry["note"] or "", utc_iso(entry["added_at"]))
    Console().print(table)
    return 0
