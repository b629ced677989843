"""Multi-row inserts of any count: every row stored once, with its own values, from a
small fixed set of statement sizes (so sqlite3's statement cache stays small)."""

import pytest

from dialerd.policy.phones import Phone
from dialerd.store import sql
from dialerd.store.leads import NewLead, Placement, _chunk_sizes, insert_leads_many_in

pytestmark = pytest.mark.engines("sqlite", "postgresql")


def test_chunk_sizes_cover_every_row_from_eleven_sizes():
    seen: set[int] = set()
    for count in range(0, 5000, 7):
        sizes = _chunk_sizes(count)
        assert sum(sizes) == count
        seen |= set(sizes)
    assert seen <= {1000} | {1 << bit for bit in range(10)}


async def test_odd_counts_store_each_lead_with_its_values(db):
    next_id = 1
    for count in (1, 37, 1999):
        rows = [
            (next_id + n, NewLead(Phone(f"+7916{next_id + n:07d}"), order_id=f"O-{next_id + n}"),
             Placement())
            for n in range(count)
        ]  # fmt: skip
        async with db.transaction() as conn:
            await insert_leads_many_in(conn, rows, 1.8e9)
        next_id += count
    stored = await sql.rows(db.conn, "SELECT id, phone, order_id FROM leads ORDER BY id")
    assert len(stored) == 1 + 37 + 1999
    assert all(
        (phone, order) == (f"+7916{lead_id:07d}", f"O-{lead_id}")
        for lead_id, phone, order in stored
    )
