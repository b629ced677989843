"""The one check every value passes before it is written into an AMI action.

panoramisk writes header values raw: a CR or LF inside a value would end the
header and let the rest inject headers (or a whole second action).
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class UnsafeAmiValue(ValueError):
    """A value that would break (or inject into) the AMI framing."""


def check_ami_value(value: str) -> str:
    """Return ``value`` unchanged, or raise if it holds CR, LF or any control character."""
    if _CONTROL.search(value):
        raise UnsafeAmiValue("contains a control character (CR, LF, NUL, ...)")
    return value
