"""A shop's columns as lead fields: the header mapping, and each row's cells as a lead.

The columns are mapped from the header names a shop's export has, in English or Russian
(``Телефон``, ``ФИО``, ``Номер заказа``, ``Сумма``, ...); ``--map`` (or the API's
``map``) overrides them. Cells are read as people and spreadsheets write them (``1 299,90``,
``07.12.2026 10:05``, a phone as a number cell) into the ``LeadInput`` the API's intake
checks: nothing here decides whether a lead is valid.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from json.encoder import encode_basestring_ascii
from typing import Any
from zoneinfo import ZoneInfo

from dialerd.intake.leads import LeadInput, LeadRejected
from dialerd.intake.sheets import Cell
from dialerd.store.leads import JsonText

FIELDS = (
    "phone", "name", "order_id", "amount", "comment", "items", "callback_at",
    "timezone", "region", "campaign",
)  # fmt: skip
IGNORE = "-"
METADATA = "metadata."

_HEADERS: dict[str, tuple[str, ...]] = {
    "phone": (
        "phone", "phone number", "telephone", "tel", "mobile", "customer phone", "телефон",
        "тел", "номер телефона", "мобильный", "мобильный телефон", "телефон клиента",
        "телефон покупателя", "контактный телефон", "телефон получателя",
    ),
    "name": (
        "name", "customer", "customer name", "full name", "client", "имя", "фио", "клиент",
        "покупатель", "имя клиента", "имя покупателя", "получатель", "контактное лицо",
    ),
    "order_id": (
        "order", "order id", "order number", "order no", "заказ", "заказа", "номер заказа",
        "id заказа", "заказ номер",
    ),
    "amount": (
        "amount", "total", "sum", "order total", "order amount", "сумма", "сумма заказа",
        "итого", "стоимость", "к оплате", "сумма руб",
    ),
    "comment": ("comment", "comments", "note", "notes", "комментарий", "примечание",
                "комментарий к заказу", "комментарий покупателя"),
    "items": ("items", "products", "goods", "товары", "товар", "состав заказа", "позиции"),
    "callback_at": (
        "callback", "callback at", "call back", "перезвонить", "время звонка", "перезвон",
        "когда позвонить", "время перезвона",
    ),
    "timezone": ("timezone", "time zone", "tz", "часовой пояс"),
    "region": ("region", "delivery region", "регион", "регион доставки", "субъект рф"),
    "campaign": ("campaign", "кампания"),
}  # fmt: skip
_WORDS = re.compile(r"[^\w]+")
_SPACES = re.compile(r"[\s\u00a0\u202f]")


def header_key(name: str) -> str:
    """A header as looked up: case, ``ё``, punctuation and ``№``/``#`` do not matter."""
    return " ".join(_WORDS.sub(" ", name.lower().replace("ё", "е")).split())


_BY_HEADER = {header_key(h): f for f, names in _HEADERS.items() for h in names}


class ImportRefused(ValueError):
    """The file as a whole cannot be imported (no phone column, a bad --map, unreadable)."""


@dataclass(frozen=True)
class ColumnMap:
    """Which column feeds which field (``metadata.KEY`` keeps a column in the lead's metadata)."""

    header: tuple[str, ...]
    fields: Mapping[int, str]
    ignored: tuple[str, ...]

    def described(self) -> dict[str, str]:
        return {self.header[i]: f for i, f in sorted(self.fields.items())}


def parse_map(items: Sequence[str]) -> dict[str, str]:
    """``["Тел=phone", "Регион=-"]`` -> {column: field}; ImportRefused naming a bad item."""
    found: dict[str, str] = {}
    for item in items:
        column, sep, target = item.rpartition("=")
        column, target = column.strip(), target.strip()
        if not sep or not column:
            raise ImportRefused(f"--map {item!r}: use COLUMN=FIELD")
        if not (target in FIELDS or target == IGNORE or _metadata_key(target)):
            known = ", ".join(FIELDS)
            raise ImportRefused(
                f"--map {item!r}: {target!r} is not a lead field ({known}, metadata.KEY, or -)"
            )
        found[column] = target
    return found


def _metadata_key(target: str) -> bool:
    return target.startswith(METADATA) and 0 < len(target) - len(METADATA) <= 64


