"""Fixtures for tests against a real Asterisk (see ``tests/support/asterisk.py``).

``asterisk`` (session scope) yields a running :class:`AsteriskInstance`: the
cached Debian sid chroot is built on first use (~1 min), Asterisk starts in
about a second.  Mark tests that use it with ``@pytest.mark.asterisk``.

Where the machine cannot run the sandbox (not root, no debootstrap and no way
to install it, no mount permission, no network for the first build) the
tests are skipped with the reason -- except under ``CI=true``, where that is
a failure.  An Asterisk that is built but fails to boot is always a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from support.asterisk import (
    AsteriskInstance,
    AsteriskSandboxError,
    AsteriskUnavailable,
    asterisk_unavailable_reason,
    start_asterisk,
)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def _unavailable(reason: str) -> None:
    if _in_ci():
        pytest.fail(f"CI=true but the Asterisk sandbox is unavailable: {reason}", pytrace=False)
    pytest.skip(f"Asterisk sandbox unavailable: {reason}")


@pytest.fixture(scope="session")
def asterisk() -> Iterator[AsteriskInstance]:
    """A real Asterisk with the project's config set; AMI on a free loopback port."""
    reason = asterisk_unavailable_reason()
    if reason is not None:
        _unavailable(reason)
    try:
        instance = start_asterisk()
    except AsteriskUnavailable as exc:
        _unavailable(str(exc))
        raise  # not reached: _unavailable() always raises
    except AsteriskSandboxError as exc:
        pytest.fail(f"Asterisk sandbox failed to start: {exc}", pytrace=False)
    try:
        yield instance
    finally:
        instance.stop()
