"""A file of leads in: columns mapped to lead fields, each row through the API's intake.

Every row goes through ``validate_lead`` and ``submit_many_in``, the same checks,
duplicate rules and do-not-call list as ``POST /api/v1/leads``: an import is the batch
API fed from a file. Rows are read one at a time and committed in batches, each batch
its own short write transaction, so a million rows need no more memory than a batch and
a running daemon (another process, or the API's own writer) is never held up for long.

Which column feeds which field, and how a cell becomes a value: ``columns.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import itertools
import multiprocessing
import signal
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from concurrent.futures import BrokenExecutor, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from dialerd.config import Settings
from dialerd.intake.columns import (
    FIELDS,
    ColumnMap,
    ImportRefused,
    lead_input,
    map_columns,
    parse_map,
)
from dialerd.intake.leads import (
    Accepted,
    Duplicate,
    LeadRejected,
    submit_many_in,
    validate_lead,
)
from dialerd.intake.sheets import Cell, Row, Sheet, SheetError
from dialerd.policy.dedup import KnownLead, find_duplicate
from dialerd.policy.phones import Phone
from dialerd.store.leads import JsonText, NewLead
from dialerd.store.sql import Store

YIELD_EVERY = 50  # rows checked between two looks at the event loop
LISTED = 1000  # rows named in a summary per kind; the rejects file has them all


@dataclass
class ImportSummary:
    """What an import did; the same for the CLI (``--format json``) and the API."""

    dry_run: bool
    columns: dict[str, str]
    ignored_columns: list[str]
    rows: int = 0
    accepted: int = 0
    closed_dnc: int = 0
    duplicates: int = 0
    rejected: int = 0
    duplicate_rows: list[dict[str, Any]] = field(default_factory=list)
    rejected_rows: list[dict[str, Any]] = field(default_factory=list)
    rejects_file: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "rows": self.rows,
            "accepted": self.accepted,
            "closed_dnc": self.closed_dnc,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "columns": self.columns,
            "ignored_columns": self.ignored_columns,
            "duplicate_rows": self.duplicate_rows,
            "rejected_rows": self.rejected_rows,
            "listed_at_most": LISTED,
            "rejects_file": self.rejects_file,
        }


class RejectsFile:
    """The rows not imported, as CSV: line, reason, then the file's own columns.

    Opened at the first rejected row, so a clean import leaves no file behind.
    """

    def __init__(self, path: Path, header: Sequence[str]) -> None:
        self.path = path
        self._header = list(header)
        self._file: IO[str] | None = None
        self._writer: Any = None
        self._pending: list[tuple[int, str, Sequence[Cell]]] = []

    def write(self, line: int, reason: str, cells: Sequence[Cell]) -> None:
        """Kept until ``flush`` (after each batch), so the file is in line order."""
        self._pending.append((line, reason, cells))

    def flush(self, until: int | None = None) -> None:
        """Write the rows kept so far (up to line ``until``), in line order."""
        ready = [row for row in self._pending if until is None or row[0] <= until]
        if not ready:
            return
        if self._writer is None:
            self._file = self.path.open("w", encoding="utf-8", newline="")
            self._writer = csv.writer(self._file)
            self._writer.writerow(["line", "reason", *self._header])
        ready.sort(key=lambda row: row[0])
        for line, reason, cells in ready:
            self._writer.writerow([line, reason, *("" if c is None else c for c in cells)])
        self._pending = [row for row in self._pending if until is not None and row[0] > until]

    @property
    def written(self) -> bool:
        return self._file is not None

    def close(self) -> None:
        self.flush()
        if self._file is not None:
            self._file.close()


# commits validated leads (one short transaction) and answers one result per lead
Commit = Callable[[list[NewLead]], Coroutine[Any, Any, list[Accepted | Duplicate]]]


def store_commit(db: Store, settings: Settings, now: float) -> Commit:
    """Each batch in its own write transaction on ``db`` (the CLI's own connection)."""

    async def commit(leads: list[NewLead]) -> list[Accepted | Duplicate]:
        async with db.transaction() as conn:
            return await submit_many_in(conn, leads, settings, now)

    return commit


class _RolledBack(Exception):
    pass


def trial_commit(db: Store, settings: Settings, now: float) -> Commit:
    """A dry run: the same transaction as ``store_commit``, rolled back."""

    async def commit(leads: list[NewLead]) -> list[Accepted | Duplicate]:
        results: list[Accepted | Duplicate] = []
        try:
            async with db.transaction() as conn:
                results = await submit_many_in(conn, leads, settings, now)
                raise _RolledBack
        except _RolledBack:
            pass
        return results

    return commit


# the rows' cells -> each row's checked lead, or (field, reason) for a rejected row
Checked = list[NewLead | tuple[str, str]]
Checker = Callable[[list[list[Cell]]], Awaitable[Checked]]


def check_rows(
    rows: list[list[Cell]],
    columns: ColumnMap,
    settings: Settings,
    now: float,
    campaign: str | None,
) -> Checked:
    """Each row as intake checks it (``validate_lead``): pure, so it can run in a worker."""
    tz = settings.policy.tz
    limit = settings.api.max_json_field_bytes
    checked: Checked = []
    for cells in rows:
        try:
            raw = lead_input(cells, columns, tz, limit, campaign)
            checked.append(validate_lead(raw, settings, now))
        except LeadRejected as exc:
            checked.append((exc.field, exc.reason))
    return checked


def local_checker(
    columns: ColumnMap, settings: Settings, now: float, campaign: str | None
) -> Checker:
    """Rows checked in this process, a slice at a time: a commit in flight (its SQL on the
    database thread) sends its next statement between two slices."""

    async def check(rows: list[list[Cell]]) -> Checked:
        checked: Checked = []
        for start in range(0, len(rows), YIELD_EVERY):
            if start:
                await asyncio.sleep(0)
            part = rows[start : start + YIELD_EVERY]
            checked += check_rows(part, columns, settings, now, campaign)
        return checked

    return check


@contextlib.contextmanager
def checking_process(
    columns: ColumnMap, settings: Settings, now: float, campaign: str | None
) -> Iterator[Checker]:
    """Rows checked in a second process: on a machine with another core, the checking (phone
    numbers above all) runs beside this process's reading and committing, not between them.

    The process is forked at once, so the caller must have started no thread yet (a fork
    copies only the forking thread: a store's connection thread would be left behind);
    it inherits what ``check_rows`` needs, so only rows and results cross between the two.
    It ignores Ctrl-C, which this process answers by stopping it. If it dies, the rest of
    the rows are checked here (``local_checker``).
    """
    pool = ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_start_checking,
        initargs=(columns, settings, now, campaign),
    )
    fallback = local_checker(columns, settings, now, campaign)
    broken = [False]

    async def check(rows: list[list[Cell]]) -> Checked:
        if not broken[0]:
            try:
                packed = await asyncio.get_running_loop().run_in_executor(pool, _check_here, rows)
                return [_unpacked(item) for item in packed]
            except BrokenExecutor:
                broken[0] = True
        return await fallback(rows)

    try:
        pool.submit(int).result()  # forked now, while the caller has one thread
        yield check
    finally:
        pool.shutdown(cancel_futures=True)


