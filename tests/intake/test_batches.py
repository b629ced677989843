"""Batch intake: one transaction, the same rules as one lead at a time, duplicates within it.

Batches go in as the API's intake writer puts them: ``submit_many_in`` inside one write
transaction (``intake``)."""

from __future__ import annotations

import pytest

from dialerd.domain import CloseReason
from dialerd.intake.leads import (
    Accepted,
    Duplicate,
    LeadInput,
    submit,
    submit_many_in,
    validate_lead,
)
from dialerd.policy.dedup import DuplicateRule
from dialerd.store import dnc as dnc_store
from dialerd.store import leads as store
from dialerd.store import sql
from dialerd.store.db import open_store

pytestmark = pytest.mark.engines("sqlite", "postgresql")

NOW = 1_800_000_000.0


def lead(settings, phone, **fields):
    return validate_lead(LeadInput(phone=phone, **fields), settings, NOW)


async def intake(db, leads, settings, now):
    """The leads of one batch in one write transaction, as ``api.writer`` commits them."""
    async with db.transaction() as conn:
        return await submit_many_in(conn, leads, settings, now)


async def test_a_batch_applies_both_rules_within_itself_and_against_the_store(db, make_config):
    settings = make_config(
        campaigns={
            "default": {},
            "web": {"duplicates": {"rule": "phone_window", "window_h": 24}},
        }
    ).settings
    first = await submit(db, lead(settings, "+79161234567", order_id="A-1"), settings, NOW)
    assert first == Accepted(1)
    results = await intake(
        db,
        [
            lead(settings, "8 916 123-45-67", order_id="A-1"),  # the store's lead 1
            lead(settings, "+79161234567", order_id="A-2"),  # a new order: new lead
            lead(settings, "+79161234567", order_id="A-2"),  # ... submitted twice in the batch
            lead(settings, "+79161230000", campaign="web", order_id="W-1"),
            lead(settings, "+79161230000", campaign="web", order_id="W-2"),  # window rule
            lead(settings, "+79161230000", order_id="W-1"),  # other campaign: its own rules
        ],
        settings,
        NOW,
    )
    assert results == [
        Duplicate(1, DuplicateRule.PHONE_AND_ORDER),
        Accepted(2),
        Duplicate(2, DuplicateRule.PHONE_AND_ORDER),
        Accepted(3),
        Duplicate(3, DuplicateRule.PHONE_WINDOW),
        Accepted(4),
    ]
    rows = await store.list_leads(db)
    assert sorted((r["id"], r["phone"], r["campaign"], r["order_id"]) for r in rows) == [
        (1, "+79161234567", "default", "A-1"),
        (2, "+79161234567", "default", "A-2"),
        (3, "+79161230000", "web", "W-1"),
        (4, "+79161230000", "default", "W-1"),
    ]
    dups = await store.recent_duplicates(db, 10)
    assert sorted(d["duplicate_of"] for d in dups) == [1, 2, 3]


async def test_a_batch_lead_is_placed_like_a_single_one(db, make_config):
    settings = make_config().settings
    single = await submit(db, lead(settings, "+79161234567", order_id="S"), settings, NOW)
    (batched,) = await intake(db, [lead(settings, "+79161234568", order_id="B")], settings, NOW)
    one, two = await store.get_lead(db, single.lead_id), await store.get_lead(db, batched.lead_id)
    fields = ("state", "rank", "due_at", "deadline_at", "received_at", "callback_at")
    assert {f: one[f] for f in fields} == {f: two[f] for f in fields}
    assert one["deadline_at"] > NOW  # speed to lead counted from arrival


async def test_dnc_in_a_batch_closes_only_the_blocked_phones(db, make_config):
    settings = make_config().settings
    await dnc_store.add(db, "+7495", None, NOW)
    results = await intake(
        db,
        [lead(settings, "+74951234567"), lead(settings, "+79161234567")],
        settings,
        NOW,
    )
    assert results == [Accepted(1, CloseReason.DNC), Accepted(2)]
    assert (await store.get_lead(db, 1))["close_reason"] == "dnc"


async def test_a_failing_batch_stores_nothing(db, make_config, monkeypatch):
    settings = make_config().settings

    async def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "insert_duplicates_many_in", broken)
    with pytest.raises(RuntimeError):
        await intake(db, [lead(settings, "+79161234567")], settings, NOW)
    assert await store.list_leads(db) == []


A, B = DuplicateRule.PHONE_AND_ORDER, DuplicateRule.PHONE_WINDOW


