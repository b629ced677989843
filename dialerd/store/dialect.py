"""SQLite's SQL as PostgreSQL reads it: the store's statements are written once, in the
dialect of the embedded default, and translated mechanically for PostgreSQL.

Why one text and a translation rather than two texts everywhere: SQLite then runs exactly
the statements it ran before (nothing changes for the embedded store), the two engines
cannot drift apart statement by statement, and what differs is small and mechanical:
placeholders (``?`` and ``:name`` become ``$n``), SQLite's ``INDEXED BY`` hints (PostgreSQL's
planner picks the same partial indexes from the query text), ``json_each(param)`` (the
way a list travels as one parameter), and SQLite's scalar ``MIN(a, b)``/``MAX(a, b)``
(PostgreSQL's ``LEAST``/``GREATEST``), and ``INSERT OR IGNORE`` (``ON CONFLICT DO NOTHING``). Statements whose meaning differs (SQLite's scalar
``MAX(a, b)``, sums of comparisons, a parameter PostgreSQL cannot type) are written twice,
side by side, as :class:`Sql`. Pure text work: no I/O, cached per statement.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Sql:
    """One statement in each engine's words, where a translation would not mean the same."""

    sqlite: str
    postgresql: str


Statement = str | Sql

# string literals and quoted names are copied as they are; casts (::) are PostgreSQL's own
_TOKENS = re.compile(
    r"""'(?:[^']|'')*'"""
    r'''|"[^"]*"'''
    r"|::"
    r"|\bjson_each\(\s*(?P<json>\?|:[A-Za-z_]\w*)\s*\)"
    r"|\s+INDEXED\s+BY\s+\w+"
    r"|\?"
    r"|(?<![\w:]):(?P<name>[A-Za-z_]\w*)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Translated:
    """A statement for asyncpg, and how to order its parameters (names, or None: positional)."""

    text: str
    names: tuple[str, ...] | None

    def args(self, params: Sequence[Any] | Mapping[str, Any]) -> list[Any]:
        if self.names is None:
            if isinstance(params, Mapping):
                raise TypeError("a statement with ? placeholders takes a sequence of values")
            return list(params)
        if not isinstance(params, Mapping):
            raise TypeError("a statement with :name placeholders takes a mapping of values")
        return [params[name] for name in self.names]


def text_for(statement: Statement, engine: str) -> str:
    if isinstance(statement, Sql):
        return statement.sqlite if engine == "sqlite" else statement.postgresql
    return statement


@functools.lru_cache(maxsize=1024)
def to_postgresql(sql: str) -> Translated:
    """``sql`` (SQLite's dialect, ``?`` or ``:name`` placeholders, not both) for PostgreSQL."""
    positional = 0
    names: list[str] = []

    def placeholder(token: str) -> str:
        nonlocal positional
        if token == "?":
            positional += 1
            return f"${positional}"
        name = token[1:]
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token[0] in "'\"" or token == "::":
            return token
        if match.group("json") is not None:
            return f"json_array_elements_text({placeholder(match.group('json'))}::json)"
        if token.lstrip()[:7].upper() == "INDEXED":
            return ""
        return placeholder(token)

    text = _scalar_min_max(_TOKENS.sub(replace, sql))
    if _OR_IGNORE.match(text):
        text = _OR_IGNORE.sub("INSERT INTO", text, count=1) + " ON CONFLICT DO NOTHING"
    if positional and names:
        raise ValueError(f"a statement mixes ? and :name placeholders: {sql[:80]!r}")
    return Translated(text, tuple(names) if names else None)


_OR_IGNORE = re.compile(r"\s*INSERT\s+OR\s+IGNORE\s+INTO", re.IGNORECASE)
_MIN_MAX = re.compile(r"\b(MIN|MAX)\(", re.IGNORECASE)


def _scalar_min_max(sql: str) -> str:
    """``MIN(a, b)`` → ``LEAST(a, b)``, ``MAX(a, b)`` → ``GREATEST(a, b)``; the aggregates
    (one argument) stay. Arguments are found by bracket depth (no quotes hold brackets here)."""
    out, start = [], 0
    for match in _MIN_MAX.finditer(sql):
        depth, comma = 0, False
        for char in sql[match.end() :]:
            if char == "(":
                depth += 1
            elif char == ")":
                if depth == 0:
                    break
                depth -= 1
            elif char == "," and depth == 0:
                comma = True
        if comma:
            name = "LEAST" if match.group(1).upper() == "MIN" else "GREATEST"
            out.append(sql[start : match.start()] + name + "(")
            start = match.end()
    return "".join(out) + sql[start:]
