"""One error shape for every failure the API answers, so a client handles errors in one place.

``{"error": {"code": "invalid", "message": "is not a valid number for its country",
"field": "phone"}}``; a duplicate adds ``duplicate_of`` and ``rule`` beside it. Malformed
JSON, wrong types and unknown routes get the same shape; nothing answers a bare 500.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from starlette.exceptions import HTTPException as StarletteHTTPException

log = structlog.get_logger(__name__)

MAX_JSON_DEPTH = 32
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class ApiError(Exception):
    """An answer other than success: status, a stable code, a message, the field if one is to blame."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.extra = extra or {}
        self.headers = headers

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.field) | self.extra

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}}


def invalid(field: str | None, message: str) -> ApiError:
    return ApiError(422, "invalid", message, field)


def parse_json(body: bytes) -> Any:
    """The request body as JSON, or ApiError 400 saying why not.

    Stricter than ``json.loads``: NaN and Infinity (and numbers that overflow to it),
    lone surrogates and absurd nesting are refused here, so nothing downstream can fail
    to store or to serialise what it was given.
    """
    if not body.strip():
        raise ApiError(400, "malformed_json", "the request body is empty; JSON expected")
    try:
        text = body.decode("utf-8")
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
        if _SURROGATE_ESCAPE.search(text):  # valid UTF-8 has none; only \uD8xx escapes do
            _encodable(value)
    except UnicodeError:
        raise ApiError(400, "malformed_json", "the body is not valid UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ApiError(
            400,
            "malformed_json",
            f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
        ) from None
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "malformed_json", f"not acceptable JSON: {exc}") from None
    return value


def too_deep(value: Any) -> bool:
    """More than MAX_JSON_DEPTH levels of arrays and objects (free-form fields are bounded)."""
    return _depth(value) > MAX_JSON_DEPTH


def _encodable(value: Any) -> None:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(
            400, "malformed_json", "a string holds a lone UTF-16 surrogate (\\ud800-\\udfff)"
        ) from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is out of range")
    return value


def _depth(value: Any, level: int = 1) -> int:
    if level > MAX_JSON_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level)
    return level


def from_validation(errors: list[ErrorDetails], prefix: tuple[str | int, ...] = ()) -> ApiError:
    """The first pydantic error, as the API's 422 naming the field."""
    err = errors[0]
    loc = tuple(part for part in err["loc"] if part not in ("body", "path", "query", "header"))
    field = field_name(prefix + loc)
    return ApiError(422, "invalid", _message(err), field or None)


def field_name(loc: tuple[str | int, ...]) -> str:
    """('leads', 3, 'phone') → 'leads[3].phone'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "string_type": "must be a string",
    "dict_type": "must be a JSON object",
    "list_type": "must be a JSON array",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
}


def _message(err: ErrorDetails) -> str:
    if err["type"] in _MESSAGES:
        return _MESSAGES[err["type"]]
    message = err["msg"].removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


def install(app: FastAPI) -> None:
    """Every error the framework or the code raises leaves in the one shape."""

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return exc.response()

    async def validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError | ValidationError)
        return from_validation(list(exc.errors())).response()

    async def http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        codes = {404: "not_found", 405: "method_not_allowed"}
        return ApiError(
            exc.status_code,
            codes.get(exc.status_code, "http_error"),
            str(exc.detail),
            headers=dict(exc.headers or {}),
        ).response()

    async def crash(request: Request, exc: Exception) -> Response:
        log.exception("api_crashed", path=request.url.path, error=type(exc).__name__)
        return ApiError(500, "internal", "internal error (logged)").response()

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(ValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, http)
    app.add_exception_handler(Exception, crash)
