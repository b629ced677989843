"""The ``api`` section: the HTTP API served inside the daemon (R1, R8, R11) and its tokens."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import Field, SecretStr, field_validator

from dialerd.config.errors import ConfigError
from dialerd.config.secrets import read_file
from dialerd.config.values import Section

_TOKEN_NAME = re.compile(r"^[a-z0-9_.-]{1,32}$")
MIN_TOKEN_CHARS = 16


class ApiSettings(Section):
    """The HTTP API served inside the daemon (R1, R8, R11): leads in, results and recordings out."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8440  # 0: any free port (tests)
    # name -> token; from the environment (DIALERD_API__TOKENS__CRM) or tokens_file, never the YAML
    tokens: dict[str, SecretStr] = {}
    tokens_file: Path | None = None
    require_token: bool = True
    max_body_bytes: Annotated[int, Field(ge=1024, le=64 * 1024 * 1024)] = 4 * 1024 * 1024
    max_import_bytes: Annotated[int, Field(ge=1024, le=16 * 1024**3)] = 256 * 1024 * 1024
    max_batch: Annotated[int, Field(ge=1, le=10_000)] = 1000
    max_json_field_bytes: Annotated[int, Field(ge=256, le=1024 * 1024)] = 16 * 1024
    idempotency_ttl_h: Annotated[float, Field(gt=0, le=24 * 365)] = 72.0
    recordings_dir: Path | None = None

    @field_validator("tokens")
    @classmethod
    def _token_shape(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name, token in value.items():
            _check_token(name, token.get_secret_value())
        return value

    def resolved_tokens(self) -> dict[str, str]:
        """Token name -> token, from the environment and the tokens file; never logged."""
        found = {name: token.get_secret_value() for name, token in self.tokens.items()}
        if self.tokens_file is not None:
            text = read_file("api.tokens_file", self.tokens_file)
            try:
                loaded = yaml.safe_load(text)
            except yaml.YAMLError:
                loaded = None
            if not isinstance(loaded, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in loaded.items()
            ):
                raise ConfigError(
                    [f"api.tokens_file: {self.tokens_file} must be a YAML mapping of name: token"]
                )
            for name, token in loaded.items():
                try:
                    _check_token(name, token)
                except ValueError as exc:
                    raise ConfigError([f"api.tokens_file: {self.tokens_file}: {exc}"]) from None
                found.setdefault(name, token)
        if self.enabled and self.require_token and not found:
            raise ConfigError(
                [
                    "api.tokens: none set; set DIALERD_API__TOKENS__<NAME> in the environment or "
                    "api.tokens_file (or api.enabled: false)"
                ]
            )
        return found


def _check_token(name: str, token: str) -> None:
    if not _TOKEN_NAME.match(name):
        raise ValueError(f"token name {name!r}: use 1-32 lowercase letters, digits, '_', '.', '-'")
    if (
        len(token) < MIN_TOKEN_CHARS
        or not token.isascii()
        or not token.isprintable()
        or " " in token
    ):
        raise ValueError(
            f"token {name!r}: at least {MIN_TOKEN_CHARS} printable ASCII characters, no spaces"
        )
