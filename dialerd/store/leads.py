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

from dialerd.domain import CloseReason
from dialerd.policy.dedup import KnownLead
from dialerd.policy.dnc import prefixes
from dialerd.policy.phone_limits import RECENT_DIALS
from dialerd.policy.phones import Phone
from dialerd.policy.pick import LeadView
from dialerd.policy.priority import NEW_LEAD_RANK
from dialerd.store import sql
from dialerd.store.pg import LEADS_CHANNEL
from dialerd.store.sql import Conn, Row, Sql, Store


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
    db: Store, lead: NewLead, now: float, placement: Placement | None = None
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


async def insert_lead_in(conn: Conn, lead: NewLead, now: float, placement: Placement) -> int:
    """Insert inside the caller's transaction (intake runs its duplicate check in the same one).

    On PostgreSQL the id is intake's (``next_lead_id``), as for a batch: lead ids stay
    dense and in arrival order on both engines."""
    if sql.engine_of(conn) == "postgresql":
        await notify_new_leads(conn)
        lead_id = await next_lead_id(conn)
        await sql.run(
            conn,
            f"INSERT INTO leads (id, {_LEAD_COLUMNS}) VALUES ({', '.join('?' * 21)})",
            (lead_id, *_lead_row(lead, placement, now)),
        )
        return lead_id
    return await sql.insert(
        conn,
        f"INSERT INTO leads ({_LEAD_COLUMNS}) VALUES ({', '.join('?' * 20)})",
        _lead_row(lead, placement, now),
    )


async def on_dnc(conn: Conn, phone: str) -> bool:
    options = prefixes(phone)
    marks = ",".join("?" * len(options))
    found = await sql.row(conn, f"SELECT 1 FROM dnc WHERE pattern IN ({marks}) LIMIT 1", options)
    return found is not None


async def known_leads_many(conn: Conn, phones: list[str]) -> dict[tuple[str, str], list[KnownLead]]:
    """Earlier leads of each phone, by (phone, campaign): the duplicate rules for a whole batch."""
    rows = await sql.rows(
        conn,
        "SELECT id, phone, campaign, order_id, received_at FROM leads"
        " WHERE phone IN (SELECT value FROM json_each(?))",
        (json.dumps(phones),),
    )
    known: dict[tuple[str, str], list[KnownLead]] = {}
    for row in rows:
        known.setdefault((row[1], row[2]), []).append(KnownLead(row[0], row[3], row[4]))
    return known


async def on_dnc_many(conn: Conn, phones: list[str]) -> set[str]:
    """The phones of ``phones`` that the do-not-call list blocks (by number or prefix)."""
    if not await sql.rows(conn, "SELECT 1 FROM dnc LIMIT 1"):
        return set()  # the usual case: no list, no probes
    options = sorted({prefix for phone in phones for prefix in prefixes(phone)})
    rows = await sql.rows(
        conn,
        "SELECT pattern FROM dnc WHERE pattern IN (SELECT value FROM json_each(?))",
        (json.dumps(options),),
    )
    patterns = {row[0] for row in rows}
    if not patterns:
        return set()
    return {phone for phone in phones if any(p in patterns for p in prefixes(phone))}


async def notify_new_leads(conn: Conn) -> None:
    """On PostgreSQL, wake every daemon LISTENing (``PgDatabase.listen``) when the caller's
    transaction commits (none if it rolls back). SQLite's daemon is poked through its wake
    socket by whoever added the leads."""
    if sql.engine_of(conn) == "postgresql":
        await sql.run(conn, f"NOTIFY {LEADS_CHANNEL}")


async def lock_intake(conn: Conn) -> None:
    """Intake's turn, held to the end of the caller's transaction, before its duplicate check.

    SQLite's write transaction is already one at a time. On PostgreSQL, where writers do not
    queue for one lock, it is an advisory lock: two intakes on two daemons then see each
    other's leads for the duplicate check, and never hand out the same id."""
    if sql.engine_of(conn) == "postgresql":
        await sql.run(conn, "SELECT pg_advisory_xact_lock(hashtext('dialerd.intake'))")


async def next_lead_id(conn: Conn) -> int:
    """The id the next lead gets; stable while the caller holds the write transaction
    (and intake's turn, ``lock_intake``, taken here too in case the caller has not)."""
    await lock_intake(conn)
    row = await sql.row(conn, "SELECT COALESCE(MAX(id), 0) + 1 FROM leads")
    assert row is not None  # an aggregate always answers one row
    return int(row[0])


