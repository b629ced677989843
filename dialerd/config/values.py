"""Checks shared by the config sections (``config.py`` and its ``config_*`` parts)."""

from __future__ import annotations

import re
import urllib.parse
from typing import TypeVar

from dialerd.policy.ami_safety import check_ami_value

_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
Addresses = TypeVar("Addresses", str, list[str])


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
