"""Shared fixtures: a real SQLite file per test, settings built like the daemon builds them,
and the real Asterisk sandbox (``support.asterisk``).

``asterisk`` (session scope) yields a running :class:`AsteriskInstance`: the cached Debian
sid chroot is built on first use (~1 min), Asterisk starts in about a second. Tests that
need an Asterisk of their own (to restart or stop it, as the fault suite does) take
``fresh_asterisk``, a factory whose instances are stopped after the test. Mark tests that
use either with ``@pytest.mark.asterisk``.

``db`` is a migrated store on SQLite; a test (or module) marked
``@pytest.mark.engines("sqlite", "postgresql")`` runs once per engine, the PostgreSQL run
on a database of its own in the session's real PostgreSQL (``support.postgres``: Debian's
server, started by the harness on a loopback port in a temporary directory).

Where the machine cannot run the sandbox (not root, no debootstrap and no way to install
it, no mount permission, no network for the first build) the tests are skipped with the
reason -- except under ``CI=true``, where that is a failure. An Asterisk that is built but
fails to boot is always a failure.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from support.asterisk import (
    AsteriskInstance,
    AsteriskSandboxError,
    AsteriskUnavailable,
    asterisk_unavailable_reason,
    start_asterisk,
)
from support.postgres import PostgresInstance, postgres_unavailable_reason, start_postgres

from dialerd.config import LoadedConfig, load_config
from dialerd.config.store import postgres_target
from dialerd.store.db import open_store
from dialerd.store.pg import open_pg_store
from dialerd.store.sql import Store


@pytest.fixture(autouse=True)
def default_logging() -> Iterator[None]:
    """Each test starts with structlog's defaults (every level, to stdout): a test that runs
    the CLI or the demo configures logging for the process, and must not decide what the
    next test's log captures see."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


@pytest.fixture
def make_config(tmp_path: Path):
    def build(**sections: Any) -> LoadedConfig:
        overrides: dict[str, Any] = {"store": {"path": str(tmp_path / "dialerd.sqlite3")}}
        for name, values in sections.items():
            overrides.setdefault(name, {}).update(values)
        return load_config(None, overrides=overrides)

    return build


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``@pytest.mark.engines(...)``: the test runs once per store engine named."""
    marker = metafunc.definition.get_closest_marker("engines")
    if marker is None or "engine" not in metafunc.fixturenames:
        return
    metafunc.parametrize(
        "engine",
        [
            pytest.param(name, marks=[pytest.mark.postgres] if name == "postgresql" else [])
            for name in marker.args
        ],
        indirect=True,
    )


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> str:
    """The store engine of ``db``: SQLite unless the test is marked ``engines``."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresInstance]:
    """The session's PostgreSQL; skipped where it cannot run, a failure under CI=true."""
    reason = postgres_unavailable_reason()
    if reason is not None:
        if in_ci():
            pytest.fail(f"CI=true but PostgreSQL is unavailable: {reason}", pytrace=False)
        pytest.skip(f"PostgreSQL unavailable: {reason}")
    instance = start_postgres()
    yield instance
    instance.stop()


@pytest.fixture
async def db(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    if engine == "sqlite":
        async with open_store(tmp_path / "store.sqlite3") as database:
            yield database
        return
    server: PostgresInstance = request.getfixturevalue("postgres")
    name = server.new_database()
    try:
        async with open_pg_store(postgres_target(server.url(name)), server.password) as pg:
            yield pg
    finally:
        server.drop_database(name)


@pytest.fixture
def engine_store(
    engine: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str | None]:
    """For tests that build the daemon from its config (``assembled``, ``dialerd run``): on
    PostgreSQL, ``store.url`` and its password in the environment, where an operator would
    put them, naming a database of the test's own; the configs the test builds then open
    it instead of their SQLite file. Yields the URL (None on SQLite)."""
    if engine == "sqlite":
        yield None
        return
    server: PostgresInstance = request.getfixturevalue("postgres")
    name = server.new_database()
    monkeypatch.setenv("DIALERD_STORE__URL", server.url(name))
    monkeypatch.setenv("DIALERD_STORE__PASSWORD", server.password)
    try:
        yield server.url(name)
    finally:
        server.drop_database(name)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def sandbox_unavailable(reason: str) -> None:
    """Skip (or, under CI=true, fail) a test that needs the Asterisk sandbox; always raises."""
    if in_ci():
        pytest.fail(f"CI=true but the Asterisk sandbox is unavailable: {reason}", pytrace=False)
    pytest.skip(f"Asterisk sandbox unavailable: {reason}")


def require_asterisk_sandbox() -> None:
    """Skip or fail now (see ``sandbox_unavailable``) if this machine cannot run the sandbox."""
    reason = asterisk_unavailable_reason()
    if reason is not None:
        sandbox_unavailable(reason)


def start_sandbox(**kwargs: Any) -> AsteriskInstance:
    """``start_asterisk(**kwargs)``, turning its errors into a skip or a failure as above."""
    require_asterisk_sandbox()
    try:
        return start_asterisk(**kwargs)
    except AsteriskUnavailable as exc:
        sandbox_unavailable(str(exc))
        raise  # not reached: sandbox_unavailable() always raises
    except AsteriskSandboxError as exc:
        pytest.fail(f"Asterisk sandbox failed to start: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def asterisk() -> Iterator[AsteriskInstance]:
    """A real Asterisk with the project's config set; AMI on a free loopback port."""
    instance = start_sandbox()
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture
def fresh_asterisk() -> Iterator[Callable[..., AsteriskInstance]]:
    """``start(**start_asterisk_kwargs)``: an Asterisk of this test's own, stopped after it."""
    started: list[AsteriskInstance] = []

    def start(**kwargs: Any) -> AsteriskInstance:
        instance = start_sandbox(**kwargs)
        started.append(instance)
        return instance

    try:
        yield start
    finally:
        for instance in started:
            instance.stop()
