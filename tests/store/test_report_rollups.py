"""The report rollups (migrations 0008, 0010) kept by triggers equal the same rules applied from
scratch to the stored rows: whatever order the daemon writes, updates and closes rows in,
a report reads the numbers a full recount would give."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from dialerd.store.db import MIGRATIONS_DIR, open_store

ROLLUPS = ("report_calls", "report_leads", "report_confirmed", "report_staff", "report_pauses")
OUTCOMES = ["answered", "answered", "abandoned", "busy", "no_answer", "congestion", "failed"]
RESULTS = ["confirmed", "refused", "callback", "fake", "duplicate", "no_decision"]


def backfill_sql() -> str:
    parts = []
    for name in ("0008_report_rollups.sql", "0010_pause_reasons.sql"):
        text = (MIGRATIONS_DIR / name).read_text()
        parts.append(text[text.index("-- Backfill") :])
    return ";\n".join(parts)


async def snapshot(conn) -> dict[str, list[tuple]]:
    tables = {}
    for table in ROLLUPS:
        rows = await conn.execute_fetchall(f"SELECT * FROM {table} ORDER BY 1, 2, 3")
        # a key whose counts all moved elsewhere is all zeros: the same as no row
        tables[table] = [
            tuple(round(v, 6) if isinstance(v, float) else v for v in row)
            for row in rows
            if any(
                isinstance(v, int | float) and v for v in row[3 if table != "report_leads" else 2 :]
            )
        ]
    return tables


async def write_day(db, rng: random.Random) -> None:
    """A day of a busy centre written the way the daemon writes it: leads, attempts first
    'dialing' then finished, some finished again by reconciliation, results, operators'
    states opened and closed."""
    now = 1_795_000_000.0
    attempt_id = 0
    for lead_id in range(1, 120):
        now += rng.uniform(5, 400)
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO leads (id, campaign, phone, amount_minor, received_at, due_at,"
                " deadline_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    lead_id,
                    rng.choice(["default", "promo"]),
                    f"+7916{rng.randint(0, 30):07d}",
                    rng.choice([None, 10000, 250000]),
                    now,
                    now,
                    now + 900,
                    now,
                ),
            )
        at, first_answered = now, None
        for number in range(1, rng.randint(0, 4) + 1):
            attempt_id += 1
            at += rng.uniform(10, 3000)
            operator = rng.choice([None, "ann", "bob"])
            mode = rng.choice(["customer_first", "agent_first", "predictive"])
            async with db.transaction() as conn:
                await conn.execute(
                    "INSERT INTO attempts (id, lead_id, number, call_id, action_id, campaign,"
                    " phone, mode, operator, created_at) SELECT ?, id, ?, ?, ?, campaign, phone,"
                    " ?, ?, ? FROM leads WHERE id = ?",
                    (
                        attempt_id,
                        number,
                        f"c{attempt_id}",
                        f"a{attempt_id}",
                        mode,
                        operator,
                        at,
                        lead_id,
                    ),
                )
                await conn.execute(
                    "UPDATE leads SET attempts = attempts + 1,"
                    " first_attempt_at = COALESCE(first_attempt_at, ?) WHERE id = ?",
                    (at, lead_id),
                )
            outcome = rng.choice(OUTCOMES)
            talked = outcome in ("answered", "abandoned")
            answered_at = at + 5 if talked else None
            async with db.transaction() as conn:
                await conn.execute(
                    "UPDATE attempts SET status = 'done', outcome = ?, answered_at = ?,"
                    " operator_at = ?, talk_s = ? WHERE id = ?",
                    (
                        outcome,
                        answered_at,
                        answered_at + rng.choice([0.3, 1.5, 4.0])
                        if outcome == "answered"
                        else None,
                        rng.uniform(1, 300) if talked else None,
                        attempt_id,
                    ),
                )
                if outcome == "answered":
                    await conn.execute("UPDATE leads SET reached = 1 WHERE id = ?", (lead_id,))
            if outcome != "answered" and rng.random() < 0.2:  # reconciled to another outcome
                async with db.transaction() as conn:
                    await conn.execute(
                        "UPDATE attempts SET outcome = ? WHERE id = ?",
                        (rng.choice(["busy", "unknown", "failed"]), attempt_id),
                    )
            if outcome == "answered" and rng.random() < 0.8:
                result = rng.choice(RESULTS)
                first_answered = first_answered or attempt_id
                async with db.transaction() as conn:
                    await conn.execute(
                        "INSERT INTO dispositions (attempt_id, lead_id, result, amount_minor,"
                        " flags, operator, created_at, wrapup_s) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            attempt_id,
                            lead_id,
                            result,
                            rng.choice([None, 99900]) if result == "confirmed" else None,
                            json.dumps(["upsell"] if rng.random() < 0.3 else []),
                            operator,
                            at + 400,
                            rng.uniform(0, 60),
                        ),
                    )
    for operator in ("ann", "bob", "cat"):
        at = 1_795_000_000.0
        for _ in range(40):
            length = rng.uniform(10, 4000)
            async with db.transaction() as conn:
                state = rng.choice(["free", "busy", "paused", "unavailable"])
                reason = rng.choice(["lunch", "break", None]) if state == "paused" else None
                cursor = await conn.execute(
                    "INSERT INTO operator_states (operator, state, reason, started_at,"
                    " seen_until) VALUES (?, ?, ?, ?, ?)",
                    (operator, state, reason, at, at),
                )
                await conn.execute(
                    "UPDATE operator_states SET seen_until = ? WHERE id = ?",
                    (at + length / 2, cursor.lastrowid),
                )
                await conn.execute(
                    "UPDATE operator_states SET ended_at = ? WHERE id = ?",
                    (at + length, cursor.lastrowid),
                )
            at += length


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_rollups_equal_a_recount_from_the_rows(tmp_path: Path, seed: int) -> None:
    async with open_store(tmp_path / "dialerd.sqlite3") as db:
        await write_day(db, random.Random(seed))
        kept = await snapshot(db.conn)
        assert kept["report_calls"] and kept["report_staff"] and kept["report_confirmed"]
        assert {row[2] for row in kept["report_pauses"]} == {"lunch", "break", ""}
        async with db.transaction() as conn:
            for table in ROLLUPS:
                await conn.execute(f"DELETE FROM {table}")
            await conn.executescript(backfill_sql()) if False else None
            for statement in backfill_sql().split(";"):
                if (
                    statement.strip()
                    and not statement.strip().startswith("--")
                    or "INSERT" in statement
                ):
                    await conn.execute(statement)
        recounted = await snapshot(db.conn)
    assert kept == recounted
