"""What ``pip install dialerd`` puts on an admin's machine: the wheel built from this checkout.

It holds the daemon and what the daemon reads at run time (the migrations, ``py.typed``)
and the ``dialerd`` command, and nothing of the test harness: ``tests/support/`` lives
beside the package, not in it. Built offline with this venv's pip and setuptools, from a
copy of the checkout (the build writes ``build/`` and ``*.egg-info`` into the tree it reads).
"""

from __future__ import annotations

import configparser
import importlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import dialerd
from dialerd.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "dialerd"
# Not part of the checkout as committed: VCS, venvs, caches, earlier builds, stores.
NOT_COPIED = shutil.ignore_patterns(
    ".git",
    ".venv",
    "venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".pytest_cache",
    ".hypothesis",
    ".mypy_cache",
    ".ruff_cache",
    "*.sqlite3*",
    "node_modules",
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The files inside the wheel built from a copy of this checkout, by name."""
    tmp = tmp_path_factory.mktemp("wheel")
    source, out = tmp / "checkout", tmp / "out"
    shutil.copytree(ROOT, source, symlinks=True, ignore=NOT_COPIED)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHONPATH"))}
    env |= {"PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
        + ["--no-cache-dir", "-q", "-w", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    if result.returncode != 0:
        pytest.fail(
            "pip wheel failed (setuptools>=70.1 from the test extras builds offline: "
            f"pip install -e '.[test]'):\n{result.stdout}{result.stderr}"[-4000:],
            pytrace=False,
        )
    (built,) = out.glob("dialerd-*.whl")
    with zipfile.ZipFile(built) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_the_wheel_holds_the_package_and_its_metadata_only(wheel):
    assert {name.split("/")[0] for name in wheel} == {
        "dialerd",
        f"dialerd-{dialerd.__version__}.dist-info",
    }


def test_no_test_harness_is_shipped(wheel):
    def harness(name: str) -> bool:
        *folders, file = name.split("/")
        return bool({"tests", "support", "testing"} & set(folders)) or (
            file == "conftest.py" or file.startswith("test_")
        )

    assert [name for name in wheel if harness(name)] == []


def test_every_module_of_the_checkout_is_shipped(wheel):
    """A package the build leaves out (say, one without ``__init__.py``) is a daemon that
    fails on its first import on the admin's machine, not in the tests."""
    modules = sorted(path.relative_to(ROOT).as_posix() for path in PACKAGE.rglob("*.py"))
    assert sorted(name for name in wheel if name.endswith(".py")) == modules


def test_the_migrations_and_the_typing_marker_are_shipped(wheel):
    # SQLite's set and PostgreSQL's (migrations/postgresql/): either store is made from these
    folder = PACKAGE / "migrations"
    migrations = sorted(
        f"dialerd/migrations/{p.relative_to(folder).as_posix()}" for p in folder.rglob("*.sql")
    )
    assert migrations  # the store cannot be created without them
    assert "dialerd/migrations/postgresql/0001_init.sql" in migrations
    assert sorted(name for name in wheel if name.startswith("dialerd/migrations/")) == migrations
    assert "dialerd/py.typed" in wheel


def test_the_dialerd_command_is_installed(wheel):
    (name,) = [name for name in wheel if name.endswith(".dist-info/entry_points.txt")]
    entry_points = configparser.ConfigParser()
    entry_points.read_string(wheel[name].decode())
    target = entry_points["console_scripts"]["dialerd"]
    module, _, function = target.partition(":")
    assert getattr(importlib.import_module(module), function) is main


def test_the_console_pages_scripts_and_catalogs_are_shipped(wheel):
    """The console renders its templates and serves its scripts from the installed package."""
    web = PACKAGE / "web"
    wanted = {
        f"dialerd/web/{folder}/{p.name}"
        for folder in ("templates", "static", "catalogs")
        for p in (web / folder).iterdir()
        if p.is_file()
    }
    assert {"dialerd/web/templates/operator.html", "dialerd/web/catalogs/ru.json"} <= wanted
    assert wanted <= set(wheel)


def test_the_browser_phones_javascript_bundle_is_shipped(wheel):
    """JsSIP, bundled by ./dev from npm: the page loads it from the daemon, never a CDN."""
    bundle = PACKAGE / "web" / "static" / "bundle" / "jssip.js"
    assert bundle.is_file(), f"{bundle} is missing: ./dev demo or ./dev test builds it"
    shipped = wheel.get("dialerd/web/static/bundle/jssip.js", b"")
    assert shipped == bundle.read_bytes()
    assert b"var JsSIP=" in shipped[:200]  # esbuild's --global-name: the page's window.JsSIP
    assert "dialerd/web/static/phone.js" in wheel


def test_the_swagger_ui_files_are_shipped_when_built(wheel):
    """./dev assets copies them into the package (gitignored); the wheel carries them, so
    an installed daemon's /docs needs no CDN."""
    built = ROOT / "dialerd" / "api" / "static" / "swagger"
    if not (built / "swagger-ui-bundle.js").is_file():
        pytest.skip("Swagger UI not built here (./dev assets)")
    expected = sorted(f"dialerd/api/static/swagger/{p.name}" for p in built.iterdir())
    assert sorted(n for n in wheel if n.startswith("dialerd/api/static/swagger/")) == expected
