"""Loading the config: YAML file, ``DIALERD_*`` environment, validation, and errors that
name the file, the line and the field path (or the environment variable) at fault.

Secrets written into the YAML file are refused: they belong in the environment or a file
of their own.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from dialerd.config.ami import carrier
from dialerd.config.errors import ConfigError
from dialerd.config.operators import operator_problems
from dialerd.config.settings import ENV_PREFIX, Settings
from dialerd.config.sip_passwords import phone_passwords

DEFAULT_CONFIG_PATH = Path("/etc/dialerd/dialerd.yaml")


@dataclass(frozen=True)
class LoadedConfig:
    """A valid config, the file it came from (None: defaults and environment only), and
    the warnings worth logging once (values allowed but outside the recommended range)."""

    settings: Settings
    path: Path | None
    warnings: tuple[str, ...] = ()


def load_config(
    path: Path | None,
    *,
    overrides: dict[str, Any] | None = None,
    engines: tuple[str, ...] = ("sqlite", "postgresql"),
) -> LoadedConfig:
    """Read, validate and return the config; raise ConfigError naming file, line and field.

    ``engines``: the store engines the caller can work on (every command on both, but the
    demo, which runs on a SQLite file of its own)."""
    data: dict[str, Any] = {}
    root: yaml.Node | None = None
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from exc
        try:
            root = yaml.compose(text, Loader=_Loader)
            loaded = yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
            raise ConfigError([f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}"]) from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError([f"{path}:1: the top level must be a mapping of sections"])
        data = loaded
    if overrides:
        data = _deep_merge(data, overrides)
    secret_problem = _secret_in_yaml(data, path, root)
    if secret_problem:
        raise ConfigError([secret_problem])
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        raise ConfigError([_describe(err, path, root) for err in exc.errors()]) from None
    if problems := _engine_problems(settings, engines) + _operators_problems(settings):
        raise ConfigError(
            [
                _describe({"loc": loc, "msg": msg, "type": "value_error"}, path, root)
                for loc, msg in problems
            ]
        )
    return LoadedConfig(settings=settings, path=path, warnings=tuple(_warnings(settings)))


def _engine_problems(
    settings: Settings, engines: tuple[str, ...]
) -> list[tuple[tuple[str, ...], str]]:
    """A caller that serves SQLite only refuses a PostgreSQL store here, rather than quietly
    working on the SQLite file at ``store.path``."""
    if settings.store.engine in engines:
        return []
    return [
        (
            ("store", "url"),
            "this command runs on a SQLite file of its own, not on a PostgreSQL store",
        )
    ]


def _operators_problems(settings: Settings) -> list[tuple[tuple[str, ...], str]]:
    modes = {name: (c.mode, c.group) for name, c in settings.campaigns.items()}
    pbxs = {pbx.name.lower() for pbx in settings.pbxs}
    unknown = [
        (("operators", str(index), "pbx"), f"unknown PBX {op.pbx!r} (not a name under ami:)")
        for index, op in enumerate(settings.operators)
        if op.pbx is not None and op.pbx.lower() not in pbxs
    ]
    return unknown + list(
        operator_problems(settings.groups, settings.operators, modes, settings.console.phone)
    )


def secret_problems(settings: Settings) -> list[str]:
    """Every secret the daemon needs at start that is missing or unreadable, all at once:
    ``run`` refuses to start on any of them and ``check-config`` fails on the same list."""
    listed = settings.pbxs_listed
    checks: list[Any] = [partial(pbx.resolved_secret, listed=listed) for pbx in settings.pbxs]
    checks.append(settings.crm.resolved_secret)
    if settings.api.enabled:
        checks.append(settings.api.resolved_tokens)
    if settings.alerts.webhook.url is not None:
        checks.append(settings.alerts.webhook.resolved_secret)
    if settings.alerts.email.host is not None:
        checks.append(settings.alerts.email.resolved_password)
    checks.append(lambda: phone_passwords(settings))  # the browser phones' (console.phone)
    problems: list[str] = []
    for check in checks:
        try:
            check()
        except ConfigError as exc:
            problems.extend(exc.problems)
    return problems


def require_secrets(settings: Settings) -> None:
    """Raise one ConfigError listing every missing secret (see ``secret_problems``)."""
    if problems := secret_problems(settings):
        raise ConfigError(problems)


def _warnings(settings: Settings) -> list[str]:
    found = list(_window_warnings(settings))
    phone = settings.console.phone
    if phone is not None and phone.ws_url.startswith("ws://"):
        host = phone.origin.split("//", 1)[1].rsplit(":", 1)[0]
        if host not in ("127.0.0.1", "localhost", "[::1]") or settings.console.tls:
            found.append(
                "console.phone.ws_url: browsers refuse ws:// from a console on another host "
                "or on https://; use wss:// (http.conf's TLS)"
            )
    found += _unstaffed_pbxs(settings)
    for name, campaign in settings.campaigns.items():
        if not 5 <= campaign.max_attempts <= 10:
            found.append(
                f"campaigns.{name}.max_attempts: {campaign.max_attempts} is outside the recommended 5-10"
            )
    return found


def _unstaffed_pbxs(settings: Settings) -> list[str]:
    """A PBX none of the operators is on dials survey campaigns only (an answered customer
    there could reach no operator): worth saying, as it may be an ``operators[].pbx`` typo."""
    if not settings.operators:
        return []
    names = tuple(ami.name for ami in settings.pbxs)
    staffed = {carrier(names, op.pbx or "") for op in settings.operators}
    return [
        f"ami.{name}: no operator is on this PBX (operators[].pbx): it dials survey campaigns only"
        for name in names
        if name not in staffed
    ]


def _window_warnings(settings: Settings) -> list[str]:
    """Hours that are allowed but dial customers at night: worth a second look."""
    window = settings.window
    shifts: list[tuple[str, Any, Any]] = [("window", window.open, window.close)]
    shifts += [
        (f"window.weekdays.{day}", hours.open, hours.close)
        for day, hours in window.weekdays.items()
        if not isinstance(hours, str)
    ]
    shifts += [
        (f"campaigns.{name}.local_hours", c.local_hours.open, c.local_hours.close)
        for name, c in settings.campaigns.items()
        if c.local_hours.open is not None
    ]
    found = []
    for where, opens, closes in shifts:
        span = f"{opens:%H:%M}-{closes:%H:%M}"
        if opens == closes:
            found.append(
                f"{where}: open = close ({opens:%H:%M}) dials round the clock, at night too"
            )
        elif closes < opens:
            found.append(
                f"{where}: {span} runs past midnight and dials all night"
                f" (closes at {closes:%H:%M} the next day)"
            )
    return found


_SECRETS_NOT_IN_YAML = (
    (("ami", "secret"), "DIALERD_AMI__SECRET or ami.secret_file"),
    (("crm", "secret"), "DIALERD_CRM__SECRET or crm.secret_file"),
    (
        ("alerts", "webhook", "secret"),
        "DIALERD_ALERTS__WEBHOOK__SECRET or alerts.webhook.secret_file",
    ),
    (("api", "tokens"), "DIALERD_API__TOKENS__<NAME> or api.tokens_file"),
    (
        ("alerts", "email", "password"),
        "DIALERD_ALERTS__EMAIL__PASSWORD or alerts.email.password_file",
    ),
    (("store", "password"), "DIALERD_STORE__PASSWORD or store.password_file"),
)


def _secret_in_yaml(data: dict[str, Any], path: Path | None, root: yaml.Node | None) -> str | None:
    if path is None:
        return None
    pbxs = data.get("ami")
    if isinstance(pbxs, list):  # several PBXs: each one's secret is named after it
        for index, pbx in enumerate(pbxs):
            if isinstance(pbx, dict) and "secret" in pbx:
                line = _line_of(root, ("ami", str(index), "secret"))
                where = f"{path}:{line}" if line else str(path)
                return (
                    f"{where}: ami.{index}.secret: secrets do not belong in the config file;"
                    " set DIALERD_AMI__<NAME>__SECRET or this PBX's secret_file"
                )
    for loc, instead in _SECRETS_NOT_IN_YAML:
        node: Any = data
        for part in loc[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and loc[-1] in node:
            line = _line_of(root, loc)
            where = f"{path}:{line}" if line else str(path)
            return (
                f"{where}: {'.'.join(loc)}: secrets do not belong in the config file; set {instead}"
            )
    return None


class _Loader(yaml.SafeLoader):
    """YAML 1.1 without implicit timestamps: an unquoted ``2026-13-01`` would raise out of
    the parser with no line; as text, the field's own check names file, line and field."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _describe(err: Any, path: Path | None, root: yaml.Node | None) -> str:
    loc = tuple(str(part) for part in err["loc"] if not _is_branch_tag(str(part)))
    field = ".".join(loc) or "(top level)"
    message = plain_message(err)
    env_name = ENV_PREFIX + "__".join(part.upper() for part in loc)
    if env_name in os.environ:
        return f"environment {env_name}: {field}: {message}"
    line = _line_of(root, loc)
    where = str(path) if path is not None else "(defaults)"
    if line:
        where += f":{line}"
    return f"{where}: {field}: {message}"


