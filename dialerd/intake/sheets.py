"""A shop's export read row by row: CSV (any common dialect and encoding) or XLSX.

Rows are streamed, never held: a million-row file costs one row of memory here. CSV is
read as exported by Excel and the usual shop systems: UTF-8 with or without a BOM, else
Windows-1251; comma, semicolon or tab, as the header line shows. XLSX is read with
openpyxl in read-only mode (the first sheet), which parses the sheet's XML as it goes.

Each row comes with its line number as a spreadsheet shows it (the header is line 1), so
a rejected row can be found in the file it came from.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import IO, Any, cast

Cell = str | int | float | datetime | date | time | bool | None

_SNIFF_BYTES = 64 * 1024
_DELIMITERS = (";", ",", "\t", "|")
_XLSX_MAGIC = b"PK\x03\x04"


class SheetError(ValueError):
    """The file cannot be read as a table (not CSV/XLSX, no header, unreadable)."""


@dataclass(frozen=True)
class Row:
    line: int
    cells: list[Cell]


class Sheet:
    """An open table: ``header`` (as written), ``rows()`` once, ``progress()`` as 0..1."""

    def __init__(
        self, kind: str, header: list[str], rows: Iterator[Row], progress: Any = None
    ) -> None:
        self.kind = kind
        self.header = header
        self._rows = rows
        self._progress = progress

    def rows(self) -> Iterator[Row]:
        return self._rows

    def progress(self) -> float | None:
        """How far through the file reading is (0..1), None when not known."""
        return None if self._progress is None else float(self._progress())


@contextlib.contextmanager
def open_sheet(source: IO[bytes], name: str = "") -> Iterator[Sheet]:
    """The table in ``source`` (a binary file, seekable): XLSX by its zip signature, else CSV."""
    start = source.read(len(_XLSX_MAGIC))
    source.seek(0)
    if start == _XLSX_MAGIC or name.lower().endswith((".xlsx", ".xlsm")):
        with _xlsx(source) as sheet:
            yield sheet
    else:
        with _csv(source) as sheet:
            yield sheet


@contextlib.contextmanager
def _csv(source: IO[bytes]) -> Iterator[Sheet]:
    head = source.read(_SNIFF_BYTES)
    source.seek(0, io.SEEK_END)
    size = source.tell() or 1
    source.seek(0)
    encoding = _encoding(head)
    first = head.decode(encoding, errors="replace").lstrip("\ufeff").splitlines()
    if not first or not first[0].strip():
        raise SheetError("the file is empty or its first line (the header) is blank")
    delimiter = max(_DELIMITERS, key=lambda d: first[0].count(d))
    text = io.TextIOWrapper(source, encoding=encoding, newline="", errors="strict")
    try:
        reader = csv.reader(text, delimiter=delimiter)
        try:
            header = next(reader)
        except (StopIteration, UnicodeDecodeError, csv.Error) as exc:
            raise SheetError(f"cannot read the header line: {exc}") from None

        def rows() -> Iterator[Row]:
            line = reader.line_num
            try:
                for cells in reader:
                    start, line = line + 1, reader.line_num
                    if "".join(cells).strip():  # some cell has more than blanks
                        yield Row(start, cast(list[Cell], cells))  # a new list per row
            except (UnicodeDecodeError, csv.Error) as exc:
                raise SheetError(f"line {line + 1}: cannot read the file: {exc}") from None

        def progress() -> float:
            try:
                return min(1.0, source.tell() / size)
            except (OSError, ValueError):
                return 0.0

        kind = f"csv ({encoding}, '{delimiter}')"
        yield Sheet(kind, [h.lstrip("\ufeff").strip() for h in header], rows(), progress)
    finally:
        text.detach()  # the caller's file stays the caller's to close


def _encoding(head: bytes) -> str:
    """UTF-8 (BOM or not) when the first 64 KiB decode as such, else Windows-1251."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "cp1251"
    return "utf-8"


@contextlib.contextmanager
def _xlsx(source: IO[bytes]) -> Iterator[Sheet]:
    import openpyxl  # only when a workbook comes: it costs 0.2 s to import

    try:
        book = openpyxl.load_workbook(source, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise SheetError(f"not a readable XLSX workbook: {exc}") from None
    try:
        sheet = book.worksheets[0]
        total = sheet.max_row or 0
        values = sheet.iter_rows(values_only=True)
        header_row = next(values, None)
        if header_row is None or not any(c is not None for c in header_row):
            raise SheetError("the first sheet is empty or its first row (the header) is blank")
        header = ["" if c is None else str(c).strip() for c in header_row]
        done = [1]

        def rows() -> Iterator[Row]:
            for line, cells in enumerate(values, start=2):
                done[0] = line
                if any(c is not None and str(c).strip() for c in cells):
                    yield Row(line, list(cells))

        def progress() -> float:
            return min(1.0, done[0] / total) if total else 0.0

        yield Sheet("xlsx", header, rows(), progress if total else None)
    finally:
        book.close()
