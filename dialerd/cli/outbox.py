"""`dialerd outbox list|retry`: the CRM results that wait, failed or were delivered.

A parked message (the CRM refused it, or did not take it within ``crm.max_tries``) stays
in the store until someone fixes the cause and retries it here; the running daemon is
woken (the wake socket; on PostgreSQL a NOTIFY to every daemon) and sends it at once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dialerd.cli.output import Column, add_format, print_rows
from dialerd.config import LoadedConfig
from dialerd.daemon.wake import wake_daemons
from dialerd.store import outbox
from dialerd.store.sql import open_configured

Loader = Callable[[argparse.Namespace], LoadedConfig]
STATES = ("pending", "parked", "delivered")


def add_outbox_commands(sub: Any, load: Loader) -> None:
    about = "results for the CRM: list, retry parked ones"
    box = sub.add_parser("outbox", help=about, description=about)
    box.set_defaults(help_of=box)
    actions = box.add_subparsers(metavar="ACTION")
    cmd = actions.add_parser("list", help="messages in the outbox, oldest first")
    cmd.add_argument("--state", choices=STATES, help="only messages in this state")
    cmd.add_argument("--limit", type=int, default=100, help="how many messages (default 100)")
    add_format(cmd)
    cmd.add_argument("--config", type=Path, help="YAML config (default: $DIALERD_CONFIG)")
    cmd.set_defaults(handler=lambda args: _list(args, load(args)))
    cmd = actions.add_parser("retry", help="send parked messages again (a running daemon at once)")
    which = cmd.add_mutually_exclusive_group(required=True)
    which.add_argument("message_id", nargs="?", type=int, help="the message id (outbox list)")
    which.add_argument("--all-parked", action="store_true", help="every parked message")
    cmd.add_argument("--config", type=Path, help="YAML config (default: $DIALERD_CONFIG)")
    cmd.set_defaults(handler=lambda args: _retry(args, load(args)))


def _list(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    if args.limit < 1:
        print("dialerd: outbox list: --limit must be ≥ 1", file=sys.stderr)
        return 2

    async def go() -> list[dict[str, Any]]:
        async with open_configured(loaded.settings.store, create=False) as db:
            return await outbox.messages(db, args.state, args.limit)

    rows = asyncio.run(go())
    shown = []
    for row in rows:
        payload = json.loads(row["payload"])
        delivered = row["state"] == "delivered"
        shown.append(
            {
                **row,
                "payload": payload,
                "result": payload.get("result", ""),
                "when": None
                if row["state"] == "parked"
                else row["delivered_at"]
                if delivered
                else row["next_try_at"],
            }
        )
    print_rows(
        shown,
        COLUMNS,
        args.format,
        loaded.settings.policy.tz,
        json_rows=[{k: v for k, v in row.items() if k not in ("result", "when")} for row in shown],
    )
    return 0


COLUMNS = (
    Column("id", "id", "number"),
    Column("lead_id", "lead", "number"),
    Column("result", "result"),
    Column("state", "state"),
    Column("attempts", "tries", "number"),
    Column("when", "next try / delivered", "time"),
    Column("last_error", "last error", "long"),
)


def _retry(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    settings = loaded.settings

    async def go() -> tuple[int, bool]:
        async with open_configured(settings.store, create=False) as db:
            moved = await outbox.retry_parked(db, args.message_id, time.time())
            woke = await wake_daemons(db, settings.store.wake_socket_path) if moved else False
            return moved, woke

    try:
        moved, woke = asyncio.run(go())
    except outbox.NotParked as exc:
        print(f"dialerd: outbox retry: {exc}", file=sys.stderr)
        return 2
    note = "" if woke or not moved else " (no running daemon was woken)"
    print(f"{moved} parked message(s) moved back to pending{note}")
    return 0