_checking: list[Callable[[list[list[Cell]]], Checked]] = []  # in the checking process


def _start_checking(
    columns: ColumnMap, settings: Settings, now: float, campaign: str | None
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _checking.append(lambda rows: check_rows(rows, columns, settings, now, campaign))


def _check_here(rows: list[list[Cell]]) -> list[tuple[Any, ...]]:
    return [_packed(item) for item in _checking[0](rows)]


# A checked row crosses back as a plain tuple: pickling the dataclasses cost the checking
# process a sixth of its time. A rejected row is its (field, reason); a lead, NewLead's fields.
def _packed(item: NewLead | tuple[str, str]) -> tuple[Any, ...]:
    if not isinstance(item, NewLead):
        return item
    return (
        item.phone.e164, item.campaign, item.order_id, item.name, item.amount_minor,
        _plain(item.items), item.comment, _plain(item.metadata), item.source,
        item.callback_at, item.timezone, item.region,
    )  # fmt: skip


def _unpacked(item: tuple[Any, ...]) -> NewLead | tuple[str, str]:
    if len(item) == 2:
        return (item[0], item[1])
    e164, campaign, order_id, name, amount, items, comment, metadata, *rest = item
    source, callback_at, timezone, region = rest
    return NewLead(
        Phone(e164), campaign, order_id, name, amount, _json(items), comment, _json(metadata),
        source, callback_at, timezone, region,
    )  # fmt: skip


def _plain(value: Any) -> Any:
    """JsonText as a plain str (pickled without its class); lists and dicts as they are."""
    return str(value) if isinstance(value, JsonText) else value


def _json(value: Any) -> Any:
    return JsonText(value) if isinstance(value, str) else value


@dataclass
class _Batch:
    last: int = 0  # the last line read into it (rejected rows included)
    lines: list[int] = field(default_factory=list)
    cells: list[list[Cell]] = field(default_factory=list)
    leads: list[NewLead] = field(default_factory=list)


async def import_sheet(
    sheet: Sheet,
    columns: ColumnMap,
    settings: Settings,
    now: float,
    commit: Commit,
    *,
    campaign: str | None = None,
    dry_run: bool = False,
    rejects: RejectsFile | None = None,
    batch_size: int = 2000,
    on_batch: Callable[[ImportSummary], None] = lambda _: None,
    checker: Checker | None = None,
) -> ImportSummary:
    """Every row of ``sheet`` through intake, ``batch_size`` rows per ``commit``.

    ``dry_run``: ``commit`` must roll back; rows of the file are then also checked against
    the file's earlier rows, which a real import finds in the store. ``checker``: how rows
    are checked (``check_rows``); in this process unless given.
    """
    summary = ImportSummary(dry_run, columns.described(), list(columns.ignored))
    run = _Run(
        summary,
        sheet.rows(),
        checker or local_checker(columns, settings, now, campaign),
        commit,
        settings,
        now,
        rejects,
        on_batch,
    )
    try:
        while batch := await run.next_batch(batch_size):
            await run.settle()  # the previous commit: a batch's duplicates may be in it
            if dry_run:
                _drop_earlier(batch, run.earlier, settings, now, summary, rejects)
                run.finish(batch, await commit(batch.leads) if batch.leads else [])
            else:
                run.start(batch)
    finally:
        run.stop_reading()
        await run.settle()  # the file broke off: what was read and committed stands
    if rejects is not None:
        rejects.flush()
    return summary


class _Run:
    """One import's moving parts: batches being checked ahead, and the commit in flight.

    A real import checks the next batch while the last one commits (its SQL runs on the
    database thread, off the GIL); a dry run needs each batch's results before the next.
    """

    def __init__(
        self,
        summary: ImportSummary,
        rows: Iterator[Row],
        check: Checker,
        commit: Commit,
        settings: Settings,
        now: float,
        rejects: RejectsFile | None,
        on_batch: Callable[[ImportSummary], None],
    ) -> None:
        self.summary, self.rows, self.check, self.commit = summary, rows, check, commit
        self.settings, self.now, self.rejects, self.on_batch = settings, now, rejects, on_batch
        self.earlier: dict[tuple[str, str], list[KnownLead]] = {}  # dry run: accepted rows
        self.reading: deque[tuple[list[Row], asyncio.Future[Checked]]] = deque()
        self.running: tuple[_Batch, asyncio.Task[list[Accepted | Duplicate]]] | None = None

    async def next_batch(self, size: int) -> _Batch | None:
        """The next batch, checked (while the previous one commits)."""
        while not self.reading:
            chunk = list(itertools.islice(self.rows, size))
            if not chunk:
                break
            self.summary.rows += len(chunk)
            cells = [row.cells for row in chunk]
            self.reading.append((chunk, asyncio.ensure_future(self.check(cells))))
        if not self.reading:
            return None
        chunk, checked = self.reading.popleft()
        return _batch(chunk, await checked, self.summary, self.rejects)

    def start(self, batch: _Batch) -> None:
        if batch.leads:
            self.running = (batch, asyncio.create_task(self.commit(batch.leads)))
        else:
            self.finish(batch, [])

    async def settle(self) -> None:
        if self.running is not None:
            batch, task = self.running
            self.running = None
            self.finish(batch, await task)

    def stop_reading(self) -> None:
        for _, checking in self.reading:
            checking.cancel()
        self.reading.clear()

    def finish(self, batch: _Batch, results: list[Accepted | Duplicate]) -> None:
        dry_run = self.summary.dry_run
        _record(
            batch, results, self.summary, self.rejects, self.earlier if dry_run else None, self.now
        )
        if self.rejects is not None:
            self.rejects.flush(until=batch.last)
        self.on_batch(self.summary)


def _batch(
    chunk: list[Row], checked: Checked, summary: ImportSummary, rejects: RejectsFile | None
) -> _Batch:
    """The checked leads of ``chunk``; its rejected rows counted, listed, and kept for the file."""
    batch = _Batch(last=chunk[-1].line)
    for row, lead in zip(chunk, checked, strict=True):
        if isinstance(lead, NewLead):
            batch.lines.append(row.line)
            batch.cells.append(row.cells)
            batch.leads.append(lead)
            continue
        name, reason = lead
        summary.rejected += 1
        if len(summary.rejected_rows) < LISTED:
            summary.rejected_rows.append({"line": row.line, "field": name, "reason": reason})
        if rejects is not None:
            rejects.write(row.line, f"{name}: {reason}", row.cells)
    return batch


def _drop_earlier(
    batch: _Batch,
    earlier: dict[tuple[str, str], list[KnownLead]],
    settings: Settings,
    now: float,
    summary: ImportSummary,
    rejects: RejectsFile | None,
) -> None:
    """Dry run: a row that duplicates an earlier row of the file (nothing was stored)."""
    kept = _Batch()
    for line, cells, lead in zip(batch.lines, batch.cells, batch.leads, strict=True):
        seen = earlier.get((lead.phone.e164, lead.campaign))
        # as intake: a campaign a reload removed follows the default campaign's rules
        campaign = settings.campaigns.get(lead.campaign)
        rules = (campaign or settings.campaigns[settings.default_campaign]).duplicates
        first = None
        if seen:
            first = find_duplicate(rules.rule, rules.window_h * 3600, lead.order_id, now, seen)
        if first is None:
            kept.lines.append(line)
            kept.cells.append(cells)
            kept.leads.append(lead)
        else:
            _duplicate(summary, rejects, line, cells, None, first.lead_id, rules.rule.value)
    batch.lines, batch.cells, batch.leads = kept.lines, kept.cells, kept.leads


def _record(
    batch: _Batch,
    results: list[Accepted | Duplicate],
    summary: ImportSummary,
    rejects: RejectsFile | None,
    earlier: dict[tuple[str, str], list[KnownLead]] | None,
    now: float,
) -> None:
    # dry run: ids were handed out and rolled back; a duplicate of one of them is of a line
    line_of = {
        r.lead_id: line
        for r, line in zip(results, batch.lines, strict=True)
        if isinstance(r, Accepted)
    }
    for line, cells, lead, result in zip(
        batch.lines, batch.cells, batch.leads, results, strict=True
    ):
        if isinstance(result, Accepted):
            summary.accepted += 1
            if result.closed_as is not None:
                summary.closed_dnc += 1
            if earlier is not None:
                key = (lead.phone.e164, lead.campaign)
                earlier.setdefault(key, []).append(KnownLead(line, lead.order_id, now))
            continue
        of_line = line_of.get(result.duplicate_of) if earlier is not None else None
        lead_id = None if of_line is not None else result.duplicate_of
        _duplicate(summary, rejects, line, cells, lead_id, of_line, result.rule.value)


def _duplicate(
    summary: ImportSummary,
    rejects: RejectsFile | None,
    line: int,
    cells: Sequence[Cell],
    lead_id: int | None,
    of_line: int | None,
    rule: str,
) -> None:
    summary.duplicates += 1
    if len(summary.duplicate_rows) < LISTED:
        summary.duplicate_rows.append(
            {"line": line, "duplicate_of": lead_id, "duplicate_of_line": of_line, "rule": rule}
        )
    if rejects is not None:
        what = f"lead {lead_id}" if lead_id is not None else f"line {of_line}"
        rejects.write(line, f"duplicate of {what} (rule {rule})", cells)


__all__ = [
    "FIELDS",
    "Checker",
    "ColumnMap",
    "Commit",
    "ImportRefused",
    "ImportSummary",
    "RejectsFile",
    "SheetError",
    "check_rows",
    "checking_process",
    "import_sheet",
    "local_checker",
    "map_columns",
    "parse_map",
    "store_commit",
    "trial_commit",
]
