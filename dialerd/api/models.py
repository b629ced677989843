"""Request and response bodies: the API's contract, as pydantic models (and so /openapi.json).

Types are strict (a phone is a JSON string, an amount a number or a decimal string)
and unknown fields are refused, so a client's typo is an error and not a silently
dropped field. Limits mirror intake's, so the schema says what the server accepts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
)

from dialerd.domain import Result
from dialerd.intake.leads import MAX_TEXT

MAX_ORDER_ID = 64
MAX_COMMENT = 2000
MAX_NOTE = 2000
MAX_PHONE = 40
MAX_ISO_TIME = 40


def _amount_type(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError('must be a number or a decimal string such as "1299.90"')
    return value


Amount = Annotated[StrictStr | StrictInt | StrictFloat, BeforeValidator(_amount_type)]
IsoTime = Annotated[
    StrictStr,
    Field(
        max_length=MAX_ISO_TIME,
        description="ISO 8601, e.g. 2026-11-24T15:30:00+03:00; without a zone: the centre's zone",
    ),
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LeadIn(_Body):
    """One lead from the shop's website or CRM."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "phone": "+7 916 123-45-67",
                    "order_id": "A-1001",
                    "name": "Anna",
                    "amount": "1299.90",
                    "items": [{"sku": "KB-1", "qty": 1}],
                    "metadata": {"utm_source": "ads"},
                }
            ]
        },
    )

    phone: StrictStr = Field(
        max_length=MAX_PHONE,
        json_schema_extra={"pattern": r"^[0-9+()\-. ]+$"},  # intake checks it, with its reason
        description="digits, spaces, '+', '-', '.', '(' and ')'; stored as E.164",
    )
    order_id: StrictStr | None = Field(None, max_length=MAX_ORDER_ID)
    name: StrictStr | None = Field(None, max_length=MAX_TEXT)
    campaign: StrictStr | None = Field(
        None, max_length=64, description="a configured campaign; default: the default campaign"
    )
    amount: Amount | None = Field(None, description='order amount, e.g. 1299.90 or "1299.90"')
    items: list[Any] | None = Field(None, max_length=1000, description="the order's items, kept")
    comment: StrictStr | None = Field(None, max_length=MAX_COMMENT)
    callback_at: IsoTime | None = Field(None, description="the customer's requested callback time")
    metadata: dict[str, Any] | None = Field(None, description="free-form JSON object, kept")
    timezone: StrictStr | None = Field(
        None,
        max_length=64,
        description="the customer's IANA time zone, e.g. Europe/Kaliningrad: "
        "local hours are read in it (it wins over region and the number)",
    )
    region: StrictStr | None = Field(
        None,
        max_length=100,
        description="the delivery region: an ISO 3166-2 code (RU-KGD) or a Russian region's "
        "name; its zone is used when no timezone is sent",
    )


class LeadCreated(BaseModel):
    lead_id: int
    state: Literal["waiting", "closed"] = Field(
        description="closed: stored but never dialed (close_reason says why, e.g. dnc)"
    )
    close_reason: str | None = None


class ImportOut(BaseModel):
    """What ``POST /leads/import`` (and ``dialerd leads import --format json``) did."""

    dry_run: bool
    rows: int = Field(description="data rows read (blank rows skipped)")
    accepted: int = Field(description="stored, including those closed at once (closed_dnc)")
    closed_dnc: int = Field(description="accepted but on the do-not-call list: never dialed")
    duplicates: int
    rejected: int
    columns: dict[str, str] = Field(description="the file's column -> the lead field it fed")
    ignored_columns: list[str]
    duplicate_rows: list[dict[str, Any]] = Field(
        description="{line, duplicate_of (lead id), duplicate_of_line (dry run), rule}"
    )
    rejected_rows: list[dict[str, Any]] = Field(description="{line, field, reason}")
    listed_at_most: int = Field(description="rows listed per kind; the counts are complete")
    rejects_file: str | None = Field(description="the CLI's file of rows not imported")


class ErrorDetail(BaseModel):
    code: str = Field(description="stable, e.g. invalid, duplicate, malformed_json, unauthorized")
    message: str
    field: str | None = Field(description="the field to blame, e.g. phone or leads[3].phone")


