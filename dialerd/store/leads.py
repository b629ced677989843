"""Leads coming in and read back: what intake inserts and what the CLI and API show.

Intake's inserts run inside its own write transaction (``*_in``), with the duplicate
and do-not-call lookups it decides by, so a batch is checked and stored at once. The
dial path's writes (pick, claim, an attempt's end) are in ``due.py`` and ``attempts.py``.
The store only executes what the policy decided; it decides nothing itself.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

import aiosqlite

from dialerd.domain import CloseReason
from dialerd.policy.dedup import KnownLead
from dialerd.policy.dnc import prefixes
from dialerd.policy.phone_limits import RECENT_DIALS
from dialerd.policy.phones import Phone
from dialerd.policy.pick import LeadView
from dialerd.policy.priority import NEW_LEAD_RANK
from dialerd.store.db import Database


class JsonText(str):
    """A JSON value already encoded where it was checked (the API measures its size): stored as is."""


@dataclass(frozen=True)
class NewLead:
    phone: Phone
    campaign: str = "default"
    order_id: str | None = None
    name: str | None = None
    amount_minor: int | None = None
    items: list[Any] | JsonText | None = None
    comment: str | None = None
    metadata: dict[str, Any] | JsonText | None = None
    source: str = "api"
    callback_at: float | None = None
    timezone: str | None = None  # IANA, checked at intake
    region: str | None = None  # the delivery region: its ISO 3166-2 code when known


@dataclass(frozen=True)
class Placement:
    """Where intake's policy puts a new lead: its rank, deadline, and whether it is closed at once."""

    rank: int = NEW_LEAD_RANK
    deadline_at: float | None = None
    closed_as: CloseReason | None = None


async def insert_lead(
    db: Database, lead: NewLead, now: float, placement: Placement | None = None
) -> int:
    async with db.transaction() as conn:
        return await insert_lead_in(conn, lead, now, placement or Placement(deadline_at=now))


_LEAD_COLUMNS = (
    "campaign, phone, order_id, name, amount_minor, items, comment, metadata, source,"
    " received_at, state, rank, due_at, callback_at, deadline_at, closed_at, close_reason,"
    " updated_at, timezone, region"
)


def _lead_row(lead: NewLead, placement: Placement, now: float) -> tuple[Any, ...]:
    """The values of ``_LEAD_COLUMNS`` for a new lead, as intake placed it."""
    closed = placement.closed_as is not None
    return (
        lead.campaign,
        lead.phone.e164,
        lead.order_id,
        lead.name,
        lead.amount_minor,
        _json(lead.items),
        lead.comment,
        _json(lead.metadata),
        lead.source,
        now,
        "closed" if closed else "waiting",
        placement.rank,
        lead.callback_at if lead.callback_at is not None else now,
        lead.callback_at,
        placement.deadline_at,
        now if closed else None,
        placement.closed_as.value if placement.closed_as is not None else None,
        now,
        lead.timezone,
        lead.region,
    )


def _json(value: list[Any] | dict[str, Any] | JsonText | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, JsonText):
        return str(value)
    return json.dumps(value)


