"""The ``store`` section: which database holds the leads, and the CLI's wake socket.

``store.url`` names the engine: ``sqlite:///path`` (the embedded default, one daemon, one
file; ``store.path`` as before says the same) or ``postgresql://user@host:port/database``
(one pool shared by several daemons). A PostgreSQL password is a secret like any other:
from ``DIALERD_STORE__PASSWORD`` or ``store.password_file``, never in the URL or the YAML.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from dialerd.config.secrets import read_secret
from dialerd.config.values import Section

DEFAULT_PATH = Path("/var/lib/dialerd/dialerd.sqlite3")
Engine = Literal["sqlite", "postgresql"]
_PG_SCHEMES = ("postgresql", "postgres")
_PG_OPTIONS = frozenset({"sslmode"})
SslMode = Literal["disable", "prefer", "allow", "require", "verify-ca", "verify-full"]
_SSL_MODES: tuple[SslMode, ...] = (
    "disable",
    "prefer",
    "allow",
    "require",
    "verify-ca",
    "verify-full",
)


@dataclass(frozen=True)
class PostgresTarget:
    """Where a PostgreSQL store is, without its password (safe to log)."""

    host: str
    port: int
    user: str
    database: str
    sslmode: SslMode | None = None

    def __str__(self) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"


class StoreSettings(Section):
    url: str | None = None
    path: Path = DEFAULT_PATH
    password: SecretStr | None = None
    password_file: Path | None = None
    pool_size: Annotated[int, Field(ge=1, le=100)] = 10  # connections per daemon (PostgreSQL)
    wake_socket: Path | None = None

    @field_validator("url")
    @classmethod
    def _known_engine(cls, url: str | None) -> str | None:
        """The whole URL is checked here, so a mistake is refused at start with the field
        named, not at the first query."""
        if url is None:
            return None
        scheme = url.split(":", 1)[0].lower() if ":" in url else ""
        if scheme == "sqlite":
            sqlite_path(url)
        elif scheme in _PG_SCHEMES:
            postgres_target(url)
        else:
            raise ValueError("must start with sqlite:/// or postgresql://")
        return url

    @model_validator(mode="before")
    @classmethod
    def _sqlite_url_is_the_path(cls, data: Any) -> Any:
        """``sqlite:///path`` says what ``store.path`` says; both, naming two files, is refused."""
        if not isinstance(data, dict) or not isinstance(data.get("url"), str):
            return data
        try:
            path = sqlite_path(data["url"]) if data["url"].lower().startswith("sqlite:") else None
        except ValueError:
            return data  # the field's own check names the problem
        if path is None:
            return data
        if data.get("path") is not None and Path(data["path"]) != path:
            raise ValueError(
                f"store.url names {path} and store.path names {data['path']}: set only one"
            )
        return {**data, "path": path}

    @property
    def engine(self) -> Engine:
        if self.url is not None and self.url.split(":", 1)[0].lower() in _PG_SCHEMES:
            return "postgresql"
        return "sqlite"

    @property
    def postgres(self) -> PostgresTarget:
        """The PostgreSQL store's address (``engine == 'postgresql'`` only)."""
        if self.url is None or self.engine != "postgresql":
            raise ValueError("store.url does not name a PostgreSQL store")
        return postgres_target(self.url)

    def resolved_password(self) -> str | None:
        """The PostgreSQL password from the environment or its file; None: the server asks
        for none (peer or trust authentication, a client certificate). Never logged."""
        return read_secret("store.password", self.password, self.password_file)

    @property
    def wake_socket_path(self) -> Path:
        """Datagram socket the CLI pokes so a running daemon sees new leads at once."""
        return self.wake_socket or self.path.with_name(self.path.name + ".wake")


def sqlite_path(url: str) -> Path:
    """``sqlite:///var/lib/dialerd/x.sqlite3`` → ``/var/lib/dialerd/x.sqlite3`` (an absolute path:
    the URL's path, as in ``file:///``; a relative one goes in ``store.path``)."""
    parts = urllib.parse.urlsplit(url)
    if parts.netloc or not parts.path.startswith("/") or parts.query or parts.fragment:
        raise ValueError(
            "a SQLite store is sqlite:/// followed by an absolute path,"
            " e.g. sqlite:///var/lib/dialerd/dialerd.sqlite3"
        )
    path = urllib.parse.unquote(parts.path)
    if path.rstrip("/") == "":
        raise ValueError("sqlite:/// needs the database file's path after it")
    return Path(path)


def postgres_target(url: str) -> PostgresTarget:
    """The parts of ``postgresql://user@host:port/database``, or ValueError saying what is wrong."""
    if any(ord(c) < 32 or ord(c) == 127 for c in url):
        raise ValueError("control characters are not allowed")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port or 5432
    except ValueError as exc:
        raise ValueError(f"not a valid URL ({exc})") from None
    if parts.password is not None:
        raise ValueError(
            "the password does not belong in the URL; set DIALERD_STORE__PASSWORD"
            " or store.password_file"
        )
    if not parts.hostname:
        raise ValueError("names no host (postgresql://user@host:port/database)")
    if not parts.username:
        raise ValueError("names no user (postgresql://user@host:port/database)")
    database = urllib.parse.unquote(parts.path.lstrip("/"))
    if not database or "/" in database:
        raise ValueError("names no database (postgresql://user@host:port/database)")
    options = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(options) - _PG_OPTIONS)
    if unknown:
        raise ValueError(f"unknown option {unknown[0]!r} (allowed: sslmode)")
    sslmode = None
    if "sslmode" in options:
        wanted = options["sslmode"][-1]
        modes = {mode: mode for mode in _SSL_MODES}
        if wanted not in modes:
            raise ValueError(f"sslmode must be one of {', '.join(_SSL_MODES)}")
        sslmode = modes[wanted]
    return PostgresTarget(
        host=parts.hostname,
        port=port,
        user=urllib.parse.unquote(parts.username),
        database=database,
        sslmode=sslmode,
    )
