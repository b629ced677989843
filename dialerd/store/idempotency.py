"""Answers kept for ``Idempotency-Key`` retries, written in the transaction that made them.

A client that lost the answer to a POST retries with the same key and gets the
first answer back, never a second lead; the key is scoped to the caller's token.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from dialerd.store import sql
from dialerd.store.sql import Conn


@dataclass(frozen=True)
class Key:
    token_name: str
    key: str
    fingerprint: str  # of what was asked: the same key with another body is refused


@dataclass(frozen=True)
class Stored:
    fingerprint: str
    status: int
    body: dict[str, Any]


def fingerprint(method: str, path: str, body: Any) -> str:
    """sha256 of the request as parsed: key order and whitespace do not matter."""
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


async def lookup_many(conn: Conn, keys: list[Key]) -> dict[tuple[str, str], Stored]:
    found: dict[tuple[str, str], Stored] = {}
    for key in keys:
        rows = list(
            await sql.rows(
                conn,
                "SELECT fingerprint, status, body FROM api_idempotency"
                " WHERE token_name = ? AND key = ?",
                (key.token_name, key.key),
            )
        )
        if rows:
            found[(key.token_name, key.key)] = Stored(
                rows[0][0], rows[0][1], json.loads(rows[0][2])
            )
    return found


async def save_many(conn: Conn, answers: list[tuple[Key, int, dict[str, Any]]], now: float) -> None:
    if answers:
        await sql.run_many(
            conn,
            "INSERT INTO api_idempotency (token_name, key, fingerprint, status, body, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [
                (key.token_name, key.key, key.fingerprint, status, json.dumps(body), now)
                for key, status, body in answers
            ],
        )


async def prune(conn: Conn, older_than: float) -> int:
    changed = await sql.run(conn, "DELETE FROM api_idempotency WHERE created_at < ?", (older_than,))
    return changed
