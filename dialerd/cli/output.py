"""One way to print rows, for every command that prints them (issue 15).

``--format table|json|csv``: a table for people, in the centre's time zone, that fits 80
columns (phone numbers and times never cut, long text ends in an ellipsis); JSON with real
UTF-8 and instants as ISO 8601 with their offset (``formats.utc_iso``, as the API spells
them); CSV with the same columns as the table and the same spelling of instants as JSON.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from rich import box
from rich.console import Console
from rich.table import Table

from dialerd.formats import utc_iso

FORMATS = ("table", "json", "csv")
Kind = Literal["text", "time", "fixed", "long", "number"]


def add_format(parser: argparse.ArgumentParser, choices: Sequence[str] = FORMATS) -> None:
    parser.add_argument(
        "--format",
        choices=choices,
        default=choices[0],
        help=f"{', '.join(choices)} (default {choices[0]}); JSON and CSV give times in ISO 8601",
    )


@dataclass(frozen=True)
class Column:
    """One column: ``key`` in each row, its heading, and how to show it: ``time`` (an epoch,
    shown in the centre's zone), ``fixed`` (never cut: phones, ids), ``long`` (one line,
    cut with an ellipsis in a table), ``number`` (right-aligned)."""

    key: str
    title: str
    kind: Kind = "text"


def is_instant_key(key: str) -> bool:
    return key.endswith("_at") or key in ("at", "since")


def jsonable(value: Any, key: str = "") -> Any:
    """Epoch instants (``*_at``, ``since``) as ISO 8601 with offset, recursively."""
    if isinstance(value, Mapping):
        return {k: jsonable(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v, key) for v in value]
    if is_instant_key(key) and isinstance(value, int | float) and not isinstance(value, bool):
        return utc_iso(float(value))
    return value


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(jsonable(data), indent=2, ensure_ascii=False) + "\n")


def local_time(epoch: float | None, tz: ZoneInfo) -> str:
    """A table's spelling of an instant: the centre's wall clock, to the minute."""
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, tz).strftime("%Y-%m-%d %H:%M")


GAP = 2  # between two columns of the house style: the collapsed padding and a separator
TEXT_MAX = 16  # a short text column (state, tier) wraps past this


def table(
    columns: Sequence[Column],
    title: str | None = None,
    cells: Sequence[Sequence[str]] = (),
    width: int | None = None,
) -> Table:
    """A table in the house style (no side borders, so more room for the data) holding
    ``cells`` within ``width`` columns: phones, ids and times get the width they need,
    short texts up to 16 columns (then they wrap), and a long text the rest, on one line
    wrapped to two lines at most, the second ending in an ellipsis if it goes on."""
    width = width or (shutil.get_terminal_size().columns if sys.stdout.isatty() else 80)
    widest = [
        max([len(column.title), *(len(row[n]) for row in cells)])
        for n, column in enumerate(columns)
    ]
    sizes = [
        min(w, max(len(c.title), TEXT_MAX)) if c.kind == "text" else w
        for c, w in zip(columns, widest, strict=True)
    ]
    over = sum(sizes) + GAP * (len(columns) - 1) - width
    for n in sorted(range(len(columns)), key=lambda n: -sizes[n]):  # wrap short texts more
        if over <= 0 or columns[n].kind != "text":
            continue
        words = [len(word) for row in cells for word in row[n].split()]
        floor = max([len(columns[n].title), 6, *words])
        cut = min(over, sizes[n] - floor)
        if cut > 0:
            sizes[n] -= cut
            over -= cut
    longs = [n for n, column in enumerate(columns) if column.kind == "long"]
    fixed = sum(size for n, size in enumerate(sizes) if n not in longs)
    room = width - fixed - GAP * (len(columns) - 1)
    for left, n in enumerate(sorted(longs, key=lambda n: widest[n])):  # narrowest first
        sizes[n] = max(len(columns[n].title), min(widest[n], room // (len(longs) - left)))
        room -= sizes[n]
    grid = Table(
        box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True, title=title
    )
    for column, size in zip(columns, sizes, strict=True):
        grid.add_column(
            column.title,
            width=size,
            no_wrap=column.kind != "text",
            overflow="fold" if column.kind == "text" else "ellipsis",
            justify="right" if column.kind == "number" else "left",
        )
    for row in cells:
        grid.add_row(
            *(
                _cut(value, size) if column.kind == "long" else value
                for value, column, size in zip(row, columns, sizes, strict=True)
            )
        )
    return grid


def _cut(text: str, size: int, lines: int = 2) -> str:
    """At most ``lines`` lines of ``size``; what does not fit ends in an ellipsis."""
    wrapped = textwrap.wrap(" ".join(text.split()), size, break_long_words=True) or [""]
    if len(wrapped) > lines:
        last = wrapped[lines - 1]
        wrapped = [*wrapped[: lines - 1], (last[: size - 1] if len(last) >= size else last) + "…"]
    return "\n".join(wrapped)


def cell(value: Any, column: Column, tz: ZoneInfo) -> str:
    if value is None:
        return ""
    if column.kind == "time":
        return local_time(float(value), tz) if isinstance(value, int | float) else str(value)
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def console() -> Console:
    """Standard output; 80 columns when it is not a terminal (a pipe, a file)."""
    return Console(width=None if sys.stdout.isatty() else 80, soft_wrap=False)


def print_rows(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[Column],
    fmt: str,
    tz: ZoneInfo,
    *,
    title: str | None = None,
    json_rows: list[Any] | None = None,
) -> None:
    """Rows in the asked format. JSON carries ``json_rows`` when given (every field, nested
    ones too), else the rows whole; CSV and the table carry the columns."""
    rows = list(rows)
    if fmt == "json":
        print_json(rows if json_rows is None else json_rows)
        return
    if fmt == "csv":
        write_csv(rows, columns)
        return
    cells = [[cell(row.get(column.key), column, tz) for column in columns] for row in rows]
    console().print(table(columns, title, cells))


def write_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[Column]) -> None:
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow([column.key for column in columns])
    for row in rows:
        out.writerow([csv_cell(row.get(column.key), column) for column in columns])


def csv_cell(value: Any, column: Column) -> str:
    if value is None:
        return ""
    if (column.kind == "time" or is_instant_key(column.key)) and isinstance(value, int | float):
        return utc_iso(float(value))
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) < 1e6 else f"{value:.0f}"
    return str(value)