async def insert_lead_in(
    conn: aiosqlite.Connection, lead: NewLead, now: float, placement: Placement
) -> int:
    """Insert inside the caller's transaction (intake runs its duplicate check in the same one)."""
    cursor = await conn.execute(
        f"INSERT INTO leads ({_LEAD_COLUMNS}) VALUES ({', '.join('?' * 20)})",
        _lead_row(lead, placement, now),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


async def on_dnc(conn: aiosqlite.Connection, phone: str) -> bool:
    options = prefixes(phone)
    marks = ",".join("?" * len(options))
    async with conn.execute(
        f"SELECT 1 FROM dnc WHERE pattern IN ({marks}) LIMIT 1", options
    ) as cursor:
        return await cursor.fetchone() is not None


async def known_leads_many(
    conn: aiosqlite.Connection, phones: list[str]
) -> dict[tuple[str, str], list[KnownLead]]:
    """Earlier leads of each phone, by (phone, campaign): the duplicate rules for a whole batch."""
    rows = await conn.execute_fetchall(
        "SELECT id, phone, campaign, order_id, received_at FROM leads"
        " WHERE phone IN (SELECT value FROM json_each(?))",
        (json.dumps(phones),),
    )
    known: dict[tuple[str, str], list[KnownLead]] = {}
    for row in rows:
        known.setdefault((row[1], row[2]), []).append(KnownLead(row[0], row[3], row[4]))
    return known


async def on_dnc_many(conn: aiosqlite.Connection, phones: list[str]) -> set[str]:
    """The phones of ``phones`` that the do-not-call list blocks (by number or prefix)."""
    if not await conn.execute_fetchall("SELECT 1 FROM dnc LIMIT 1"):
        return set()  # the usual case: no list, no probes
    options = sorted({prefix for phone in phones for prefix in prefixes(phone)})
    rows = await conn.execute_fetchall(
        "SELECT pattern FROM dnc WHERE pattern IN (SELECT value FROM json_each(?))",
        (json.dumps(options),),
    )
    patterns = {row[0] for row in rows}
    if not patterns:
        return set()
    return {phone for phone in phones if any(p in patterns for p in prefixes(phone))}


async def next_lead_id(conn: aiosqlite.Connection) -> int:
    """The id the next lead gets; stable while the caller holds the write transaction."""
    async with conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM leads") as cursor:
        row = await cursor.fetchone()
    assert row is not None  # an aggregate always answers one row
    return int(row[0])


async def insert_leads_many_in(
    conn: aiosqlite.Connection, rows: list[tuple[int, NewLead, Placement]], now: float
) -> None:
    """Insert leads with the ids intake gave them (``next_lead_id`` onwards)."""
    await _insert_many(
        conn,
        f"leads (id, {_LEAD_COLUMNS})",
        21,
        [(lead_id, *_lead_row(lead, placement, now)) for lead_id, lead, placement in rows],
    )


async def insert_duplicates_many_in(
    conn: aiosqlite.Connection, rows: list[tuple[NewLead, int, str]], now: float
) -> None:
    """Record rejected duplicates (lead, the lead it duplicates, rule): they feed the duplicate rate."""
    await _insert_many(
        conn,
        "duplicates (campaign, phone, order_id, duplicate_of, rule, received_at)",
        6,
        [
            (lead.campaign, lead.phone.e164, lead.order_id, duplicate_of, rule, now)
            for lead, duplicate_of, rule in rows
        ],
    )


# Rows per INSERT statement: 1,000 x 21 values (an API batch in one) stays under
# SQLite's default limit of 32,766 variables (3.32+).
_ROWS_PER_INSERT = 1000


async def _insert_many(
    conn: aiosqlite.Connection, target: str, width: int, values: list[tuple[Any, ...]]
) -> None:
    """Multi-row ``INSERT ... VALUES (...), (...)``: a few statements instead of one per row.

    ``executemany`` steps once per row, and each step releases and re-takes the GIL: while
    the event loop is busy (parsing the next batch), every row then waits for the loop's
    switch interval (5 ms), and a batch of 1,000 crawls. One statement binds all its values
    at once and runs all its rows in a single step, off the GIL.
    """
    start = 0
    for size in _chunk_sizes(len(values)):
        chunk = values[start : start + size]
        start += size
        await conn.execute(
            f"INSERT INTO {target} VALUES {_placeholders(width, size)}",
            [value for row in chunk for value in row],
        )


def _chunk_sizes(count: int) -> list[int]:
    """Statement sizes for ``count`` rows: whole 1,000s, the rest in powers of two.

    Each size is its own statement text, which sqlite3 prepares once and keeps (128 per
    connection): a remainder of any size would prepare a new statement for every batch
    (costly for 20,000 variables) and fill the cache with them. Powers of two keep it to
    eleven statements per table, at the price of a few more steps for a remainder.
    """
    sizes = [_ROWS_PER_INSERT] * (count // _ROWS_PER_INSERT)
    rest = count % _ROWS_PER_INSERT
    sizes += [1 << bit for bit in range(rest.bit_length() - 1, -1, -1) if rest & (1 << bit)]
    return sizes


@functools.lru_cache(maxsize=32)
def _placeholders(width: int, count: int) -> str:
    row = f"({', '.join('?' * width)})"
    return ", ".join([row] * count)


VIEW_COLUMNS = (
    "id, phone, campaign, state, rank, attempts, received_at, due_at, deadline_at, callback_at,"
    " last_outcome, close_reason, timezone, region, extra_attempts"
)
# The phone's own history over every lead (policy/phone_limits.py): its latest dial times
# and its latest abandon, read through the index on (phone, created_at).
PHONE_HISTORY = (
    "(SELECT json_group_array(created_at) FROM (SELECT created_at FROM attempts"
    " INDEXED BY attempts_phone_created WHERE attempts.phone = leads.phone"
    f" ORDER BY created_at DESC LIMIT {RECENT_DIALS:d})) AS recent_dials,"
    " (SELECT MAX(COALESCE(answered_at, created_at)) FROM attempts"
    " INDEXED BY attempts_phone_created WHERE attempts.phone = leads.phone"
    " AND outcome = 'abandoned') AS last_abandoned_at"
)
# A lead is on the do-not-call list when any prefix of its phone is: 15 primary-key probes.
ON_DNC = (
    "EXISTS (SELECT 1 FROM dnc WHERE pattern IN ("
    + ", ".join(f"substr(phone, 1, {n})" for n in range(2, 17))
    + ")) AS on_dnc"
)


def lead_view(row: aiosqlite.Row) -> LeadView:
    """A row of ``VIEW_COLUMNS, ON_DNC, PHONE_HISTORY`` as the policy sees the lead."""
    return LeadView(
        lead_id=row["id"],
        phone=row["phone"],
        campaign=row["campaign"],
        state=row["state"],
        rank=row["rank"],
        attempts=row["attempts"],
        received_at=row["received_at"],
        due_at=row["due_at"],
        deadline_at=row["deadline_at"],
        callback_at=row["callback_at"],
        last_outcome=row["last_outcome"],
        close_reason=row["close_reason"],
        on_dnc=bool(row["on_dnc"]),
        timezone=row["timezone"],
        region=row["region"],
        extra_attempts=row["extra_attempts"],
        recent_dials=tuple(json.loads(row["recent_dials"] or "[]")),
        last_abandoned_at=row["last_abandoned_at"],
    )


async def lead_views(
    db: Database, where: str, args: tuple[Any, ...], order: str, limit: int
) -> list[LeadView]:
    """Leads as the policy sees them, for `plan` and `explain` (not the dial path)."""
    rows = await db.conn.execute_fetchall(
        f"SELECT {VIEW_COLUMNS}, {ON_DNC}, {PHONE_HISTORY} FROM leads WHERE {where}"
        f" ORDER BY {order} LIMIT ?",
        (*args, limit),
    )
    return [lead_view(row) for row in rows]


async def recent_duplicates(db: Database, limit: int) -> list[dict[str, Any]]:
    async with db.conn.execute(
        "SELECT * FROM duplicates ORDER BY received_at DESC LIMIT ?", (limit,)
    ) as cursor:
        return [dict(row) for row in await cursor.fetchall()]


async def get_lead(db: Database, lead_id: int) -> dict[str, Any] | None:
    async with db.conn.execute("SELECT * FROM leads WHERE id = ?", (lead_id,)) as cursor:
        row = await cursor.fetchone()
    return dict(row) if row else None


async def list_leads(db: Database, limit: int = 100) -> list[dict[str, Any]]:
    async with db.conn.execute("SELECT * FROM leads ORDER BY id DESC LIMIT ?", (limit,)) as cursor:
        return [dict(row) for row in await cursor.fetchall()]


async def attempts_of(db: Database, lead_id: int | None = None) -> list[dict[str, Any]]:
    """Every attempt (of one lead, or all), oldest first."""
    where, args = ("", ()) if lead_id is None else (" WHERE lead_id = ?", (lead_id,))
    async with db.conn.execute(f"SELECT * FROM attempts{where} ORDER BY id", args) as cursor:
        return [dict(row) for row in await cursor.fetchall()]
