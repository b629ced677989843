"""Console sessions in the store: only token hashes kept, they outlive a restart, they end."""

import hashlib
import sqlite3

import pytest

from dialerd.store import console_sessions as sessions
from dialerd.store.console_sessions import LOGIN_KEEP_S, Pruned, Session
from dialerd.store.db import Database, open_store

NOW = 1_800_000_000.0
HOUR = 3600.0


def rows(db, sql, args=()):
    with sqlite3.connect(db.path) as conn:
        return conn.execute(sql, args).fetchall()


async def test_a_session_is_found_by_its_token_and_the_store_keeps_only_its_hash(db):
    new = await sessions.create(db, "anna", "operator", NOW, 8 * HOUR)
    assert new.expires_at == NOW + 8 * HOUR and len(new.token) >= 43 and new.csrf != new.token
    assert await sessions.lookup(db, new.token, NOW + 1) == Session(
        "anna", "operator", new.csrf, NOW, NOW + 8 * HOUR
    )
    ((stored,),) = rows(db, "SELECT token_hash FROM console_sessions")
    assert stored == hashlib.sha256(new.token.encode()).hexdigest()
    files = b"".join(p.read_bytes() for p in db.path.parent.glob(db.path.name + "*"))
    assert new.csrf.encode() in files  # the row is on disk (in the WAL, most likely) ...
    assert new.token.encode() not in files  # ... and the token is not
    assert await sessions.lookup(db, new.token + "x", NOW + 1) is None
    assert await sessions.lookup(db, "", NOW + 1) is None


async def test_tokens_are_new_each_time(db):
    made = [await sessions.create(db, "anna", "operator", NOW, HOUR) for _ in range(20)]
    assert len({m.token for m in made} | {m.csrf for m in made}) == 40


async def test_an_expired_session_is_not_found(db):
    new = await sessions.create(db, "vera", "supervisor", NOW, HOUR)
    assert await sessions.lookup(db, new.token, NOW + HOUR - 0.001) is not None
    assert await sessions.lookup(db, new.token, NOW + HOUR) is None


async def test_a_session_outlives_a_restart_and_is_read_on_a_reader_connection(tmp_path):
    path = tmp_path / "store.sqlite3"
    async with open_store(path) as db:
        new = await sessions.create(db, "anna", "operator", NOW, HOUR)
    async with open_store(path) as db, await Database.open(path) as reader:
        found = await sessions.lookup(reader.conn, new.token, NOW + 60)
        assert found is not None and found.user == "anna"


async def test_signing_out_ends_one_session_and_a_user_can_be_signed_out_everywhere(db):
    first = await sessions.create(db, "anna", "operator", NOW, HOUR)
    second = await sessions.create(db, "anna", "operator", NOW, HOUR)
    boris = await sessions.create(db, "boris", "operator", NOW, HOUR)
    assert await sessions.end(db, first.token) is True
    assert await sessions.end(db, first.token) is False
    assert await sessions.lookup(db, first.token, NOW) is None
    assert await sessions.lookup(db, second.token, NOW) is not None
    assert await sessions.end_all_of(db, "anna") == 1
    assert await sessions.lookup(db, second.token, NOW) is None
    assert await sessions.lookup(db, boris.token, NOW) is not None
    assert await sessions.end_all_of(db, "nobody") == 0


async def test_prune_drops_expired_sessions_and_old_sign_ins(db):
    short = await sessions.create(db, "anna", "operator", NOW, HOUR)
    long = await sessions.create(db, "boris", "operator", NOW, 10 * HOUR)
    await sessions.record_login(db, "anna", "10.0.0.1", True, NOW)
    later = NOW + LOGIN_KEEP_S + HOUR
    await sessions.record_login(db, "anna", "10.0.0.1", True, NOW + 2 * HOUR)
    with sqlite3.connect(db.path) as conn:  # the clock jumps: nothing pruned them yet
        conn.execute(
            "UPDATE console_sessions SET expires_at = ? WHERE user = 'boris'", (later + 1,)
        )
    assert await sessions.prune(db, later) == Pruned(sessions=1, logins=1)
    assert await sessions.lookup(db, short.token, NOW) is None
    assert await sessions.lookup(db, long.token, later) is not None
    assert rows(db, "SELECT at FROM console_logins") == [(NOW + 2 * HOUR,)]
    assert await sessions.prune(db, later) == Pruned(0, 0)


async def test_sign_in_attempts_are_recorded_cut_short_and_kept_ninety_days(db):
    await sessions.record_login(db, "anna", "10.0.0.1", False, NOW)
    await sessions.record_login(db, "x" * 10_000, "2001:db8::1", False, NOW + 1)
    await sessions.record_login(db, "anna", "10.0.0.1", True, NOW + LOGIN_KEEP_S)
    assert rows(db, "SELECT at, user, address, ok FROM console_logins ORDER BY id") == [
        (NOW, "anna", "10.0.0.1", 0),  # exactly 90 days old: still kept
        (NOW + 1, "x" * 100, "2001:db8::1", 0),
        (NOW + LOGIN_KEEP_S, "anna", "10.0.0.1", 1),
    ]
    await sessions.record_login(db, "boris", "10.0.0.2", True, NOW + LOGIN_KEEP_S + 0.5)
    assert rows(db, "SELECT at FROM console_logins ORDER BY id") == [
        (NOW + 1,),
        (NOW + LOGIN_KEEP_S,),
        (NOW + LOGIN_KEEP_S + 0.5,),
    ]


async def test_only_known_roles_and_lasting_sessions(db):
    with pytest.raises(ValueError, match="a console role is one of"):
        await sessions.create(db, "anna", "admin", NOW, HOUR)
    with pytest.raises(ValueError, match="must last some time"):
        await sessions.create(db, "anna", "operator", NOW, 0)
    with sqlite3.connect(db.path) as conn, pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO console_sessions VALUES ('h', 'anna', 'admin', 'c', 0, 1)")
    assert rows(db, "SELECT COUNT(*) FROM console_sessions") == [(0,)]