def map_columns(header: Sequence[str], overrides: Mapping[str, str] | None = None) -> ColumnMap:
    """The header's columns mapped to fields: ``overrides`` first, then by header name."""
    overrides = dict(overrides or {})
    by_key = {header_key(h): h for h in header}
    for column in overrides:
        if column not in header and header_key(column) not in by_key:
            raise ImportRefused(
                f"--map: no column {column!r} in the file (columns: {', '.join(header)})"
            )
    wanted = {by_key.get(header_key(c), c): f for c, f in overrides.items()}
    fields: dict[int, str] = {}
    ignored: list[str] = []
    taken: set[str] = set()
    for index, name in enumerate(header):
        target = wanted.get(name) or _BY_HEADER.get(header_key(name))
        if target is None or target == IGNORE or (target in taken and target in FIELDS):
            if name:  # a column without a header is not worth naming
                ignored.append(name)
            continue
        fields[index] = target
        taken.add(target)
    if "phone" not in taken:
        raise ImportRefused(
            f"no phone column among {', '.join(repr(h) for h in header)}"
            " (name it with --map COLUMN=phone)"
        )
    return ColumnMap(tuple(header), fields, tuple(ignored))


def lead_input(
    cells: Sequence[Cell], columns: ColumnMap, tz: ZoneInfo, limit: int, campaign: str | None
) -> LeadInput:
    values: dict[str, Any] = {}
    metadata: dict[str, str] = {}
    for index, target in columns.fields.items():
        cell = cells[index] if index < len(cells) else None
        if cell is None or (isinstance(cell, str) and not cell.strip()):
            continue
        if target.startswith(METADATA):
            metadata[target[len(METADATA) :]] = _text(cell)
        else:
            values[target] = cell
    phone = values.get("phone")
    if phone is None:
        raise LeadRejected("phone", "is empty")
    return LeadInput(
        phone=_phone(phone),
        order_id=_opt_text(values.get("order_id")),
        name=_opt_text(values.get("name")),
        amount=_amount(values.get("amount")),
        campaign=_opt_text(values.get("campaign")) or campaign,
        comment=_opt_text(values.get("comment")),
        callback_at=_when(values.get("callback_at"), tz),
        source="import",
        items=_items(values.get("items"), limit),
        metadata=_json_text("metadata", metadata, limit) if metadata else None,
        timezone=_opt_text(values.get("timezone")),
        region=_opt_text(values.get("region")),
    )


def _text(cell: Cell) -> str:
    if type(cell) is str:  # a CSV's every cell: the one check it needs
        return cell.strip()
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, datetime):
        return cell.isoformat(sep=" ")
    return str(cell).strip()


def _opt_text(cell: Cell) -> str | None:
    return None if cell is None else _text(cell)


def _phone(cell: Cell) -> str:
    """A phone cell; a spreadsheet may hold it as a number (79161234567 or 7.9161234567E10)."""
    if isinstance(cell, int | float) and not isinstance(cell, bool):
        if isinstance(cell, float) and not cell.is_integer():
            raise LeadRejected("phone", f"{cell!r} is a fraction, not a phone number")
        return str(int(cell))
    return _text(cell)


def _amount(cell: Cell) -> str | None:
    """``1 299,90`` and ``1299.90`` alike: spaces (also non-breaking) and a decimal comma."""
    if cell is None:
        return None
    if isinstance(cell, int | float) and not isinstance(cell, bool):
        return repr(cell) if isinstance(cell, float) else str(cell)
    text = _SPACES.sub("", str(cell))
    if "," in text and "." not in text:
        text = text.replace(",", ".")
    return text


def _when(cell: Cell, tz: ZoneInfo) -> float | None:
    """ISO 8601 or ``DD.MM.YYYY HH:MM``; a time without a zone is the centre's time."""
    if cell is None:
        return None
    if isinstance(cell, datetime):
        when = cell
    elif isinstance(cell, date):
        raise LeadRejected("callback_at", f"{cell.isoformat()} has no time of day")
    else:
        text = str(cell).strip()
        when = _parse_when(text)
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz)
    try:
        return when.timestamp()
    except (OverflowError, ValueError):
        raise LeadRejected("callback_at", "is out of range") from None


def _parse_when(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    for pattern in ("%d.%m.%Y %H:%M", "%d.%m.%Y %H:%M:%S"):
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    raise LeadRejected(
        "callback_at", f"{text[:40]!r} is not a time such as 2026-12-07T10:05 or 07.12.2026 10:05"
    )


def _items(cell: Cell, limit: int) -> JsonText | None:
    """A JSON array as is; any other text as a one-item list (the card shows it)."""
    if cell is None:
        return None
    text = _text(cell)
    if text.startswith("["):
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if isinstance(value, list):
            return _json_text("items", value, limit)
    # json.dumps([text]), without building an encoder for every row of a file
    return _limited("items", f"[{encode_basestring_ascii(text)}]", limit)


def _json_text(name: str, value: Any, limit: int) -> JsonText:
    return _limited(name, json.dumps(value), limit)


def _limited(name: str, text: str, limit: int) -> JsonText:
    if len(text) > limit:
        raise LeadRejected(name, f"is larger than {limit} bytes of JSON (api.max_json_field_bytes)")
    return JsonText(text)
