"""``dialerd leads import FILE``: a shop's CSV or XLSX export in, through the API's intake.

Runs beside a running daemon: like ``leads add`` it takes no store lock (that is the
daemon's), commits each batch in its own short transaction on its own connection (SQLite
lets another process's short writes through, ``busy_timeout`` waits for the daemon's),
and pokes the daemon after the batches that added callable leads, so dialing starts
while the rest of the file is read.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dialerd.config import LoadedConfig, Settings
from dialerd.daemon.wake import poke
from dialerd.intake.importing import (
    Checker,
    ColumnMap,
    ImportRefused,
    ImportSummary,
    RejectsFile,
    checking_process,
    import_sheet,
    map_columns,
    parse_map,
    store_commit,
    trial_commit,
)
from dialerd.intake.sheets import SheetError, open_sheet
from dialerd.store.sql import open_configured

Loader = Callable[[argparse.Namespace], LoadedConfig]
SHOWN = 20  # rows of each kind printed; the rejects file and --format json have more
WORKER_FROM_BYTES = 2_000_000  # a file this large (~20,000 rows) is checked in a second process
POKE_EVERY_S = 1.0


def add_import_command(leads: Any, load: Loader) -> None:
    """``leads import`` under the ``leads`` subcommands."""
    text = "add leads from a CSV or XLSX file (columns found by their header names)"
    cmd = leads.add_parser("import", help=text, description=text)
    cmd.add_argument("file", type=Path, help="a .csv (UTF-8 or Windows-1251; , ; or tab) or .xlsx")
    cmd.add_argument("--campaign", help="the campaign of rows without a campaign column value")
    cmd.add_argument(
        "--dry-run", action="store_true", help="check every row and report; store nothing"
    )
    cmd.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="COLUMN=FIELD",
        help="feed COLUMN to FIELD (phone, name, order_id, amount, comment, items, "
        "callback_at, timezone, region, campaign, metadata.KEY), or ignore it (COLUMN=-)",
    )
    cmd.add_argument(
        "--rejects",
        type=Path,
        metavar="PATH",
        help="CSV of the rows not imported, with the reason (default: FILE.rejects.csv)",
    )
    cmd.add_argument(
        "--format",
        choices=["table", "json"],
        default="table",
        help="the summary as a table (default) or JSON",
    )
    cmd.add_argument("--config", type=Path, help="YAML config (default: $DIALERD_CONFIG)")
    cmd.set_defaults(handler=lambda args: _import(args, load(args)))


def _refuse(reason: str) -> int:
    print(f"dialerd: leads import: {reason}", file=sys.stderr)
    return 2


def _import(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    settings = loaded.settings
    if args.campaign is not None and args.campaign not in settings.campaigns:
        known = ", ".join(sorted(settings.campaigns))
        return _refuse(f"--campaign: unknown campaign {args.campaign!r} (configured: {known})")
    try:
        overrides = parse_map(args.map)
    except ImportRefused as exc:
        return _refuse(str(exc))
    path: Path = args.file
    rejects_path: Path = args.rejects or path.with_name(f"{path.stem}.rejects.csv")
    if not os.access(rejects_path.parent, os.W_OK):
        return _refuse(f"--rejects: cannot write in {rejects_path.parent}")
    try:
        source = path.open("rb")
    except OSError as exc:
        return _refuse(f"{path}: {exc.strerror or exc}")
    try:
        with _young_objects_collected_rarely():
            summary = asyncio.run(_run(args, loaded, source, overrides, rejects_path))
    except (ImportRefused, SheetError) as exc:
        return _refuse(f"{path}: {exc}")
    finally:
        source.close()
    if args.format == "json":
        print(json.dumps(summary.as_json(), indent=2, ensure_ascii=False))
    else:
        _print(path, summary)
    return 0


async def _run(
    args: argparse.Namespace,
    loaded: LoadedConfig,
    source: Any,
    overrides: dict[str, str],
    rejects_path: Path,
) -> ImportSummary:
    settings = loaded.settings
    wake = settings.store.wake_socket_path
    now = time.time()
    with open_sheet(source, args.file.name) as sheet:
        columns = map_columns(sheet.header, overrides)
        rejects = RejectsFile(rejects_path, sheet.header)
        checking = _checker(source, columns, settings, now, args.campaign)
        with checking as checker:  # before the store: its connection starts a thread
            async with open_configured(settings.store, create=not args.dry_run) as db:
                make = trial_commit if args.dry_run else store_commit
                poked = [0.0, 0]  # when, accepted by then

                def after(summary: ImportSummary) -> None:
                    show(summary)
                    fresh = summary.accepted - summary.closed_dnc > poked[1]
                    if not args.dry_run and fresh and time.monotonic() - poked[0] >= POKE_EVERY_S:
                        poke(wake)
                        poked[:] = [time.monotonic(), summary.accepted - summary.closed_dnc]

                with _progress(sheet.progress) as show:
                    try:
                        summary = await import_sheet(
                            sheet,
                            columns,
                            settings,
                            now,
                            make(db, settings, now),
                            campaign=args.campaign,
                            dry_run=args.dry_run,
                            rejects=rejects,
                            on_batch=after,
                            checker=checker,
                        )
                    finally:
                        rejects.close()
    if not args.dry_run and summary.accepted:
        poke(wake)  # the last batch's leads, and the dnc results waiting in the CRM outbox
    if rejects.written:
        summary.rejects_file = str(rejects_path)
    return summary


@contextmanager
def _checker(
    source: Any, columns: ColumnMap, settings: Settings, now: float, campaign: str | None
) -> Iterator[Checker | None]:
    """A second process checks the rows of a large file (``checking_process``); a small
    file, or a machine with one CPU, is checked in this process (None): starting another
    would cost more than it saves."""
    try:
        size = os.fstat(source.fileno()).st_size
    except (AttributeError, OSError, ValueError):
        size = 0
    if size < WORKER_FROM_BYTES or (os.cpu_count() or 1) < 2:
        yield None
        return
    with checking_process(columns, settings, now, campaign) as check:
        yield check


@contextmanager
def _young_objects_collected_rarely() -> Iterator[None]:
    """The cycle collector run every 50,000 new objects instead of 700, while importing.

    A batch's rows are thousands of short-lived objects that live through several young
    collections and then pile up as old ones: by default the collector walked them ~2,300
    times and the whole heap 17 times per 200,000 rows, a tenth of the import's time. Rows
    hold no reference cycles, so their memory is freed as they go all the same; this process
    runs only the import, so no other work sees the change.
    """
    before = gc.get_threshold()
    gc.set_threshold(50_000, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


@contextmanager
def _progress(fraction: Callable[[], float | None]) -> Iterator[Callable[[ImportSummary], None]]:
    """A rich progress bar on a terminal (stderr); nothing when piped or logged."""
    if not sys.stderr.isatty():
        yield lambda _summary: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("importing"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%  {task.fields[rows]} rows"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("import", total=1.0, rows=0)

        def show(summary: ImportSummary) -> None:
            bar.update(task, completed=fraction() or 0.0, rows=f"{summary.rows:,}")

        yield show


def _print(path: Path, summary: ImportSummary) -> None:
    verb = "would be" if summary.dry_run else ""
    dnc = f" ({summary.closed_dnc} closed at once: do-not-call list)" if summary.closed_dnc else ""
    print(
        f"{path}: {summary.rows} rows: {summary.accepted} {verb + ' ' if verb else ''}accepted{dnc},"
        f" {summary.duplicates} duplicates, {summary.rejected} rejected"
        + (" (dry run: nothing stored)" if summary.dry_run else "")
    )
    mapped = ", ".join(f"{column} → {target}" for column, target in summary.columns.items())
    print(f"columns: {mapped}")
    if summary.ignored_columns:
        print(f"ignored: {', '.join(summary.ignored_columns)} (keep one with --map COLUMN=FIELD)")
    if summary.duplicate_rows:
        print("duplicates:")
        for row in summary.duplicate_rows[:SHOWN]:
            of = (
                f"lead {row['duplicate_of']}"
                if row["duplicate_of"] is not None
                else f"line {row['duplicate_of_line']}"
            )
            print(f"  line {row['line']}: duplicate of {of} (rule {row['rule']})")
        _more(summary.duplicates)
    if summary.rejected_rows:
        print("rejected:")
        for row in summary.rejected_rows[:SHOWN]:
            print(f"  line {row['line']}: {row['field']}: {row['reason']}")
        _more(summary.rejected)
    if summary.rejects_file:
        print(f"rows not imported, with the reason: {summary.rejects_file}")


def _more(total: int) -> None:
    if total > SHOWN:
        print(f"  … and {total - SHOWN} more")