async def insert_leads_many_in(
    conn: Conn, rows: list[tuple[int, NewLead, Placement]], now: float
) -> None:
    """Insert leads with the ids intake gave them (``next_lead_id`` onwards)."""
    if rows:
        await notify_new_leads(conn)
    await _insert_many(
        conn,
        f"leads (id, {_LEAD_COLUMNS})",
        21,
        [(lead_id, *_lead_row(lead, placement, now)) for lead_id, lead, placement in rows],
    )


async def insert_duplicates_many_in(
    conn: Conn, rows: list[tuple[NewLead, int, str]], now: float
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


async def _insert_many(conn: Conn, target: str, width: int, values: list[tuple[Any, ...]]) -> None:
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
        await sql.run(
            conn,
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
# PostgreSQL's aggregate to a JSON array is json_agg (NULL over no rows, as the view reads
# it), and a subquery in FROM needs its alias.
PHONE_HISTORY = Sql(
    sqlite="(SELECT json_group_array(created_at) FROM (SELECT created_at FROM attempts"
    " INDEXED BY attempts_phone_created WHERE attempts.phone = leads.phone"
    f" ORDER BY created_at DESC LIMIT {RECENT_DIALS:d})) AS recent_dials,"
    " (SELECT MAX(COALESCE(answered_at, created_at)) FROM attempts"
    " INDEXED BY attempts_phone_created WHERE attempts.phone = leads.phone"
    " AND outcome = 'abandoned') AS last_abandoned_at",
    postgresql="(SELECT json_agg(created_at ORDER BY created_at DESC) FROM (SELECT created_at"
    " FROM attempts WHERE attempts.phone = leads.phone"
    f" ORDER BY created_at DESC LIMIT {RECENT_DIALS:d}) AS recent) AS recent_dials,"
    " (SELECT MAX(COALESCE(answered_at, created_at)) FROM attempts"
    " WHERE attempts.phone = leads.phone AND outcome = 'abandoned') AS last_abandoned_at",
)
# A lead is on the do-not-call list when any prefix of its phone is: 15 primary-key probes.
ON_DNC = (
    "EXISTS (SELECT 1 FROM dnc WHERE pattern IN ("
    + ", ".join(f"substr(phone, 1, {n})" for n in range(2, 17))
    + ")) AS on_dnc"
)


def lead_view(row: Row) -> LeadView:
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
        # floats on both engines (PostgreSQL's JSON writes a whole second without ".0")
        recent_dials=tuple(float(at) for at in json.loads(row["recent_dials"] or "[]")),
        last_abandoned_at=row["last_abandoned_at"],
    )


async def lead_views(
    db: Store, where: str, args: tuple[Any, ...], order: str, limit: int
) -> list[LeadView]:
    """Leads as the policy sees them, for `plan` and `explain` (not the dial path)."""
    rows = await sql.rows(
        db.conn,
        Sql(
            *(
                f"SELECT {VIEW_COLUMNS}, {ON_DNC}, {history} FROM leads WHERE {where}"
                f" ORDER BY {order} LIMIT ?"
                for history in (PHONE_HISTORY.sqlite, PHONE_HISTORY.postgresql)
            )
        ),
        (*args, limit),
    )
    return [lead_view(row) for row in rows]


async def recent_duplicates(db: Store, limit: int) -> list[dict[str, Any]]:
    rows = await sql.rows(
        db.conn, "SELECT * FROM duplicates ORDER BY received_at DESC LIMIT ?", (limit,)
    )
    return [dict(row) for row in rows]


async def get_lead(db: Store, lead_id: int) -> dict[str, Any] | None:
    row = await sql.row(db.conn, "SELECT * FROM leads WHERE id = ?", (lead_id,))
    return dict(row) if row else None


async def list_leads(db: Store, limit: int = 100) -> list[dict[str, Any]]:
    rows = await sql.rows(db.conn, "SELECT * FROM leads ORDER BY id DESC LIMIT ?", (limit,))
    return [dict(row) for row in rows]


async def attempts_of(db: Store, lead_id: int | None = None) -> list[dict[str, Any]]:
    """Every attempt (of one lead, or all), oldest first."""
    where, args = ("", ()) if lead_id is None else (" WHERE lead_id = ?", (lead_id,))
    rows = await sql.rows(db.conn, f"SELECT * FROM attempts{where} ORDER BY id", args)
    return [dict(row) for row in rows]
