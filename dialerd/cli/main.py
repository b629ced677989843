"""``dialerd`` command line: run, demo, check-config, migrate, leads, report.

Bad input or a bad config prints one clear reason per problem and exits 2. Something another
process holds (the store's lock, the API port) prints who or what and exits 75 (EX_TEMPFAIL):
systemd's unit restarts on 75 but not on 2 (``RestartPreventExitStatus=2``), and waiting is
what fixes a busy port or a daemon that is still stopping.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from dialerd import __version__
from dialerd.cli.leads_import import add_import_command
from dialerd.cli.operators import add_operators_command
from dialerd.cli.outbox import add_outbox_commands
from dialerd.cli.output import (
    Column,
    add_format,
    console,
    is_instant_key,
    local_time,
    print_json,
    print_rows,
    table,
    write_csv,
)
from dialerd.cli.plan import add_policy_commands, parse_when
from dialerd.cli.reports import add_report_commands
from dialerd.cli.status import add_status_command
from dialerd.config import (
    DEFAULT_CONFIG_PATH,
    ConfigError,
    LoadedConfig,
    load_config,
    require_secrets,
    secret_problems,
)
from dialerd.daemon.heartbeat import HeartbeatLost
from dialerd.daemon.logs import configure_logging
from dialerd.daemon.wake import poke
from dialerd.domain import InUse
from dialerd.intake.leads import Accepted, Duplicate, LeadInput, LeadRejected, submit, validate_lead
from dialerd.store import leads as store
from dialerd.store.db import MigrationError, StoreMissing, open_store
from dialerd.store.pg import StoreUnreachable, open_pg_store
from dialerd.store.sql import open_configured

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_DUPLICATE = 0, 1, 2, 3
EXIT_TEMPFAIL = 75  # sysexits.h EX_TEMPFAIL: busy now, try again later
CONFIG_HELP = f"YAML config (default: $DIALERD_CONFIG, or {DEFAULT_CONFIG_PATH} if it exists)"
# the daemon logs everything it is configured to; a command typed at a prompt only warnings
QUIET_LEVEL: Literal["warning"] = "warning"


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        # a command with actions but none given: that command's help, not the top level's
        getattr(args, "help_of", parser).print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.handler(args))
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"dialerd: config error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    except MigrationError as exc:
        print(f"dialerd: migration failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except InUse as exc:
        print(f"dialerd: {exc}", file=sys.stderr)
        return EXIT_TEMPFAIL
    except StoreMissing as exc:
        print(f"dialerd: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except StoreUnreachable as exc:
        print(f"dialerd: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except HeartbeatLost as exc:
        print(f"dialerd: stopped: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_FAILED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dialerd", description="Outbound dialer scheduler for Asterisk."
    )
    parser.add_argument("--version", action="version", version=f"dialerd {__version__}")
    sub = parser.add_subparsers(metavar="COMMAND")

    def command(
        name: str, help_text: str, handler: Any, with_config: bool = True
    ) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        if with_config:
            cmd.add_argument(
                "--config",
                type=Path,
                help=CONFIG_HELP,
            )
        cmd.set_defaults(handler=handler)
        return cmd

    command("run", "run the daemon against Asterisk", _cmd_run)
    command("check-config", "validate a config file and report every problem", _cmd_check_config)
    command("migrate", "apply database migrations", _cmd_migrate)

    demo = command(
        "demo", "a working day on the built-in AMI simulator, in about a minute", _cmd_demo, False
    )
    demo.add_argument(
        "--duration", type=float, default=60.0, help="real seconds to run (default 60)"
    )
    demo.add_argument(
        "--speed", type=float, help="simulated seconds per real second (default: a day per run)"
    )
    demo.add_argument("--operators", type=int, default=4, help="simulated operators (default 4)")
    demo.add_argument(
        "--lead-rate", type=float, default=25.0, help="leads per simulated hour on average"
    )
    demo.add_argument("--store", type=Path, help="keep the demo's SQLite file here")
    demo.add_argument(
        "--no-live", action="store_true", help="no live view, only the report (for logs/CI)"
    )

    about = "add and inspect leads"
    group = sub.add_parser("leads", help=about, description=about)
    group.set_defaults(help_of=group)
    leads = group.add_subparsers(metavar="ACTION")
    add = leads.add_parser("add", help="add a lead; a running daemon dials it at once")
    add.add_argument(
        "phone", help="the customer's number (E.164, or national with phones.default_region)"
    )
    add.add_argument("--order-id", help="the shop's order number")
    add.add_argument("--name", help="the customer's name, shown to the operator")
    add.add_argument("--amount", help="the order's amount, a decimal such as 1299.90")
    add.add_argument("--campaign", help="default: the 'default' campaign, or the first configured")
    add.add_argument("--comment", help="a note shown to the operator")
    add.add_argument(
        "--callback-at", help="agreed callback time, ISO 8601 (no zone: the centre's zone)"
    )
    add.add_argument(
        "--timezone", help="the customer's IANA zone, e.g. Europe/Kaliningrad (local hours)"
    )
    add.add_argument(
        "--region", help="the delivery region: ISO 3166-2 code (RU-KGD) or a region's name"
    )
    add.add_argument("--config", type=Path, help=CONFIG_HELP)
    add.set_defaults(handler=_cmd_leads_add)
    add_import_command(leads, _load)
    show = leads.add_parser("list", help="the newest leads with their state")
    show.add_argument("--limit", type=int, default=20, help="how many leads (default 20)")
    add_format(show)
    show.add_argument("--config", type=Path, help=CONFIG_HELP)
    show.set_defaults(handler=_cmd_leads_list)
    one = leads.add_parser("show", help="one lead with its attempts")
    one.add_argument("lead_id", type=int, help="the lead's id (leads list)")
    add_format(one)
    one.add_argument("--config", type=Path, help=CONFIG_HELP)
    one.set_defaults(handler=_cmd_leads_show)
    add_policy_commands(sub, _load)
    add_operators_command(sub, _load)
    add_status_command(sub, _load)
    add_outbox_commands(sub, _load)
    add_report_commands(sub, _load)
    return parser


def _load(
    args: argparse.Namespace, engines: tuple[str, ...] = ("sqlite", "postgresql")
) -> LoadedConfig:
    path: Path | None = args.config
    if path is None and os.environ.get("DIALERD_CONFIG"):
        path = Path(os.environ["DIALERD_CONFIG"])
    if path is None and DEFAULT_CONFIG_PATH.exists():
        path = DEFAULT_CONFIG_PATH
    loaded = load_config(path, engines=engines)
    level = loaded.settings.logging.level
    if getattr(args, "handler", None) is not _cmd_run and _LEVEL_ORDER.index(
        level
    ) < _LEVEL_ORDER.index(QUIET_LEVEL):
        level = QUIET_LEVEL
    configure_logging(level, loaded.settings.logging.format)
    return loaded


_LEVEL_ORDER = ("debug", "info", "warning", "error", "critical")


def _cmd_check_config(args: argparse.Namespace) -> int:
    loaded = _load(args, engines=("sqlite", "postgresql"))  # what ``run`` accepts
    for warning in loaded.warnings:
        print(f"dialerd: warning: {warning}", file=sys.stderr)
    store_dir = loaded.settings.store.path.parent
    # a typo here would otherwise surface as an empty store (PostgreSQL: no file of ours)
    if loaded.settings.store.engine == "sqlite" and not store_dir.is_dir():
        print(
            f"dialerd: warning: store.path: directory {store_dir} does not exist"
            " ('dialerd run' and 'dialerd migrate' create it; check the spelling)",
            file=sys.stderr,
        )
    if problems := secret_problems(loaded.settings):
        for problem in problems:
            print(
                f"dialerd: config error: {problem} ('dialerd run' refuses to start)",
                file=sys.stderr,
            )
        return EXIT_USAGE
    print(f"{loaded.path or '(built-in defaults)'}: OK")
    return EXIT_OK


def _cmd_migrate(args: argparse.Namespace) -> int:
    loaded = _load(args, engines=("sqlite", "postgresql"))
    where = loaded.settings.store
    if where.engine == "postgresql":
        target, password = where.postgres, where.resolved_password()

        async def on_postgresql() -> None:
            async with open_pg_store(target, password, pool_size=1):
                pass

        asyncio.run(on_postgresql())
        print(f"{target}: schema up to date")
        return EXIT_OK

    async def go() -> None:
        async with open_store(where.path):
            pass

    asyncio.run(go())
    print(f"{where.path}: schema up to date")
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    from dialerd.daemon.service import run_service

    loaded = _load(args, engines=("sqlite", "postgresql"))
    require_secrets(loaded.settings)  # every missing secret at once, before anything starts
    _freeze_what_start_up_built()
    asyncio.run(run_service(loaded))
    return EXIT_OK


def _freeze_what_start_up_built() -> None:
    """Keep the objects start-up made (modules, config, schemas: about 100,000, alive as long
    as the daemon) out of the garbage collector's full passes.

    Each full pass walked all of them: about 60 ms of CPU, every few tens of seconds of
    dialing, which was a third of the daemon's CPU per call at 25 calls. Frozen, a pass walks
    only what was made since (calls, rows, events), and start-up's garbage goes first.
    """
    gc.collect()
    gc.freeze()


def _cmd_demo(args: argparse.Namespace) -> int:
    from dialerd.demo.run import run_demo

    if (
        args.duration <= 0
        or args.operators < 1
        or args.lead_rate <= 0
        or (args.speed is not None and args.speed <= 0)
    ):
        print(
            "dialerd: demo: --duration, --speed and --lead-rate must be > 0, --operators ≥ 1",
            file=sys.stderr,
        )
        return EXIT_USAGE
    return asyncio.run(
        run_demo(
            duration_s=args.duration,
            speed=args.speed,
            operators=args.operators,
            lead_rate=args.lead_rate,
            store_path=args.store,
            live=not args.no_live and sys.stdout.isatty(),
        )
    )


def _cmd_leads_add(args: argparse.Namespace) -> int:
    loaded = _load(args)
    settings = loaded.settings
    now = time.time()
    try:
        callback_at = parse_when(args.callback_at, settings) if args.callback_at else None
    except ValueError as exc:
        print(f"dialerd: lead rejected: callback_at: {exc}", file=sys.stderr)
        return EXIT_USAGE
    raw = LeadInput(
        phone=args.phone,
        order_id=args.order_id,
        name=args.name,
        amount=args.amount,
        campaign=args.campaign,
        comment=args.comment,
        callback_at=callback_at,
        source="cli",
        timezone=args.timezone,
        region=args.region,
    )
    try:
        lead = validate_lead(raw, settings, now)
    except LeadRejected as exc:
        print(f"dialerd: lead rejected: {exc.field}: {exc.reason}", file=sys.stderr)
        return EXIT_USAGE

    async def go() -> Accepted | Duplicate:
        async with open_configured(settings.store) as db:
            return await submit(db, lead, settings, now)

    result = asyncio.run(go())
    if isinstance(result, Duplicate):
        print(
            f"dialerd: lead rejected: duplicate of lead {result.duplicate_of} (rule {result.rule})",
            file=sys.stderr,
        )
        return EXIT_DUPLICATE
    if result.closed_as is not None:
        poke(settings.store.wake_socket_path)  # its result waits in the CRM outbox
        print(
            f"lead {result.lead_id} added: {lead.phone}, closed at once ({result.closed_as}: do-not-call list)"
        )
        return EXIT_OK
    # on PostgreSQL the lead's commit sent the NOTIFY that wakes every daemon listening
    woke = poke(settings.store.wake_socket_path) if settings.store.engine == "sqlite" else True
    print(
        f"lead {result.lead_id} added: {lead.phone}"
        + ("" if woke else " (no running daemon was woken)")
    )
    return EXIT_OK


LEAD_COLUMNS = (
    Column("id", "id", "number"),
    Column("phone", "phone", "fixed"),
    Column("order_id", "order"),
    Column("state", "state"),
    Column("attempts", "tries", "number"),
    Column("last_outcome", "last outcome"),
    Column("received_at", "received", "time"),
)
ATTEMPT_COLUMNS = (
    Column("number", "#", "number"),
    Column("created_at", "at", "time"),
    Column("outcome", "outcome"),
    Column("hangup_cause", "cause", "number"),
    Column("talk_s", "talk s", "number"),
    Column("operator", "operator"),
)


def _lead_row(row: dict[str, Any]) -> dict[str, Any]:
    state = row["state"] + (f" ({row['close_reason']})" if row.get("close_reason") else "")
    return {**row, "state": state}


def _cmd_leads_list(args: argparse.Namespace) -> int:
    loaded = _load(args)

    async def go() -> list[dict[str, Any]]:
        async with open_configured(loaded.settings.store, create=False) as db:
            return await store.list_leads(db, args.limit)

    rows = asyncio.run(go())
    tz = loaded.settings.policy.tz
    print_rows([_lead_row(row) for row in rows], LEAD_COLUMNS, args.format, tz, json_rows=rows)
    return EXIT_OK


def _cmd_leads_show(args: argparse.Namespace) -> int:
    loaded = _load(args)

    async def go() -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        async with open_configured(loaded.settings.store, create=False) as db:
            return await store.get_lead(db, args.lead_id), await store.attempts_of(db, args.lead_id)

    lead, attempts = asyncio.run(go())
    if lead is None:
        print(f"dialerd: no lead {args.lead_id}", file=sys.stderr)
        return EXIT_USAGE
    tz = loaded.settings.policy.tz
    if args.format == "json":
        print_json({"lead": lead, "attempts": attempts})
        return EXIT_OK
    if args.format == "csv":  # the attempts, one row each; the lead is a row of `leads list`
        write_csv(attempts, ATTEMPT_COLUMNS)
        return EXIT_OK
    cells = [
        [key, local_time(float(value), tz) if is_instant_key(key) else str(value)]
        for key, value in lead.items()
        if value is not None and value != ""
    ]
    fields = table(
        (Column("field", "field", "fixed"), Column("value", "value", "long")), None, cells
    )
    out = console()
    out.print(fields)
    out.print()
    print_rows(attempts, ATTEMPT_COLUMNS, "table", tz, title="attempts")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
