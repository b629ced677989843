"""Loading the config: YAML file, ``DIALERD_*`` environment, validation, and errors that
name the file, the line and the field path (or the environment variable) at fault.

Secrets written into the YAML file are refused: they belong in the environment or a file
of their own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from dialerd.config.errors import ConfigError
from dialerd.config.operators import operator_problems
from dialerd.config.settings import ENV_PREFIX, Settings

DEFAULT_CONFIG_PATH = Path("/etc/dialerd/dialerd.yaml")


@dataclass(frozen=True)
class LoadedConfig:
    """A valid config, the file it came from (None: defaults and environment only), and
    the warnings worth logging once (values allowed but outside the recommended range)."""

    settings: Settings
    path: Path | None
    warnings: tuple[str, ...] = ()


def load_config(path: Path | None, *, overrides: dict[str, Any] | None = None) -> LoadedConfig:
    """Read, validate and return the config; raise ConfigError naming file, line and field."""
    data: dict[str, Any] = {}
    root: yaml.Node | None = None
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from exc
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
            loaded = yaml.safe_load(text)
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
    modes = {name: (c.mode, c.group) for name, c in settings.campaigns.items()}
    if problems := operator_problems(
        settings.groups, settings.operators, modes, settings.console.phone
    ):
        raise ConfigError(
            [
                _describe({"loc": loc, "msg": msg, "type": "value_error"}, path, root)
                for loc, msg in problems
            ]
        )
    return LoadedConfig(settings=settings, path=path, warnings=tuple(_warnings(settings)))


def _warnings(settings: Settings) -> list[str]:
    found = []
    phone = settings.console.phone
    if phone is not None and phone.ws_url.startswith("ws://"):
        host = phone.origin.split("//", 1)[1].rsplit(":", 1)[0]
        if host not in ("127.0.0.1", "localhost", "[::1]") or settings.console.tls:
            found.append(
                "console.phone.ws_url: browsers refuse ws:// from a console on another host "
                "or on https://; use wss:// (http.conf's TLS)"
            )
    for name, campaign in settings.campaigns.items():
        if not 5 <= campaign.max_attempts <= 10:
            found.append(
                f"campaigns.{name}.max_attempts: {campaign.max_attempts} is outside the recommended 5-10"
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
)


def _secret_in_yaml(data: dict[str, Any], path: Path | None, root: yaml.Node | None) -> str | None:
    if path is None:
        return None
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


def _describe(err: Any, path: Path | None, root: yaml.Node | None) -> str:
    loc = tuple(str(part) for part in err["loc"])
    field = ".".join(loc) or "(top level)"
    message = err["msg"]
    if err["type"] == "extra_forbidden":
        message = "unknown key (check the spelling; see config/dialerd.yaml for every key)"
    env_name = ENV_PREFIX + "__".join(part.upper() for part in loc)
    if env_name in os.environ:
        return f"environment {env_name}: {field}: {message}"
    line = _line_of(root, loc)
    where = str(path) if path is not None else "(defaults)"
    if line:
        where += f":{line}"
    return f"{where}: {field}: {message}"


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