class ErrorOut(BaseModel):
    error: ErrorDetail


class DuplicateOut(ErrorOut):
    duplicate_of: int = Field(description="the earlier lead this one duplicates")
    rule: str = Field(description="phone_and_order or phone_window")


class BatchIn(_Body):
    leads: list[LeadIn] = Field(description="up to api.max_batch leads (default 1000)")


class BatchItem(BaseModel):
    index: int
    status: int = Field(description="201 accepted, 409 duplicate, 422 rejected")
    lead_id: int | None = None
    state: str | None = None
    close_reason: str | None = None
    duplicate_of: int | None = None
    rule: str | None = None
    error: ErrorDetail | None = None


class BatchOut(BaseModel):
    results: list[BatchItem]
    accepted: int
    duplicates: int
    rejected: int


class AttemptOut(BaseModel):
    number: int
    call_id: str
    status: str
    outcome: str | None
    created_at: str
    answered_at: str | None
    ended_at: str | None
    ring_s: float | None
    talk_s: float | None
    hangup_cause: int | None
    operator: str | None
    has_recording: bool
    note: str | None
    # answering-machine detection (a campaign's amd.enabled): Asterisk's AMDSTATUS, AMDCAUSE
    amd_status: str | None = None
    amd_cause: str | None = None


class DispositionOut(BaseModel):
    disposition_id: int
    lead_id: int
    call_id: str
    result: Result
    amount: str | None
    at: str | None
    note: str | None
    flags: list[str]
    operator: str | None
    created_at: str
    wrapup_s: float | None


class LeadOut(BaseModel):
    lead_id: int
    phone: str
    campaign: str
    order_id: str | None
    name: str | None
    amount: str | None
    items: list[Any] | None
    comment: str | None
    metadata: dict[str, Any] | None
    source: str
    received_at: str
    state: str
    close_reason: str | None
    closed_at: str | None
    due_at: str
    callback_at: str | None
    deadline_at: str | None
    timezone: str | None = Field(None, description="the lead's own zone, as sent")
    region: str | None = Field(None, description="the delivery region (ISO 3166-2 when known)")
    attempts: list[AttemptOut]
    dispositions: list[DispositionOut]


class ExplainOut(BaseModel):
    """The same reasoning as `dialerd explain --format json`."""

    lead_id: int
    phone: str
    campaign: str
    callable: bool
    tier: str
    rank: int
    reason: str
    due_at: str | None
    deadline_at: str | None
    attempts: int
    position: int | None
    local_zone: str | None = Field(
        None,
        description="with local_hours on: the zone the lead's local hours are read in, and why",
    )
    attempt_history: list[dict[str, Any]]


class DispositionIn(_Body):
    """The operator's result of an answered call."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "result": "confirmed",
                    "amount": "1299.90",
                    "operator": "101",
                    "flags": ["upsell"],
                },
                {"result": "callback", "at": "2026-11-24T15:30:00+03:00"},
            ]
        },
    )

    result: Result
    amount: Amount | None = Field(None, description="required for confirmed, refused otherwise")
    at: IsoTime | None = Field(None, description="required for callback: when to call back")
    note: StrictStr | None = Field(None, max_length=MAX_NOTE)
    flags: list[Annotated[StrictStr, Field(max_length=32)]] = Field(
        default_factory=list, max_length=10, description="short tags, e.g. upsell"
    )
    operator: StrictStr | None = Field(None, max_length=64)


class DispositionRecorded(DispositionOut):
    lead_state: str
    close_reason: str | None
    replayed: bool = Field(description="true when this exact result was already recorded")


class Health(BaseModel):
    status: Literal["ok"]
    ami_connected: bool


def parse_time(text: str, tz: ZoneInfo) -> float:
    """ISO 8601 to epoch seconds; a time without a zone is read in the centre's zone."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text[:40]!r} is not an ISO 8601 time such as 2026-11-24T15:30"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz)
    try:
        return when.timestamp()
    except (OverflowError, ValueError):
        raise ValueError(f"{text[:40]!r} is out of range") from None
