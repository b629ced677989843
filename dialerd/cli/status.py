"""``dialerd status``: the daemons working the store, and whether each is alive.

On PostgreSQL several daemons share the store: each row is one registered daemon (its id,
host, pid, the PBX it drives, how long ago it last said it was alive, the calls it holds).
One whose heartbeat is older than a lease (``daemon.lease_s``) is shown as ``silent``: its
calls are being, or will be, taken over by the others. The leader is the one daemon that
pushes results to the CRM, sends alerts and runs the scheduled reports (``dialerd.daemon.leader``).
A SQLite store has at most one daemon, the one holding its lock file (and the leader).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dialerd.cli.output import Column, add_format, print_rows
from dialerd.config import LoadedConfig
from dialerd.daemon.leader import LEADER_FACT
from dialerd.store import daemons
from dialerd.store.lock import lock_path
from dialerd.store.pg import open_pg_store
from dialerd.store.sole_recorder import holder

Loader = Callable[..., LoadedConfig]
COLUMNS = [
    Column("id", "daemon", "fixed"),
    Column("host", "host"),
    Column("pid", "pid", "number"),
    Column("pbx", "PBX", "fixed"),
    Column("heartbeat_age_s", "heartbeat (s ago)", "number"),
    Column("state", "state"),
    Column("calls", "calls", "number"),
    Column("leader", "leader"),
    Column("started_at", "started", "time"),
]


def add_status_command(sub: Any, load: Loader) -> None:
    about = "the daemons working the store: id, host, pid, PBX, last heartbeat"
    cmd = sub.add_parser("status", help=about, description=about)
    add_format(cmd)
    cmd.add_argument("--config", type=Path, help="YAML config (default: $DIALERD_CONFIG)")
    cmd.set_defaults(
        handler=lambda args: _status(args, load(args, engines=("sqlite", "postgresql")))
    )


def _status(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    settings = loaded.settings
    now = time.time()
    if settings.store.engine == "postgresql":
        rows = asyncio.run(_registered(loaded, now))
        where = str(settings.store.postgres)
    else:
        rows = _lock_holder(settings.store.path)
        where = str(settings.store.path)
    if not rows and args.format == "table":
        print(f"{where}: no daemon running")
        return 0
    print_rows(rows, COLUMNS, args.format, settings.policy.tz, title=where)
    return 0


async def _registered(loaded: LoadedConfig, now: float) -> list[dict[str, Any]]:
    store = loaded.settings.store
    lease_s = loaded.settings.daemon.lease_s
    async with open_pg_store(store.postgres, store.resolved_password(), pool_size=1) as db:
        found = await daemons.daemons(db)
        leading = await holder(db, LEADER_FACT)
    return [
        {
            "id": d.id,
            "host": d.host,
            "pid": d.pid,
            "pbx": d.pbx,
            "heartbeat_age_s": round(max(0.0, now - d.heartbeat_at), 1),
            "state": "alive" if now - d.heartbeat_at <= lease_s else "silent",
            "calls": d.leases,
            "leader": "yes" if d.id == leading else "",
            "started_at": d.started_at,
        }
        for d in found
    ]


def _lock_holder(store: Path) -> list[dict[str, Any]]:
    """The daemon named in the store's lock file, if that process is alive (the file is
    emptied by a clean stop, but a killed daemon leaves its pid behind)."""
    try:
        info = json.loads(lock_path(store).read_text(encoding="utf-8"))
        pid = int(info["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return []
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return []
    except PermissionError:
        pass  # alive, another user's
    return [
        {
            "id": "",
            "host": os.uname().nodename,
            "pid": pid,
            "pbx": "",
            "heartbeat_age_s": None,
            "state": "alive",
            "calls": None,
            "leader": "yes",
            "started_at": None,
        }
    ]
