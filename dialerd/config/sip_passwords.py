"""The browser phones' SIP passwords (``console.phone.passwords_file``, issue 14).

A YAML mapping of SIP user to password, the same password as the endpoint's auth
section in Asterisk's pjsip.conf::

    "201": a-long-random-password
    "202": another-one

It is a secret like ``ami.secret_file``: never in dialerd.yaml, never logged (errors
name the file, the line and the SIP user, never a password), handed only to the
signed-in operator whose phone it is (``GET /operator/phone``). The daemon reads it at
start (a bad file refuses the start) and on reload (a bad file rejects the reload and
the running passwords stay).

Keys and values are taken as written (YAML's raw scalar text): an unquoted ``0201`` is
the user ``0201``, not the octal number 129, and a password ``yes`` stays ``yes``.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from dialerd.config.errors import ConfigError
from dialerd.config.secrets import read_file
from dialerd.config.settings import Settings

FIELD = "console.phone.passwords_file"
MAX_PASSWORD_CHARS = 128
_SIP_USER = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def read_sip_passwords(path: Path) -> dict[str, str]:
    """SIP user → password; ConfigError naming every bad line (never its password)."""
    text = read_file(FIELD, path)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError([f"{where}: {FIELD}: not valid YAML"]) from None
    if root is None:
        return {}
    if not isinstance(root, yaml.MappingNode):
        raise ConfigError([f"{path}:1: {FIELD}: expected a mapping of SIP user: password"])
    found: dict[str, str] = {}
    problems: list[str] = []
    for key, value in root.value:
        where = f"{path}:{key.start_mark.line + 1}: {FIELD}"
        user = key.value if isinstance(key, yaml.ScalarNode) else None
        if user is None or not _SIP_USER.match(user):
            problems.append(f"{where}: a SIP user is 1-64 letters, digits, '_', '.', '-'")
            continue
        if user in found:
            problems.append(f"{where}: SIP user {user!r} is listed twice")
            continue
        password = value.value if isinstance(value, yaml.ScalarNode) else ""
        if not (0 < len(password) <= MAX_PASSWORD_CHARS) or not password.isprintable():
            problems.append(
                f"{where}: {user!r}: the password must be 1-{MAX_PASSWORD_CHARS} printable "
                "characters"
            )
            continue
        found[user] = password
    if problems:
        raise ConfigError(problems)
    return found


def phone_passwords(settings: Settings) -> dict[str, str]:
    """The password of every operator's browser phone (``{}`` without ``console.phone``).

    ConfigError when the file cannot be read or parsed, or an operator's SIP user has no
    password in it: that operator's page could never register, better said at start. The
    TURN secret file (``turn_secret_file``), if named, must be readable and not empty.
    """
    phone = settings.console.phone
    if phone is None:
        return {}
    passwords = read_sip_passwords(phone.passwords_file)
    if (
        phone.turn_secret_file is not None
        and not read_file("console.phone.turn_secret_file", phone.turn_secret_file).strip()
    ):
        raise ConfigError([f"{phone.turn_secret_file}: console.phone.turn_secret_file is empty"])
    missing = [
        f"{phone.passwords_file}: {FIELD}: no password for SIP user {op.sip_user!r}"
        f" (operator {op.name}'s phone)"
        for op in settings.operators
        if op.sip_user is not None and op.sip_user not in passwords
    ]
    if missing:
        raise ConfigError(missing)
    return {op.sip_user: passwords[op.sip_user] for op in settings.operators if op.sip_user}
