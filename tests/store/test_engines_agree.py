"""SQLite and PostgreSQL kept in step: the same migrations, the same schema, and the same
answers from the store's functions to the same story of leads, calls and results."""

from __future__ import annotations

import re
from dataclasses import asdict
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
from dialerd.store import alerts, attempts, calls, dnc, due, outbox, sql, surveys
from dialerd.store import leads as store
from dialerd.store.db import MIGRATIONS_DIR, migration_files
from dialerd.store.pg import PG_MIGRATIONS_DIR, PG_ONLY_FROM

NOW = 1_800_000_000.0
PG_ONLY_TABLES = {"daemons", "leases", "pacing_risk", "operator_holds"}


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
    pg_only_indexes = {
        "leases_daemon",
        "leases_expires",
        "attempts_dialing_pbx",  # a PBX's calls over all daemons (1011)
    }
    assert set(pg_tables) - PG_ONLY_TABLES == set(lite_tables)
    for table, columns in lite_tables.items():
        assert pg_tables[table] == columns, table
    assert pg_indexes - pg_only_indexes == lite_indexes


async def table_rows(db, table: str) -> list[dict[str, Any]]:
    return [dict(r) for r in await sql.rows(db.conn, f"SELECT * FROM {table} ORDER BY 1, 2")]


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


