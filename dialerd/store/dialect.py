"""SQLite's SQL as PostgreSQL reads it: the store's statements are written once, in the
dialect of the embedded default, and translated mechanically for PostgreSQL.

Why one text and a translation rather than two texts everywhere: SQLite then runs exactly
the statements it ran before (nothing changes for the embedded store), the two engines
cannot drift apart statement by statement, and what differs is small and mechanical:
placeholders (``?`` and ``:name`` become ``$n``), SQLite's ``INDEXED BY`` hints (PostgreSQL's
planner picks the same partial indexes from the query text), ``json_each(param)`` (the
way a list travels as one parameter), a few functions (``_rewrite_calls``), ``temp.``
tables (``pg_temp.``), ``INSERT OR IGNORE`` (``ON CONFLICT DO NOTHING``), and the column
name ``user`` (a reserved word in PostgreSQL, quoted). Statements whose meaning differs (SQLite's scalar
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
    r"|(?<![\w:]):(?P<name>[A-Za-z_]\w*)"
    r"|(?<![\w\"])user(?![\w\"])"
    r"|\btemp\.",
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


class _Placeholders:
    """``?`` numbered in order, ``:name`` numbered by first use (the same name, the same $n)."""

    def __init__(self) -> None:
        self.positional = 0
        self.names: list[str] = []

    def __call__(self, token: str) -> str:
        if token == "?":
            self.positional += 1
            return f"${self.positional}"
        name = token[1:]
        if name not in self.names:
            self.names.append(name)
        return f"${self.names.index(name) + 1}"

    def replace(self, match: re.Match[str]) -> str:
        token = match.group(0)
        if token[0] in "'\"" or token == "::":
            return token
        if match.group("json") is not None:
            return f"json_array_elements_text({self(match.group('json'))}::json)"
        if token.lstrip()[:7].upper() == "INDEXED":
            return ""
        if token.lower() == "temp.":
            return "pg_temp."
        if token.lower() == "user":
            return '"user"'  # a column of the console's tables; a reserved word in PostgreSQL
        return self(token)


@functools.lru_cache(maxsize=1024)
def to_postgresql(sql: str) -> Translated:
    """``sql`` (SQLite's dialect, ``?`` or ``:name`` placeholders, not both) for PostgreSQL."""
    marks = _Placeholders()
    text = _rewrite_calls(_TOKENS.sub(marks.replace, sql))
    if _OR_IGNORE.match(text):
        text = _OR_IGNORE.sub("INSERT INTO", text, count=1) + " ON CONFLICT DO NOTHING"
    if marks.positional and marks.names:
        raise ValueError(f"a statement mixes ? and :name placeholders: {sql[:80]!r}")
    return Translated(text, tuple(marks.names) if marks.names else None)


_OR_IGNORE = re.compile(r"\s*INSERT\s+OR\s+IGNORE\s+INTO", re.IGNORECASE)
_CALLS = re.compile(r"\b(MIN|MAX|IFNULL|CAST|group_concat)\(", re.IGNORECASE)
_AS_INTEGER = re.compile(r"(.*)\s+AS\s+INTEGER\s*", re.IGNORECASE | re.DOTALL)


def _rewrite_calls(sql: str) -> str:
    """SQLite's functions whose PostgreSQL spelling differs, innermost first: scalar
    ``MIN(a, b)``/``MAX(a, b)`` → ``LEAST``/``GREATEST`` (the one-argument aggregates stay),
    ``IFNULL`` → ``COALESCE``, ``CAST(x AS INTEGER)`` → ``trunc(x)::bigint`` (SQLite truncates,
    PostgreSQL's cast rounds), ``group_concat(x)`` → ``string_agg``. Arguments are found by
    bracket depth (no quoted text in these statements holds a bracket)."""
    out, at = [], 0
    while (match := _CALLS.search(sql, at)) is not None:
        close = _closing(sql, match.end())
        inner = _rewrite_calls(sql[match.end() : close])
        out.append(sql[at : match.start()] + _call(match.group(1).upper(), inner, match.group(0)))
        at = close + 1
    return "".join(out) + sql[at:]


def _closing(sql: str, start: int) -> int:
    depth = 0
    for index in range(start, len(sql)):
        if sql[index] == "(":
            depth += 1
        elif sql[index] == ")":
            if depth == 0:
                return index
            depth -= 1
    raise ValueError(f"unbalanced brackets in {sql[:80]!r}")


def _call(name: str, inner: str, opening: str) -> str:
    if name in ("MIN", "MAX") and _has_top_level_comma(inner):
        return f"{'LEAST' if name == 'MIN' else 'GREATEST'}({inner})"
    if name == "IFNULL":
        return f"COALESCE({inner})"
    if name == "CAST" and (integer := _AS_INTEGER.fullmatch(inner)) is not None:
        return f"trunc({integer.group(1)})::bigint"
    if name == "GROUP_CONCAT" and not _has_top_level_comma(inner):
        return f"string_agg(CAST({inner} AS TEXT), ',')"
    return f"{opening}{inner})"


def _has_top_level_comma(text: str) -> bool:
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            return True
    return False
