"""store.url: the SQLite file as before, or a PostgreSQL URL checked whole, its password a
secret; and a PostgreSQL URL refused at start while the daemon does not run on one."""

from pathlib import Path

import pytest

from dialerd.config import ConfigError, load_config
from dialerd.config.store import StoreSettings


def test_without_a_url_the_store_is_the_sqlite_file_at_store_path():
    settings = load_config(None, overrides={"store": {"path": "/srv/d/x.sqlite3"}}).settings
    assert settings.store.engine == "sqlite" and settings.store.path == Path("/srv/d/x.sqlite3")
    assert settings.store.wake_socket_path == Path("/srv/d/x.sqlite3.wake")


def test_a_sqlite_url_names_the_same_file_as_store_path():
    settings = load_config(None, overrides={"store": {"url": "sqlite:///srv/d/y.sqlite3"}}).settings
    assert settings.store.engine == "sqlite" and settings.store.path == Path("/srv/d/y.sqlite3")


def test_a_url_and_a_path_naming_two_files_are_refused(tmp_path):
    path = tmp_path / "dialerd.yaml"
    path.write_text("store:\n  url: sqlite:///srv/a.sqlite3\n  path: /srv/b.sqlite3\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "store.url names /srv/a.sqlite3 and store.path names /srv/b.sqlite3" in str(caught.value)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://db/dialerd", "must start with sqlite:/// or postgresql://"),
        ("sqlite://relative.db", "sqlite:/// followed by an absolute path"),
        ("postgresql://dialer:hunter2@db:5432/dialerd", "the password does not belong in the URL"),
        ("postgresql://dialer@db:5432/", "names no database"),
        ("postgresql://db:5432/dialerd", "names no user"),
        ("postgresql://dialer@db:99999/dialerd", "not a valid URL"),
        ("postgresql://dialer@db/dialerd?sslmode=sometimes", "sslmode must be one of"),
        ("postgresql://dialer@db/dialerd?options=-c", "unknown option 'options'"),
    ],
)
def test_a_bad_url_names_file_line_and_field(tmp_path, url, message):
    path = tmp_path / "dialerd.yaml"
    path.write_text(f"phones:\n  default_region: RU\nstore:\n  url: {url}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (problem,) = caught.value.problems
    assert problem.startswith(f"{path}:4: store.url: ") and message in problem
    assert "hunter2" not in problem


def test_a_postgresql_url_is_parsed_and_its_password_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("DIALERD_STORE__PASSWORD", "s3cret")
    store = StoreSettings(url="postgresql://dialer@db.lan:6432/calls?sslmode=require")
    target = store.postgres
    assert (target.host, target.port, target.user, target.database, target.sslmode) == (
        "db.lan", 6432, "dialer", "calls", "require",
    )  # fmt: skip
    assert store.engine == "postgresql" and str(target) == "postgresql://dialer@db.lan:6432/calls"
    settings = StoreSettings.model_validate({"url": store.url, "password": "s3cret"})
    assert settings.resolved_password() == "s3cret"
    assert "s3cret" not in repr(settings)


def test_the_password_file_is_read_and_a_password_in_the_yaml_refused(tmp_path):
    secret = tmp_path / "pg.secret"
    secret.write_text("from-file\n")
    store = StoreSettings(url="postgresql://dialer@db/calls", password_file=secret)
    assert store.resolved_password() == "from-file"
    path = tmp_path / "dialerd.yaml"
    path.write_text("store:\n  password: hunter2\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "store.password: secrets do not belong in the config file" in str(caught.value)


def test_a_postgresql_store_is_refused_by_a_command_not_serving_it_rather_than_using_sqlite(
    tmp_path,
):
    path = tmp_path / "dialerd.yaml"
    path.write_text("store:\n  url: postgresql://dialer@db:5432/dialerd\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, engines=("sqlite",))
    assert caught.value.problems == [
        f"{path}:2: store.url: this command runs on a SQLite file of its own, not on a"
        " PostgreSQL store"
    ]