async def report_facts(db) -> dict[str, Any]:
    """Everything the reports read, over the story's day, grouped every way they group."""
    from dialerd.store import report_facts as facts

    start, end = NOW - 86400, NOW + 86400
    dims = [(), ("bucket",), ("campaign",), ("operator",), ("bucket", "campaign", "operator")]
    late = await facts.late_operators(db, start, end, abandon_after_s={"default": 0.5})
    closed = [(NOW - 7200, NOW + 2, NOW + 2)]  # the window opened just after the first leads
    return {
        "leads": [[asdict(f) for f in await facts.lead_facts(db, start, end, d[:2])] for d in dims],
        "duplicates": await facts.duplicate_facts(db, start, end),
        "speed": [asdict(f) for f in await facts.speed_facts(db, start, end, closed)],
        "operators": [asdict(f) for f in await facts.operator_lead_facts(db, start, end)],
        "confirmed": [
            [asdict(f) for f in await facts.confirmed_facts(db, start, end, d)] for d in dims
        ],
        "calls": [
            [
                asdict(f)
                for f in await facts.call_facts(db, start, end, d, billing_increment_s=6, late=late)
            ]
            for d in dims
        ],
        "late": {f"{k}": v for k, v in late.items()},
        "staff": [await facts.staff_seconds(db, start, end, d) for d in dims],
        "pauses": await facts.pause_seconds(db, start, end),
        "open": [asdict(s) for s in await facts.open_states(db, start, end, NOW + 5000)],
        "inbound": [
            asdict(f) for f in await facts.inbound_facts(db, start, end, answer_within_s=20)
        ],
        "scores": [[asdict(f) for f in await facts.score_facts(db, start, end, d)] for d in dims],
        "dead_air": [asdict(f) for f in await facts.dead_air_facts(db, start, end)],
        "caller_ids": [asdict(f) for f in await facts.caller_id_facts(db, start, end)],
    }


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
            ("+7 916 123-00-06", "A-6"),
        ]
    ):
        lead = validate_lead(LeadInput(phone=phone, order_id=order, name="Anna"), settings, NOW)
        await submit(db, lead, settings, NOW + n)
    rules = campaign_rules(CampaignSettings())
    verdicts = iter(
        [Defer(NOW + 3600, "outside its hours"), Dial(), Dial(), Dial(), Close(CloseReason.DNC)]
    )
    answered = None
    for n, outcome in enumerate((Outcome.BUSY, Outcome.ANSWERED, Outcome.MACHINE)):
        claim = await attempts.claim_next(
            db,
            NOW + 100,
            RANKS,
            lambda _lead: next(verdicts),
            caller_of=lambda _campaign, n=n: f"+7495000000{n % 2}",
        )
        assert claim is not None
        if outcome is Outcome.ANSWERED:
            answered = claim
            await attempts.set_operator(db, claim.attempt_id, "anna")
            await attempts.mark_answered(
                db, [attempts.Answer(claim.attempt_id, NOW + 105, NOW + 101)]
            )
        talked = outcome in (Outcome.ANSWERED, Outcome.MACHINE)
        machine = outcome is Outcome.MACHINE  # dropped after AMD heard a long greeting
        call = FinishedCall(
            claim.attempt_id, claim.lead_id, claim.call_id, outcome, 16, 17,
            NOW + 105 if talked else None, NOW + 160, 5.0,
            (7.2 if machine else 61.5) if talked else None,
            operator=None if machine else "anna", operator_at=None if machine else NOW + 106,
            amd_status="MACHINE" if machine else None,
            amd_cause="LONGGREETING-1600-1500" if machine else None,
            originated_at=NOW + 101, lead_at_claim=claim.lead,
        )  # fmt: skip
        update = after_attempt(outcome, claim.attempt_number, rules, NOW + 160)
        await attempts.finish_attempt(db, call, lambda *_, u=update: u, NOW + 160)
    assert answered is not None
    in_flight = await attempts.claim_next(
        db, NOW + 200, RANKS, lambda _lead: Dial(), caller_of=lambda _campaign: "+74950000001"
    )
    assert in_flight is not None
    await attempts.mark_answered(db, [attempts.Answer(in_flight.attempt_id, NOW + 203, NOW + 201)])
    survey = surveys.SurveyAnswer(answered.attempt_id, answered.lead_id, 4, 2, NOW + 180)
    async with db.transaction() as conn:  # what the survey log writes: once, never twice
        assert await surveys.record(conn, survey)
        assert not await surveys.record(conn, survey)
        assert await surveys.campaign_of_call(conn, answered.call_id) == (
            "default",
            "customer_first",
        )
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
        db, "default", NOW + 400, window_since=NOW + 400 - 86400, recent_s=3600, abandon_after_s=2.0
    )
    facts = await report_facts(db)
    return _plain(
        {
            "facts": facts,
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
            "past_deadline": await alerts.past_deadline(db.conn, NOW + 7200, 10),
            "answer_waits": await alerts.answer_waits(db.conn, NOW - 3600),
            "surveyed": [(i, vars(c)) for i, c in await surveys.surveyed_after(db.conn, 0, 10)],
            "survey": await surveys.of_attempt(db, answered.attempt_id),
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
                    "report_machines",
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
    assert len(on_sqlite["leads"]) == 6 and len(on_sqlite["attempts"]) == 4
    assert on_sqlite["facts"]["speed"] and on_sqlite["facts"]["calls"][0]
    assert on_sqlite["facts"]["confirmed"][0] and on_sqlite["facts"]["pauses"]
    assert len(on_sqlite["duplicates"]) == 1 and on_sqlite["in_flight"]
    assert len(on_sqlite["report_calls"]) == 3 and len(on_sqlite["report_staff"]) == 6
    assert [r["confirmed"] for r in on_sqlite["report_confirmed"]] == [1]
    assert [r["reason"] for r in on_sqlite["report_pauses"]] == ["lunch"] * 3
    assert [(r["machines"], r["billed_6"]) for r in on_sqlite["report_machines"]] == [(1, 12.0)]
    assert on_sqlite["facts"]["scores"][0] and on_sqlite["survey"]["nps"] == 4
    assert on_sqlite["facts"]["dead_air"] and on_sqlite["answer_waits"] == [1.0]
    assert [f["attempts"] for f in on_sqlite["facts"]["caller_ids"]] == [
        2,
        1,
    ]  # busy and machine, answered
    assert any(view["recent_dials"] for view in on_sqlite["due"])
    for key, value in on_sqlite.items():
        assert on_postgresql[key] == value, key


def test_the_postgresql_migrations_are_shipped_in_the_package():
    pyproject = (Path(__file__).parents[2] / "pyproject.toml").read_text(encoding="utf-8")
    assert '"migrations/postgresql/*.sql"' in pyproject


async def floor_story(db, make_config) -> dict[str, Any]:
    """What the floor writes beside the dial path (an operator's result, operators' time,
    inbound queues, missed calls, alerts, API idempotency, the audit, console sessions,
    report runs, paused campaigns); then what the store answers."""
    from dialerd.domain import Result
    from dialerd.policy.alerting import Alert, Kind
    from dialerd.policy.disposition import Disposition
    from dialerd.store import (
        alerts,
        audit,
        campaign_pauses,
        cards,
        console_sessions,
        desk,
        dispositions,
        floor,
        idempotency,
        inbound_calls,
        live,
        missed,
        operator_time,
        report_runs,
    )

    settings = make_config().settings
    for n in (1, 2):
        name = ["Anna Petrova", "ANNA Kim"][n - 1]
        lead = validate_lead(LeadInput(phone=f"+7 916 123-00-0{n}", name=name), settings, NOW)
        await submit(db, lead, settings, NOW + n)
    claim = await attempts.claim_next(db, NOW + 10, RANKS, lambda _lead: Dial())
    assert claim is not None
    call = FinishedCall(
        claim.attempt_id, claim.lead_id, claim.call_id, Outcome.ANSWERED, 16, 16, NOW + 15,
        NOW + 75, 5.0, 60.0, operator="anna", operator_at=NOW + 15,
    )  # fmt: skip
    rules = campaign_rules(CampaignSettings())
    update = after_attempt(Outcome.ANSWERED, 1, rules, NOW + 75)
    await attempts.finish_attempt(db, call, lambda *_: update, NOW + 75)
    confirmed = Disposition(
        Result.CONFIRMED, amount_minor=150000, flags=("upsell",), operator="anna"
    )
    recorded = await dispositions.record(db, claim.call_id, confirmed, settings.policy, NOW + 90)
    replayed = await dispositions.record(db, claim.call_id, confirmed, settings.policy, NOW + 95)
    async with db.transaction() as conn:
        changes = [
            operator_time.StateChange("anna", "free", NOW),
            operator_time.StateChange("anna", "busy", NOW + 15),
            operator_time.StateChange("anna", "paused", NOW + 75, "wrapup"),
            operator_time.StateChange("boris", "free", NOW + 20),
        ]
        await operator_time.record(conn, changes, NOW + 100)
        closed = await operator_time.close_open(conn, NOW + 1000)
        east, west = "east", "west"
        await inbound_calls.joined(conn, east, "in.1", "in.1", "sales", "+74951112233", NOW + 5)
        await inbound_calls.joined(conn, east, "in.2", "in.2", "sales", "", NOW + 6)
        await inbound_calls.joined(conn, east, claim.call_id, claim.call_id, "sales", "", NOW + 16)
        # west numbers its caller as east did: another call, not east's again
        await inbound_calls.joined(conn, west, "in.1", "in.1", "sales", "+74951114455", NOW + 7)
        await inbound_calls.answered(conn, east, "in.1", NOW + 25, 20.0, "anna")
        await inbound_calls.abandoned(conn, east, "in.2", NOW + 40, None)
        await inbound_calls.left(conn, east, "in.2", NOW + 45)  # weaker than abandoned: no change
        await inbound_calls.left(conn, west, "in.1", NOW + 47)
        ours = await missed.is_attempt_call(conn, ["nope", claim.call_id])
        other = await missed.open_lead(conn, "+79161230002")
        assert other is not None
        raised = await missed.raise_lead(conn, other[0], 1, NOW + 60, NOW + 50)
        alert = Alert(Kind.COMPLAINT, "A complaint", "text", ("complaint:1",), {"lead": 1})
        first = await alerts.raise_alert(conn, alert, ["webhook", "email"], NOW + 100)
        again = await alerts.raise_alert(conn, alert, ["webhook", "email"], NOW + 101)
        await alerts.set_state(conn, "outbox_seen", 3.0)
        await alerts.set_state(conn, "outbox_seen", 4.0)
        alert_reads = [
            await alerts.cause_raised_at(conn, "complaint:1"),
            await alerts.get_state(conn, "outbox_seen", 0.0),
            await alerts.get_state(conn, "unknown", -1.0),
            [vars(w) for w in await alerts.near_deadline(conn, NOW + 10**6)],
            await alerts.first_deadline_after(conn, NOW),
            await alerts.results_after(conn, 0, 10),
        ]
        key = idempotency.Key("crm", "k-1", idempotency.fingerprint("POST", "/x", {"a": 1}))
        await idempotency.save_many(conn, [(key, 201, {"id": 1})], NOW + 100)
        stored = await idempotency.lookup_many(conn, [key])
        await audit.record_in(conn, user="sue", action="close", at=NOW + 110, lead_id=1)
    due_alert = await alerts.next_due(db, NOW + 200)
    assert due_alert is not None
    await alerts.record_try(db, due_alert.id, "sent", None, None, NOW + 201)
    session = await console_sessions.create(db, "anna", "operator", NOW, 3600)
    found = await console_sessions.lookup(db, session.token, NOW + 10)
    await console_sessions.record_login(db, "anna", "127.0.0.1", True, NOW)
    ended = await console_sessions.end(db, session.token)
    await console_sessions.create(db, "boris", "supervisor", NOW, 3600)
    pruned = await console_sessions.prune(db, NOW + 7200)
    run = report_runs.ReportRun(
        "daily", NOW, "2027-01-15", "2027-01-15", report_runs.RunState.SENT, None, 1, NOW + 5
    )
    await report_runs.record_run(db, run)
    paused = await campaign_pauses.set_paused(
        db, "default", True, user="sue", note="stock", at=NOW + 300
    )
    async with db.transaction() as conn:
        screen = [
            asdict(await cards.lead_card(conn, claim.call_id, settings.policy)),
            asdict(await cards.operator_day(conn, "anna", NOW)),
            (await cards.call_owner(conn, claim.call_id))._asdict(),
            await cards.awaiting_result(conn, "anna", NOW),
        ]
    searched = [asdict(f) for f in await desk.search(db, phone=None, text="anna")]
    dnc_closed = await desk.add_dnc(db, other[0], "asked", user="sue", now=NOW + 400)
    board = [
        [asdict(w) for w in await floor.waiting(db, NOW + 500)],
        await floor.oldest_new(db),
        {k: asdict(v) for k, v in (await floor.operators_today(db, NOW)).items()},
        [asdict(a) for a in await floor.latest_alerts(db, 5)],
    ]
    return _plain(
        {
            "facts": await report_facts(db),
            "screen": screen,
            "searched": searched,
            "desk": [dnc_closed, await store.get_lead(db, other[0])],
            "board": board,
            "recorded": [vars(recorded), vars(replayed)],
            "dispositions": await dispositions.of_lead(db, claim.lead_id),
            "leads": await store.list_leads(db),
            "closed_states": closed,
            "operator_states": await table_rows(db, "operator_states"),
            "inbound": await table_rows(db, "inbound_calls"),
            "missed": [ours, other, raised],
            "alerts": [first, again, *alert_reads, await alerts.all_alerts(db)],
            "idempotency": {f"{k}": vars(v) for k, v in stored.items()},
            "audit": [vars(e) for e in await audit.recent(db)],
            "session": [
                found and {**vars(found), "csrf": found.csrf == session.csrf},
                ended,
                vars(pruned),
            ],
            "report_runs": [vars(r) for r in await report_runs.runs(db)],
            "last_fire": await report_runs.last_fire_time(db, "daily"),
            "paused": [paused, {k: vars(v) for k, v in (await campaign_pauses.paused(db)).items()}],
            "waiting": vars(await live.waiting(db)),
            **{
                table: await table_rows(db, table)
                for table in ("report_calls", "report_confirmed", "report_staff", "report_pauses")
            },
        }
    )


@pytest.mark.postgres
async def test_the_floor_s_writes_read_the_same_on_both_engines(tmp_path, postgres, make_config):
    from dialerd.config.store import postgres_target
    from dialerd.store.db import open_store
    from dialerd.store.pg import open_pg_store

    name = postgres.new_database()
    try:
        async with open_store(tmp_path / "s.sqlite3") as lite:
            on_sqlite = await floor_story(lite, make_config)
        async with open_pg_store(postgres_target(postgres.url(name)), postgres.password) as pg:
            on_postgresql = await floor_story(pg, make_config)
    finally:
        postgres.drop_database(name)
    assert on_sqlite["missed"][0] is True and on_sqlite["alerts"][:2] == [True, False]
    assert len(on_sqlite["inbound"]) == 3 and on_sqlite["report_confirmed"]
    by_pbx = {(c["pbx"], c["uniqueid"]): c["outcome"] for c in on_sqlite["inbound"]}
    assert by_pbx == {
        ("east", "in.1"): "answered",
        ("east", "in.2"): "abandoned",
        ("west", "in.1"): "left",
    }
    assert len(on_sqlite["searched"]) == 2 and on_sqlite["desk"][0] == 1
    assert on_sqlite["screen"][0]["lead"] and on_sqlite["board"][2]
    assert on_sqlite["facts"]["inbound"] and on_sqlite["facts"]["staff"][0]
    for key, value in on_sqlite.items():
        assert on_postgresql[key] == value, key


async def next_due_story(db) -> list[list[float | None]]:
    """What a claim tells the dial loop's timer: of nothing, no lead waiting; of nothing, a
    lead the policy has just deferred (the deferral counts); and of the last lead, on SQLite
    that none waits after it (PostgreSQL's claim tells nothing: the loop looks again)."""
    from dialerd.policy.phones import Phone

    told: list[list[float | None]] = []
    for judge, at in (
        (lambda _lead: Dial(), NOW),
        (lambda _lead: Defer(NOW + 3600, "outside its hours"), NOW),
        (lambda _lead: Dial(), NOW + 3600),
    ):
        seen: list[float | None] = []
        await attempts.claim_next(db, at, RANKS, judge, next_due=seen.append)
        told.append(seen)
        if not told[1:]:
            await store.insert_lead(db, store.NewLead(phone=Phone("+79161230001")), NOW)
    return told


async def test_a_claim_of_nothing_tells_when_the_next_lead_is_due(tmp_path):
    from dialerd.store.db import open_store

    async with open_store(tmp_path / "s.sqlite3") as lite:
        assert await next_due_story(lite) == [[None], [NOW + 3600], [None]]


@pytest.mark.postgres
async def test_a_claim_of_nothing_tells_the_same_on_postgresql(tmp_path, postgres):
    from dialerd.config.store import postgres_target
    from dialerd.store.pg import open_pg_store

    name = postgres.new_database()
    try:
        async with open_pg_store(postgres_target(postgres.url(name)), postgres.password) as pg:
            assert await next_due_story(pg) == [[None], [NOW + 3600], []]
    finally:
        postgres.drop_database(name)
