"""Commands that make the scheduling policy visible: `plan`, `explain`, `dnc`.

"Why is nobody being called?" is the most common question about a dialer;
`dialerd plan` and `dialerd explain` answer it with the engine's own reasoning.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from dialerd.cli.output import Column, add_format, console, print_json, print_rows
from dialerd.config import LoadedConfig, Settings
from dialerd.daemon.wake import wake_daemons
from dialerd.dialer.planning import (
    POSITION_HORIZON,
    Explained,
    closed_without_tier,
    decision_json,
    explain_lead,
    explained_json,
    plan,
)
from dialerd.policy.dnc import InvalidPattern, normalise_pattern, whole_countries
from dialerd.policy.pick import Decision, Policy
from dialerd.store import dnc as dnc_store
from dialerd.store import due
from dialerd.store.sql import Store, open_configured

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
        parser.add_argument("--config", type=Path, help="YAML config (default: $DIALERD_CONFIG)")
        return parser

    cmd = with_config(
        sub.add_parser("plan", help="the dial order the daemon would follow, and who waits why")
    )
    cmd.add_argument("--at", help="ISO time to plan for (default: now; no zone: the centre's zone)")
    cmd.add_argument(
        "--limit",
        type=int,
        default=20,
        help="how many leads to show (default 20): the callable ones in dial order first,"
        " then those that wait and why",
    )
    add_format(cmd)
    cmd.set_defaults(handler=lambda args: _plan(args, load(args)))

    cmd = with_config(
        sub.add_parser("explain", help="why a lead is (not) being called, with its attempts")
    )
    cmd.add_argument("lead_id", type=int, help="the lead's id (leads list)")
    cmd.add_argument("--at", help="ISO time (default: now; no zone: the centre's zone)")
    add_format(cmd)
    cmd.set_defaults(handler=lambda args: _explain(args, load(args)))

    about = "the do-not-call list"
    group = sub.add_parser("dnc", help=about, description=about)
    group.set_defaults(help_of=group)
    dnc = group.add_subparsers(metavar="ACTION")
    cmd = with_config(
        dnc.add_parser("add", help="never dial this number or prefix (closes open leads)")
    )
    cmd.add_argument("pattern", help="a number or a prefix in E.164, e.g. '+7 495'")
    cmd.add_argument("--note", help="why (shown by dnc list and explain)")
    cmd.add_argument(
        "--force", action="store_true", help="allow a prefix that blocks a whole country code"
    )
    cmd.set_defaults(handler=lambda args: _dnc_add(args, load(args)))
    cmd = with_config(dnc.add_parser("remove", help="remove an entry"))
    cmd.add_argument("pattern", help="as listed by dnc list")
    cmd.set_defaults(handler=lambda args: _dnc_remove(args, load(args)))
    cmd = with_config(dnc.add_parser("list", help="every entry"))
    add_format(cmd)
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

    async def planned(db: Store) -> list[Decision]:
        async with as_the_daemon_sees(db, settings, now) as seen:
            return await plan(seen, now, policy, args.limit)

    decisions = _in_store(loaded, planned, create=False)
    decisions = decisions[: args.limit]  # the callable ones first, then who waits: N in all
    rows = [closed_without_tier(decision_json(d)) for d in decisions]
    if args.format != "table":
        print_rows(rows, PLAN_COLUMNS, args.format, policy.tz)
        return 0
    window = policy.window
    state = "open" if window.is_open(datetime.fromtimestamp(now, UTC)) else "closed"
    console().print(f"Plan at {policy.local_time(now)}: calling window {state}")
    shown = [
        {
            **asdict(d),
            "position": d.position or "—",
            "tier": row["tier"] or "",
            "deadline_at": d.deadline_at if row["deadline_at"] and d.attempts == 0 else None,
        }
        for d, row in zip(decisions, rows, strict=True)
    ]
    print_rows(shown, PLAN_COLUMNS, "table", policy.tz)
    return 0


PLAN_COLUMNS = (
    Column("position", "#", "number"),
    Column("lead_id", "lead", "number"),
    Column("phone", "phone", "fixed"),
    Column("tier", "tier"),
    Column("reason", "why", "long"),
    Column("deadline_at", "deadline", "time"),
)
HISTORY_COLUMNS = (
    Column("attempt", "#", "number"),
    Column("at", "at", "time"),
    Column("outcome", "outcome"),
    Column("hangup_cause", "cause", "number"),
    Column("talk_s", "talk s", "number"),
    Column("note", "note", "long"),
)


def _explain(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    settings = loaded.settings
    try:
        now = _at(args, settings)
    except ValueError as exc:
        print(f"dialerd: explain: --at: {exc}", file=sys.stderr)
        return 2
    policy = settings.policy

    async def look(db: Store) -> Explained | None:
        async with as_the_daemon_sees(db, settings, now) as seen:
            return await explain_lead(seen, args.lead_id, now, policy)

    found = _in_store(loaded, look, create=False)
    if found is None:
        print(f"dialerd: explain: no lead {args.lead_id}", file=sys.stderr)
        return 2
    data = explained_json(found)
    if args.format == "json":
        print_json(data)
        return 0
    if args.format == "csv":  # the lead's line of `plan --format csv`
        print_rows([data], PLAN_COLUMNS, "csv", policy.tz)
        return 0
    _print_explained(found, data, policy, None if args.at is None else now)
    return 0


def _print_explained(
    found: Explained, data: dict[str, Any], policy: Policy, at: float | None
) -> None:
    decision, blocked = found.decision, found.dnc
    when = "now" if at is None else f"at {policy.local_time(at)}"
    if decision.callable:
        place = (
            f", number {decision.position} in the dial order"
            if decision.position
            else f", after the first {POSITION_HORIZON} in the dial order"
        )
        verdict = f"callable {when}{place}"
    else:
        verdict = f"not callable {when}"
    tier = "" if data["tier"] is None else f", tier {decision.tier}"
    print(
        f"lead {decision.lead_id} {decision.phone} (campaign {decision.campaign}{tier}): {verdict}"
    )
    print(f"  why: {decision.reason}")
    if decision.local_zone is not None:
        print(f"  local hours read in: {decision.local_zone}")
    if blocked is not None:
        note = f": {blocked['note']}" if blocked["note"] else ""
        print(f"  do-not-call entry {blocked['pattern']}{note}")
    if data["deadline_at"] and decision.attempts == 0:
        print(f"  speed-to-lead deadline: {policy.local_time(decision.deadline_at or 0)}")
    print(f"  attempts: {decision.attempts}")
    for item in found.history:
        cause = ""
        if item["hangup_cause"] is not None:
            cause = f", cause {item['hangup_cause']} ({item['hangup_cause_meaning']})"
        who = f", operator {item['operator']}" if item["operator"] else ""
        result = f", result {item['result']}" if item["result"] else ""
        print(
            f"    #{item['attempt']} {policy.local_time(item['at'])}: {item['outcome']}"
            f"{cause}{who}{result}"
        )


def as_the_daemon_sees(
    db: Store, settings: Settings, now: float
) -> contextlib.AbstractAsyncContextManager[Store]:
    """The store to read as a daemon started on this config sees it: its leads ranked by
    this config's schemes, those over this config's caps closed (rolled back afterwards)."""
    policy = settings.policy
    default = policy.campaign(policy.default_campaign)
    return due.as_reranked(
        db,
        {name: campaign.scheme for name, campaign in policy.campaigns.items()},
        default.scheme,
        {name: campaign.max_attempts for name, campaign in policy.campaigns.items()},
        default.max_attempts,
        now,
    )


def _in_store(loaded: LoadedConfig, work: Callable[[Store], Awaitable[T]], *, create: bool) -> T:
    """Run one piece of store work from the command line, on the store the config names.

    ``create``: only for work that adds something; a read of a missing SQLite file is
    StoreMissing (a PostgreSQL database is never created: it is the administrator's).
    """

    async def go() -> T:
        async with open_configured(loaded.settings.store, create=create) as db:
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
    if (countries := whole_countries(pattern)) and not args.force:
        shown = ", ".join(countries[:8]) + (", ..." if len(countries) > 8 else "")
        print(
            f"dialerd: dnc: {pattern} blocks every number of a whole country code ({shown});"
            " add --force if that is meant",
            file=sys.stderr,
        )
        return 2

    async def add(db: Store) -> int:
        closed = await dnc_store.add(db, pattern, args.note, time.time())
        if closed:  # their results wait in the CRM outbox
            await wake_daemons(db, loaded.settings.store.wake_socket_path)
        return closed

    closed = _in_store(loaded, add, create=True)
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
    entries = _in_store(loaded, dnc_store.entries, create=False)
    print_rows(entries, DNC_COLUMNS, args.format, loaded.settings.policy.tz)
    return 0


DNC_COLUMNS = (
    Column("pattern", "pattern", "fixed"),
    Column("note", "note", "long"),
    Column("added_at", "added", "time"),
)
