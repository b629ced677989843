"""What every config section shares: the strict base model and the checks of names,
URLs, e-mail addresses and wall-clock times."""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
from typing import Annotated, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

from dialerd.policy.ami_safety import check_ami_value

_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
Addresses = TypeVar("Addresses", str, list[str])

# Text written into an AMI action (a context, a queue, a username): no CR, LF or other
# control character, which would end the header and let the rest inject another.
AmiText = Annotated[str, AfterValidator(check_ami_value)]


class Section(BaseModel):
    """A config section: unknown keys are errors (a typo must not fall back to a default),
    and a loaded config never changes."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def http_url(value: str | None) -> str | None:
    if value is None:
        return None
    check_ami_value(value)  # no control characters in anything that ends up in a request line
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http:// or https:// URL")
    return value


def email_addresses(value: Addresses) -> Addresses:
    for address in [value] if isinstance(value, str) else value:
        if not _EMAIL.match(address):
            raise ValueError(f"{address!r} is not an e-mail address")
    return value


def plain_name(kind: str, value: str) -> str:
    """Campaign and schedule names: they appear in logs, file names and metric labels."""
    if not _NAME.match(value):
        raise ValueError(f"{kind} name {value!r}: use 1-64 letters, digits, '_', '.', '-'")
    return value


def _wall_time(value: object) -> object:
    """YAML 1.1 reads an unquoted 10:00 as the base-60 integer 600: take it as the time meant."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        return dt.time(value // 60, value % 60)
    return value


WallTime = Annotated[dt.time, BeforeValidator(_wall_time)]
