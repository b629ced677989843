"""Reading the files secrets live in (``ami.secret_file``, ``api.tokens_file``, ...).

Secrets never sit in the YAML file: they come from the environment or from a file of
their own, read when the daemon needs them, and never logged.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from dialerd.config.errors import ConfigError


def read_file(field: str, path: Path) -> str:
    """The file's text; ConfigError naming the field and the OS's reason if it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{field}: cannot read {path}: {exc.strerror}"]) from exc


def read_secret(name: str, secret: SecretStr | None, secret_file: Path | None) -> str | None:
    """A secret from the environment (as ``secret``) or its file; None when neither is set."""
    if secret is not None:
        return secret.get_secret_value()
    if secret_file is not None:
        return read_file(f"{name}_file", secret_file).strip()
    return None
