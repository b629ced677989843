"""`dialerd operators`: each operator's live state, current call and today's counts; and
`dialerd operators passwd NAME`, which sets a console password (issue 12).

The live part is what the running daemon publishes (``<store>.operators.json``,
rewritten within half a second of every change Asterisk reports), so the CLI needs
no AMI credentials and shows exactly what the dialer believes, including its own
holds (an operator rung by agent_first, or connected to a dialer call). Today's
counts come from the store. Without a running daemon every state is ``unknown``.

``passwd`` writes the password file (``config/console_passwords.py``) and nothing else:
it neither needs the store nor opens it.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from dialerd.cli.output import Column, add_format, print_json, print_rows
from dialerd.config import LoadedConfig, Settings
from dialerd.config.console_passwords import MIN_PASSWORD_CHARS, passwords_path, set_password
from dialerd.dialer.board import read_state_file, state_file
from dialerd.store import calls
from dialerd.store.sql import open_configured

Loader = Callable[..., LoadedConfig]  # (args, engines=...)


def add_operators_command(sub: Any, load: Loader) -> None:
    cmd = sub.add_parser(
        "operators", help="each operator's live state, current call and today's counts"
    )
    cmd.add_argument("--config", type=Path, help="YAML config (default: $DIALERD_CONFIG)")
    add_format(cmd)
    # on either store engine: the daemon's state file, and today's counts from its store
    cmd.set_defaults(
        handler=lambda args: _operators(args, load(args, engines=("sqlite", "postgresql")))
    )
    # no action: the live state, as before there were actions
    actions = cmd.add_subparsers(metavar="ACTION", help="none: the live state table")
    about = "set the console password of an operator or a supervisor"
    passwd = actions.add_parser("passwd", help=about, description=about)
    passwd.add_argument("name", metavar="NAME", help="as named in operators: (or supervisors:)")
    # SUPPRESS: a --config given before the action is not reset by this one's default
    passwd.add_argument(
        "--config",
        type=Path,
        default=argparse.SUPPRESS,
        help="YAML config (default: $DIALERD_CONFIG)",
    )
    passwd.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password as one line from stdin (default: asked twice on the terminal)",
    )
    passwd.set_defaults(handler=lambda args: _passwd(args, load(args)))


def operators_report(settings: Settings, now: float) -> dict[str, Any]:
    """The report both formats print: the daemon's published state joined with today's counts."""
    snapshot = read_state_file(state_file(settings))
    running = snapshot is not None and _alive(snapshot.get("pid"))
    live = {op["name"]: op for op in snapshot["operators"]} if running and snapshot else {}
    tz = settings.policy.tz
    midnight = datetime.fromtimestamp(now, tz).replace(hour=0, minute=0, second=0, microsecond=0)

    async def today() -> dict[str, calls.OperatorDay]:
        async with open_configured(settings.store, create=False) as db:
            return await calls.operator_day(db, midnight.timestamp())

    counts = asyncio.run(today())
    rows = []
    for operator in settings.operators:
        state = live.get(operator.name)
        day = counts.get(operator.name, calls.OperatorDay(0, 0, 0.0))
        rows.append(
            {
                "name": operator.name,
                "group": operator.group,
                "state": state["state"] if state else "unknown",
                "detail": state["detail"] if state else "no running daemon",
                "since": state["since"] if state else None,
                "current_call": state["current_call"] if state else None,
                "today": {"calls": day.calls, "answered": day.answered, "talk_s": day.talk_s},
            }
        )
    daemon: dict[str, Any] = {
        "running": running,
        "ami_connected": bool(running and snapshot and snapshot.get("ami_connected")),
        "state_written_at": snapshot.get("written_at") if snapshot else None,
    }
    if len(settings.pbxs) > 1:  # which PBX is down, when one is
        daemon["pbx_connected"] = _pbx_connected(settings, snapshot if running else None)
    return {"daemon": daemon, "operators": rows}


def _pbx_connected(settings: Settings, snapshot: dict[str, Any] | None) -> dict[str, bool]:
    """Each configured PBX's AMI login as the running daemon last wrote it; a PBX the file
    does not name (no daemon, or one started before the PBX was listed) is not connected."""
    written = snapshot.get("pbx_connected") if snapshot else None
    links = written if isinstance(written, dict) else {}
    return {ami.name: links.get(ami.name) is True for ami in settings.pbxs}


def not_connected_line(daemon: dict[str, Any]) -> str | None:
    """What a running daemon's AMI links mean for dialing, said of the PBX that is down
    (None: every PBX is logged in)."""
    if daemon["ami_connected"]:
        return None
    links: dict[str, bool] = daemon.get("pbx_connected", {})
    down = [name for name, up in links.items() if not up]
    if not links or len(down) == len(links):
        if len(links) > 1:
            return (
                "dialerd is running but connected to none of its Asterisk servers"
                f" ({', '.join(down)}): nobody is dialed"
            )
        return "dialerd is running but not connected to Asterisk: nobody is dialed"
    up = [name for name, is_up in links.items() if is_up]
    return (
        f"dialerd is running but not connected to Asterisk {', '.join(down)}: nobody is"
        f" dialed there ({', '.join(up)} connected)"
    )


def _operators(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    settings = loaded.settings
    now = time.time()
    report = operators_report(settings, now) if settings.operators else {"operators": []}
    if args.format == "json":
        print_json(report)
        return 0
    rows = [
        {
            **row,
            "state_detail": row["detail"] or row["state"],
            "since": _ago(row["since"], now),
            "call": _call(row["current_call"], now),
            "calls": row["today"]["calls"],
            "answered": row["today"]["answered"],
            "talk_min": f"{row['today']['talk_s'] / 60:.1f}",
        }
        for row in report["operators"]
    ]
    if args.format == "csv":
        csv_rows = [
            {**row, "since": source["since"]}
            for row, source in zip(rows, report["operators"], strict=True)
        ]
        print_rows(csv_rows, CSV_COLUMNS, "csv", settings.policy.tz)
        return 0
    if not settings.operators:
        print("no operators configured (see operators: in config/dialerd.yaml)")
        return 0
    daemon = report["daemon"]
    if not daemon["running"]:
        print("dialerd is not running: live states unknown (today's counts from the store)")
    elif (line := not_connected_line(daemon)) is not None:
        print(line)
    print_rows(rows, COLUMNS, "table", settings.policy.tz)
    return 0


CSV_COLUMNS = (
    Column("name", "operator"),
    Column("group", "group"),
    Column("state", "state"),
    Column("state_detail", "detail"),
    Column("since", "since", "time"),
    Column("call", "current call"),
    Column("calls", "calls"),
    Column("answered", "answered"),
    Column("talk_min", "talk min"),
)
COLUMNS = (
    Column("name", "operator", "fixed"),
    Column("state_detail", "state", "long"),
    Column("since", "since"),
    Column("call", "current call", "long"),
    Column("calls", "calls", "number"),
    Column("answered", "answ.", "number"),
    Column("talk_min", "talk min", "number"),
)


def _call(call: dict[str, Any] | None, now: float) -> str:
    return f"lead {call['lead_id']} ({call['mode']}, {_ago(call['since'], now)})" if call else ""


class _Refused(Exception):
    """A password that will not be set; the message says why, in one line."""


def _passwd(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    settings, name = loaded.settings, args.name
    known = _known_users(settings)
    if name not in known:
        where = loaded.path or "the config"
        named = f"known: {', '.join(sorted(known))}" if known else "none are configured"
        print(f"dialerd: no operator or supervisor {name!r} in {where} ({named})", file=sys.stderr)
        return 2
    try:
        password = _new_password(name, from_stdin=args.password_stdin)
    except _Refused as exc:
        print(f"dialerd: {exc}", file=sys.stderr)
        return 2
    path = passwords_path(settings)
    try:
        set_password(path, name, password)
    except ValueError as exc:
        print(f"dialerd: {exc}", file=sys.stderr)
        return 2
    print(f"password set for {name} in {path}")
    return 0


def _known_users(settings: Settings) -> set[str]:
    """Who may have a console password: the operators, and the supervisors once the
    ``console`` section (which lists them) exists."""
    names = {operator.name for operator in settings.operators}
    supervisors = getattr(getattr(settings, "console", None), "supervisors", None) or []
    return names | {supervisor.name for supervisor in supervisors}


def _new_password(name: str, *, from_stdin: bool) -> str:
    """One line from stdin, or asked twice on the terminal (never echoed); then checked."""
    if from_stdin:
        try:
            line = sys.stdin.readline()
        except UnicodeDecodeError:
            raise _Refused("the password is not UTF-8 text") from None
        if not line:
            raise _Refused("no password on stdin (one line expected)")
        password = line.removesuffix("\n").removesuffix("\r")
    else:
        if not sys.stdin.isatty():
            raise _Refused("stdin is not a terminal: pipe the password with --password-stdin")
        try:
            password = getpass.getpass(f"new console password for {name}: ")
            again = getpass.getpass("the same again: ")
        except EOFError:
            raise _Refused("no password given") from None
        if password != again:
            raise _Refused("the two passwords differ; nothing was changed")
    try:
        password.encode("utf-8")  # undecodable bytes come as surrogates, not as an error
    except UnicodeEncodeError:
        raise _Refused("the password is not UTF-8 text") from None
    if len(password) < MIN_PASSWORD_CHARS:
        raise _Refused(f"a console password has at least {MIN_PASSWORD_CHARS} characters")
    return password


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, run by another user
        return True
    return True


def _ago(epoch: float | None, now: float) -> str:
    if not epoch:
        return ""
    seconds = max(0, int(now - epoch))
    return f"{seconds // 60}m{seconds % 60:02d}s ago" if seconds >= 60 else f"{seconds}s ago"
