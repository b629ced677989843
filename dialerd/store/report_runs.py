"""The run log of scheduled reports: what was sent, failed or skipped, and where to resume."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dialerd.store import sql
from dialerd.store.sql import Store


class RunState(StrEnum):
    SENT = "sent"
    FAILED = "failed"  # some channel still failed after its tries
    SKIPPED = "skipped"  # missed while the daemon was down, and the schedule says skip


@dataclass(frozen=True)
class ReportRun:
    schedule: str
    fire_time: float
    period_first: str
    period_last: str
    state: RunState
    error: str | None
    tries: int
    finished_at: float


async def record_run(db: Store, run: ReportRun) -> int:
    async with db.transaction() as conn:
        new_id = await sql.insert(
            conn,
            "INSERT INTO report_runs (schedule, fire_time, period_first, period_last, state,"
            " error, tries, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run.schedule,
                run.fire_time,
                run.period_first,
                run.period_last,
                run.state.value,
                run.error,
                run.tries,
                run.finished_at,
            ),
        )
    return new_id


async def last_fire_time(db: Store, schedule: str) -> float | None:
    """The latest fire time recorded for ``schedule``, whatever became of it; None: never run."""
    rows = await sql.rows(
        db.conn, "SELECT MAX(fire_time) FROM report_runs WHERE schedule = ?", (schedule,)
    )
    value = next(iter(rows))[0]
    return None if value is None else float(value)


async def runs(db: Store, schedule: str | None = None) -> list[ReportRun]:
    """Oldest first; all schedules when ``schedule`` is None."""
    where, args = ("WHERE schedule = ?", (schedule,)) if schedule is not None else ("", ())
    rows = await sql.rows(
        db.conn,
        "SELECT schedule, fire_time, period_first, period_last, state, error, tries, finished_at"
        f" FROM report_runs {where} ORDER BY fire_time, id",
        args,
    )
    return [
        ReportRun(r[0], float(r[1]), r[2], r[3], RunState(r[4]), r[5], int(r[6]), float(r[7]))
        for r in rows
    ]
