"""Inbound queue calls of several PBXs: a call is its PBX and its Uniqueid (migration 0019).

Two Asterisk servers without distinct systemnames number their calls alike; before 0019 the
second PBX's caller was silently dropped as already recorded. A store made before 0019 keeps
its calls (with no PBX named) and records the next ones per PBX."""

from __future__ import annotations

import shutil

from dialerd.store import inbound_calls, sql
from dialerd.store.db import MIGRATIONS_DIR, Database, migrate, migration_files

NOW = 1_760_000_000.0


async def test_a_store_from_before_keeps_its_calls_and_tells_two_pbxs_calls_apart(tmp_path):
    before = tmp_path / "before"
    before.mkdir()
    for version, path in migration_files(MIGRATIONS_DIR):
        if version < 19:
            shutil.copy(path, before / path.name)
    db = await Database.open(tmp_path / "s.sqlite3", create=True)
    try:
        await migrate(db, before)
        async with db.transaction() as conn:
            await sql.run(
                conn,
                "INSERT INTO inbound_calls (uniqueid, queue, caller, joined_at, outcome, operator)"
                " VALUES ('1760000000.1', 'sales', '+74951112233', ?, 'answered', 'anna')",
                (NOW,),
            )
        assert (await migrate(db))[0] == "0019_inbound_pbx.sql"  # and any later ones
        async with db.transaction() as conn:
            for pbx, caller in (("east", "+74951110001"), ("west", "+74951110002")):
                await inbound_calls.joined(conn, pbx, "1760000000.2", "", "sales", caller, NOW + 5)
            await inbound_calls.answered(conn, "west", "1760000000.2", NOW + 9, 4.0, "boris")
            # the same PBX's Uniqueid again (a frame seen twice): still one call
            await inbound_calls.joined(conn, "east", "1760000000.2", "", "sales", "", NOW + 6)
        rows = await sql.rows(
            db.conn,
            "SELECT pbx, uniqueid, caller, operator, outcome FROM inbound_calls ORDER BY id",
        )
    finally:
        await db.close()
    assert [tuple(r) for r in rows] == [
        ("", "1760000000.1", "+74951112233", "anna", "answered"),
        ("east", "1760000000.2", "+74951110001", None, None),
        ("west", "1760000000.2", "+74951110002", "boris", "answered"),
    ]
