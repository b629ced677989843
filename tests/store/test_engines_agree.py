"""SQLite and PostgreSQL kept in step: the same migrations, the same schema, and the same
answers from the store's functions to the same story of leads, calls and results."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from dialerd.config import CampaignSettings
from dialerd.config.rules import campaign_rules
from dialerd.domain import CloseReason, FinishedCall, Outcome
from dialerd.intake.leads import LeadInput, submit, validate_lead
from dialerd.policy.pick import Close, Defer, Dial
from dialerd.policy.priority import RANKS
from dialerd.policy.retry import after_attempt
from dialerd.store import attempts, calls, dnc, due, outbox, sql
from dialerd.store import leads as store
from dialerd.store.db import MIGRATIONS_DIR, migration_files
from dialerd.store.pg import PG_MIGRATIONS_DIR, PG_ONLY_FROM

NOW = 1_800_000_000.0
PG_ONLY_TABLES = {"daemons", "leases"}


def test_every_sqlite_migration_has_its_postgresql_twin():
    sqlite = {version: path.name for version, path in migration_files(MIGRATIONS_DIR)}
    postgresql = {version: path.name for version, path in migration_files(PG_MIGRATIONS_DIR)}
    twins = {v: name for v, name in postgresql.items() if v < PG_ONLY_FROM}
    assert twins == sqlite, "a migration added to one engine must be added to the other"
    assert all(v >= PG_ONLY_FROM for v in set(postgresql) - set(sqlite))


async def schema(db, engine: str) -> tuple[dict[str, list[tuple[str, str, bool]]], set[str]]:
    """Tables as (column, kind, not null), and index names, as each engine describes them."""
    kinds = {
        "integer": "int",
        "bigint": "int",
        "real": "float",
        "double precision": "float",
        "text": "text",
    }
    tables: dict[str, list[tuple[str, str, bool]]] = {}
    if engine == "sqlite":
        names = [
            r[0]
            for r in await sql.rows(
                db.conn, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        for name in names:
            columns = await sql.rows(db.conn, f"PRAGMA table_info({name})")
            tables[name] = [
                (c["name"], kinds[c["type"].lower()], bool(c["notnull"] or c["pk"]))
                for c in columns
            ]
        indexes = await sql.rows(
            db.conn,
            "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'",
        )
    else:
        columns = await sql.rows(
            db.conn,
            "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns"
            " WHERE table_schema = 'public' ORDER BY table_name, ordinal_position",
        )
        for c in columns:
            tables.setdefault(c[0], []).append((c[1], kinds[c[2]], c[3] == "NO"))
        indexes = await sql.rows(
            db.conn,
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'"
            " AND indexname NOT LIKE '%\\_pkey' AND indexname NOT LIKE '%\\_key'",
        )
    return tables, {r[0] for r in indexes}


@pytest.mark.postgres
async def test_both_schemas_have_the_same_tables_columns_and_indexes(tmp_path, postgres):
    from dialerd.config.store import postgres_target
    from dialerd.store.db import open_store
    from dialerd.store.pg import open_pg_store

    name = postgres.new_database()
    try:
        async with (
            open_store(tmp_path / "s.sqlite3") as lite,
            open_pg_store(postgres_target(postgres.url(name)), postgres.password) as pg,
        ):
            lite_tables, lite_indexes = await schema(lite, "sqlite")
            pg_tables, pg_indexes = await schema(pg, "postgresql")
    finally:
        postgres.drop_database(name)
    pg_only_indexes = {"leases_daemon", "leases_expires"}
    assert set(pg_tables) - PG_ONLY_TABLES == set(lite_tables)
    for table, columns in lite_tables.items():
        assert pg_tables[table] == columns, table
    assert pg_indexes - pg_only_indexes == lite_indexes


def _plain(value: Any) -> Any:
    """Random parts (call ids, the store's token) and the store's own id, out of a value."""
    if isinstance(value, str):
        value = re.sub(r"(dialerd|orig)-(\d+)-(\d+)-[0-9a-f]{8}", r"\1-\2-\3-*", value)
        return re.sub(r"dialerd-[0-9a-f]{12}-", "dialerd-*-", value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


async def story(db, make_config) -> dict[str, Any]:
    """Leads in (one a duplicate, one on the do-not-call list), calls made and ended, leads
    deferred and closed by the policy on the way; then everything the store answers."""
    settings = make_config().settings
    await dnc.add(db, "+7495", "landlines", NOW)
    for n, (phone, order) in enumerate(
        [
            ("+7 916 123-00-01", "A-1"),
            ("+7 916 123-00-02", "A-2"),
            ("+7 916 123-00-01", "A-1"),  # the same order again: a duplicate
            ("+7 495 123-00-03", "A-3"),  # on the do-not-call list: closed at once
            ("+7 916 123-00-04", "A-4"),
            ("+7 916 123-00-05", "A-5"),
        ]
    ):
        lead = validate_lead(LeadInput(phone=phone, order_id=order, name="Anna"), settings, NOW)
        await submit(db, lead, settings, NOW + n)
    rules = campaign_rules(CampaignSettings())
    verdicts = iter(
        [Defer(NOW + 3600, "outside its hours"), Dial(), Dial(), Close(CloseReason.DNC), Dial()]
    )
    answered = None
    for outcome in (Outcome.BUSY, Outcome.ANSWERED):
        claim = await attempts.claim_next(db, NOW + 100, RANKS, lambda _lead: next(verdicts))
        assert claim is not None
        if outcome is Outcome.ANSWERED:
            answered = claim
            await attempts.set_operator(db, claim.attempt_id, "anna")
            await attempts.mark_answered(db, [(claim.attempt_id, NOW + 105)])
        call = FinishedCall(
            claim.attempt_id, claim.lead_id, claim.call_id, outcome, 16, 17,
            NOW + 105 if outcome is Outcome.ANSWERED else None, NOW + 160, 5.0,
            61.5 if outcome is Outcome.ANSWERED else None, operator="anna",
            operator_at=NOW + 106,
        )  # fmt: skip
        update = after_attempt(outcome, claim.attempt_number, rules, NOW + 160)
        await attempts.finish_attempt(db, call, lambda *_, u=update: u, NOW + 160)
    assert answered is not None
    in_flight = await attempts.claim_next(db, NOW + 200, RANKS, lambda _lead: Dial())
    assert in_flight is not None
    await attempts.mark_originated(db, in_flight.attempt_id, NOW + 201)
    message = await outbox.next_due(db, NOW + 300)
    assert message is not None
    await outbox.record_try(db, message.id, "delivered", None, None, NOW + 301)
    async with db.transaction() as conn:  # what the operator's screen and board write
        await sql.run(
            conn,
            "INSERT INTO dispositions (attempt_id, lead_id, result, amount_minor, note, flags,"
            " operator, created_at, wrapup_s) VALUES (?, ?, 'confirmed', NULL, 'ok',"
            " '[\"upsell\"]', 'anna', ?, 12.5)",
            (answered.attempt_id, answered.lead_id, NOW + 170),
        )
        await outbox.enqueue_result(conn, answered.lead_id, NOW + 170)
        for state, start, end, reason in [
            ("free", NOW - 1000, NOW + 950, None),  # across three buckets
            ("busy", NOW + 950, NOW + 1100, None),
            ("paused", NOW + 1100, None, "lunch"),
        ]:
            await sql.run(
                conn,
                "INSERT INTO operator_states (operator, state, started_at, ended_at, seen_until,"
                " reason) VALUES ('anna', ?, ?, ?, ?, ?)",
                (state, start, end, end or start, reason),
            )
        await sql.run(
            conn,
            "UPDATE operator_states SET ended_at = ?, seen_until = ? WHERE ended_at IS NULL",
            (NOW + 2900, NOW + 2900),
        )
        # a finished call moved to another operator: counted out, and in again
        await sql.run(
            conn,
            "UPDATE attempts SET operator = 'boris' WHERE outcome = 'busy'",
        )
    stats = await calls.campaign_stats(
        db, "default", NOW + 400, window_s=86400, recent_s=3600, abandon_after_s=2.0
    )
    return _plain(
        {
            "leads": await store.list_leads(db),
            "attempts": await store.attempts_of(db),
            "duplicates": await store.recent_duplicates(db, 10),
            "outbox": await outbox.messages(db),
            "pending": await outbox.pending_count(db),
            "parked": await outbox.parked_count(db),
            "next_try_at": await outbox.next_try_at(db),
            "in_flight": [vars(c) for c in await calls.in_flight_calls(db)],
            "stats": [vars(s) for s in stats],
            "operators": {k: vars(v) for k, v in (await calls.operator_day(db, NOW)).items()},
            "due": [vars(v) for v in await due.due_views(db, NOW + 7200, RANKS, 10)],
            "next_due_at": await due.next_due_at(db),
            "dnc": await dnc.entries(db),
            "matching": await dnc.matching(db, "+74951230003"),
            **{
                table: [
                    dict(r)
                    for r in await sql.rows(db.conn, f"SELECT * FROM {table} ORDER BY 1, 2, 3")
                ]
                for table in (
                    "report_calls",
                    "report_leads",
                    "report_confirmed",
                    "report_staff",
                    "report_pauses",
                )
            },
        }
    )


@pytest.mark.postgres
async def test_the_same_story_reads_the_same_on_both_engines(tmp_path, postgres, make_config):
    from dialerd.config.store import postgres_target
    from dialerd.store.db import open_store
    from dialerd.store.pg import open_pg_store

    name = postgres.new_database()
    try:
        async with open_store(tmp_path / "s.sqlite3") as lite:
            on_sqlite = await story(lite, make_config)
        async with open_pg_store(postgres_target(postgres.url(name)), postgres.password) as pg:
            on_postgresql = await story(pg, make_config)
    finally:
        postgres.drop_database(name)
    assert len(on_sqlite["leads"]) == 5 and len(on_sqlite["attempts"]) == 3
    assert len(on_sqlite["duplicates"]) == 1 and on_sqlite["in_flight"]
    assert len(on_sqlite["report_calls"]) == 2 and len(on_sqlite["report_staff"]) == 6
    assert [r["confirmed"] for r in on_sqlite["report_confirmed"]] == [1]
    assert [r["reason"] for r in on_sqlite["report_pauses"]] == ["lunch"] * 3
    for key, value in on_sqlite.items():
        assert on_postgresql[key] == value, key


def test_the_postgresql_migrations_are_shipped_in_the_package():
    pyproject = (Path(__file__).parents[2] / "pyproject.toml").read_text(encoding="utf-8")
    assert '"migrations/postgresql/*.sql"' in pyproject
