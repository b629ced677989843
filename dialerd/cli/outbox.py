"""`dialerd outbox list|retry`: the CRM results that wait, failed or were delivered.

A parked message (the CRM refused it, or did not take it within ``crm.max_tries``) stays
in the store until someone fixes the cause and retries it here; the running daemon is
poked through the wake socket and sends it at once.
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

from rich.console import Console
from rich.table import Table

from dialerd.config import LoadedConfig
from dialerd.daemon.wake import poke
from dialerd.formats import utc_iso_or_none
from dialerd.store import outbox
from dialerd.store.db import open_store

Loader = Callable[[argparse.Namespace], LoadedConfig]
STATES = ("pending", "parked", "delivered")


def add_outbox_commands(sub: Any, load: Loader) -> None:
    box = sub.add_parser("outbox", help="results for the CRM: list, retry parked ones")
    actions = box.add_subparsers(metavar="ACTION")
    cmd = actions.add_parser("list", help="messages in the outbox, oldest first")
    cmd.add_argument("--state", choices=STATES, help="only messages in this state")
    cmd.add_argument("--limit", type=int, default=100)
    cmd.add_argument("--format", choices=["table", "json"], default="table")
    cmd.add_argument("--config", type=Path)
    cmd.set_defaults(handler=lambda args: _list(args, load(args)))
    cmd = actions.add_parser("retry", help="send parked messages again (a running daemon at once)")
    which = cmd.add_mutually_exclusive_group(required=True)
    which.add_argument("message_id", nargs="?", type=int, help="the message id (outbox list)")
    which.add_argument("--all-parked", action="store_true", help="every parked message")
    cmd.add_argument("--config", type=Path)
    cmd.set_defaults(handler=lambda args: _retry(args, load(args)))


def _list(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    if args.limit < 1:
        print("dialerd: outbox list: --limit must be ≥ 1", file=sys.stderr)
        return 2

    async def go() -> list[dict[str, Any]]:
        async with open_store(loaded.settings.store.path, create=False) as db:
            return await outbox.messages(db, args.state, args.limit)

    rows = asyncio.run(go())
    if args.format == "json":
        print(
            json.dumps([{**row, "payload": json.loads(row["payload"])} for row in rows], indent=2)
        )
        return 0
    table = Table("id", "lead", "result", "state", "tries", "next try / delivered", "last error")
    for row in rows:
        result = json.loads(row["payload"]).get("result", "")
        when = row["delivered_at"] if row["state"] == "delivered" else row["next_try_at"]
        table.add_row(
            str(row["id"]),
            str(row["lead_id"]),
            result,
            row["state"],
            str(row["attempts"]),
            "" if row["state"] == "parked" else utc_iso_or_none(when) or "",
            (row["last_error"] or "")[:60],
        )
    Console().print(table)
    return 0


def _retry(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    settings = loaded.settings

    async def go() -> int:
        async with open_store(settings.store.path, create=False) as db:
            return await outbox.retry_parked(db, args.message_id, time.time())

    try:
        moved = asyncio.run(go())
    except outbox.NotParked as exc:
        print(f"dialerd: outbox retry: {exc}", file=sys.stderr)
        return 2
    woke = poke(settings.store.wake_socket_path) if moved else False
    note = "" if woke or not moved else " (no running daemon was woken)"
    print(f"{moved} parked message(s) moved back to pending{note}")
    return 0
