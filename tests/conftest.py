"""Shared fixtures: a real SQLite file per test, settings built like the daemon builds them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from dialerd.config import LoadedConfig, load_config
from dialerd.store.db import Database, open_store


@pytest.fixture
def make_config(tmp_path: Path):
    def build(**sections: Any) -> LoadedConfig:
        overrides: dict[str, Any] = {"store": {"path": str(tmp_path / "dialerd.sqlite3")}}
        for name, values in sections.items():
            overrides.setdefault(name, {}).update(values)
        return load_config(None, overrides=overrides)

    return build


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with open_store(tmp_path / "store.sqlite3") as database:
        yield database