@pytest.mark.parametrize(
    ("rule", "order_ids", "expected"),
    [
        (A, [None, None], [Accepted(1), Duplicate(1, A)]),  # no order id: the same request
        (A, ["A-1", "A-1"], [Accepted(1), Duplicate(1, A)]),
        (A, ["A-1", "A-2"], [Accepted(1), Accepted(2)]),  # a repeat order is a new lead
        (A, ["A-1", None], [Accepted(1), Accepted(2)]),
        (
            A,
            ["A-1", "A-2", "A-1", "A-2"],
            [Accepted(1), Accepted(2), Duplicate(1, A), Duplicate(2, A)],
        ),
        (B, [None, None], [Accepted(1), Duplicate(1, B)]),
        (B, ["A-1", "A-1"], [Accepted(1), Duplicate(1, B)]),
        (B, ["A-1", "A-2"], [Accepted(1), Duplicate(1, B)]),  # any lead of the phone in the window
        (B, ["A-1", None, "A-3"], [Accepted(1), Duplicate(1, B), Duplicate(1, B)]),
    ],
)
async def test_the_same_phone_twice_in_one_batch(db, make_config, rule, order_ids, expected):
    settings = make_config(campaigns={"default": {"duplicates": {"rule": rule.value}}}).settings
    phones = ["+79161234567", "8 (916) 123-45-67", "+7 916 1234567", "89161234567"]
    batch = [lead(settings, phone, order_id=o) for phone, o in zip(phones, order_ids, strict=False)]
    assert await intake(db, batch, settings, NOW) == expected
    dups = await store.recent_duplicates(db, 10)
    assert sorted(
        ((d["duplicate_of"], d["rule"], d["order_id"]) for d in dups), key=repr
    ) == sorted(
        (
            (r.duplicate_of, rule.value, o)
            for r, o in zip(expected, order_ids, strict=True)
            if isinstance(r, Duplicate)
        ),
        key=repr,
    )
    assert len(await store.list_leads(db)) == sum(isinstance(r, Accepted) for r in expected)


async def test_a_repeated_phone_is_checked_against_the_store_and_the_batch(db, make_config):
    settings = make_config(campaigns={"default": {"duplicates": {"rule": "phone_window"}}}).settings
    await submit(db, lead(settings, "+79161234567"), settings, NOW - 25 * 3600)  # out of window
    results = await intake(
        db,
        [lead(settings, "+79161234567"), lead(settings, "+79161234567", order_id="X")],
        settings,
        NOW,
    )
    assert results == [Accepted(2), Duplicate(2, B)]


async def test_leads_alike_share_a_placement_and_others_do_not(db, tmp_path, make_config):
    """Each lead of a batch is placed exactly as it would be alone (rank, deadline, closure)."""
    settings = make_config(
        campaigns={
            "default": {},
            "fast": {"scheme": "fewest_attempts", "speed_to_lead_min": 5},
        }
    ).settings
    await dnc_store.add(db, "+7495", None, NOW)
    callback = NOW + 7200
    fields = [
        {"phone": "+79161230001"},
        {"phone": "+79161230002", "callback_at": callback},
        {"phone": "+79161230003", "campaign": "fast"},
        {"phone": "+79161230004", "campaign": "fast", "callback_at": callback},
        {"phone": "+74951230005"},
        {"phone": "+79161230006"},
    ]
    batch = await intake(db, [lead(settings, **f) for f in fields], settings, NOW)
    columns = ("state", "rank", "due_at", "deadline_at", "callback_at", "close_reason")
    async with open_store(tmp_path / "alone.sqlite3") as alone:
        await dnc_store.add(alone, "+7495", None, NOW)
        for result, f in zip(batch, fields, strict=True):
            single = await submit(alone, lead(settings, **f), settings, NOW)
            one = await store.get_lead(alone, single.lead_id)
            other = await store.get_lead(db, result.lead_id)
            assert {c: other[c] for c in columns} == {c: one[c] for c in columns}, f
    ranks = [(await store.get_lead(db, r.lead_id))["rank"] for r in batch]
    assert len(set(ranks)) > 1


async def test_more_leads_than_one_insert_statement_takes(db, make_config):
    settings = make_config().settings
    count = 2 * store._ROWS_PER_INSERT + 345
    phones = [f"+7916{n:07d}" for n in range(count)]
    results = await intake(db, [lead(settings, p) for p in phones], settings, NOW)
    assert results == [Accepted(n + 1) for n in range(count)]
    rows = await sql.rows(db.conn, "SELECT id, phone FROM leads ORDER BY id")
    assert [tuple(r) for r in rows] == [(n + 1, p) for n, p in enumerate(phones)]