# pydantic's own words, said plainly (its "Input should be ...", class names and
# "Value error, " prefixes mean nothing to someone editing a YAML file)
_PLAIN = {
    "missing": "required, but missing",
    "extra_forbidden": "unknown key (check the spelling; see config/dialerd.yaml for every key)",
    "time_parsing": 'not a time of day (use "HH:MM", quoted)',
    "time_type": 'not a time of day (use "HH:MM", quoted)',
    "date_parsing": "not a date (use YYYY-MM-DD)",
    "date_from_datetime_parsing": "not a date (use YYYY-MM-DD)",
    "date_type": "not a date (use YYYY-MM-DD)",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be text",
    "list_type": "must be a list",
    "dict_type": "must be a mapping (key: value lines)",
    "model_type": "must be a mapping (key: value lines)",
    "model_attributes_type": "must be a mapping (key: value lines)",
}
_BOUNDS = {
    "greater_than": "must be greater than {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be at most {le}",
    "too_short": "needs at least {min_length} item(s)",
    "too_long": "takes at most {max_length} item(s)",
    "string_too_short": "needs at least {min_length} character(s)",
    "string_too_long": "takes at most {max_length} character(s)",
}


def plain_message(err: Any) -> str:
    """One validation error in words a person editing the file understands."""
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind in _PLAIN:
        return _PLAIN[kind]
    if kind in _BOUNDS:
        try:
            return _BOUNDS[kind].format(**ctx)
        except KeyError:
            pass
    if kind in ("literal_error", "enum"):
        return f"must be one of {ctx.get('expected', '')}".strip()
    message = str(err["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if message.startswith("Input should be "):
        message = "must be " + message.removeprefix("Input should be ")
    return message


def _is_branch_tag(part: str) -> bool:
    """A union branch or validator name pydantic puts into an error's path
    (``HoursSettings``, ``literal['closed']``, ``function-after[...]``): not a YAML key."""
    return "[" in part or bool(re.fullmatch(r"[A-Z][A-Za-z]*(Settings|Section)", part))


def _line_of(root: yaml.Node | None, loc: tuple[str, ...]) -> int | None:
    """1-based line of the deepest YAML node on the field path."""
    node, line = root, None
    for part in loc:
        if isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            node = node.value[int(part)]
            line = node.start_mark.line + 1
            continue
        if not isinstance(node, yaml.MappingNode):
            break
        for key, value in node.value:
            if key.value == part:
                line, node = key.start_mark.line + 1, value
                break
        else:
            break
    return line


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
