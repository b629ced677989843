"""``dialerd migrate`` on a PostgreSQL store: the schema made once, the password from the
environment or its file and never shown, a server that refuses us said in one line; a
command that only reads refusing a database without our tables (and making none); and the
demo refusing to fill a PostgreSQL store named in the environment."""

import secrets

import pytest

from dialerd.cli.main import main
from dialerd.store.db import migration_files
from dialerd.store.pg import PG_MIGRATIONS_DIR

pytestmark = pytest.mark.postgres


@pytest.fixture
def database(postgres):
    name = postgres.new_database()
    yield name
    postgres.drop_database(name)


def config(tmp_path, url, extra=""):
    path = tmp_path / "dialerd.yaml"
    path.write_text(f"store:\n  url: {url}\n{extra}", encoding="utf-8")
    return str(path)


def test_migrate_makes_the_schema_once(postgres, database, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DIALERD_STORE__PASSWORD", postgres.password)
    path = config(tmp_path, postgres.url(database))
    assert main(["migrate", "--config", path]) == 0
    assert capsys.readouterr().out == f"{postgres.url(database)}: schema up to date\n"
    applied = postgres.psql(
        "SELECT string_agg(name, ' ' ORDER BY version) FROM schema_migrations", database
    )
    assert applied.split() == [path.name for _, path in migration_files(PG_MIGRATIONS_DIR)]
    assert main(["migrate", "--config", path]) == 0  # again: nothing left to apply
    assert postgres.psql("SELECT count(*) FROM schema_migrations", database).strip() == str(
        len(applied.split())
    )


def test_the_password_may_come_from_its_file(postgres, database, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("DIALERD_STORE__PASSWORD", raising=False)
    secret = tmp_path / "store.secret"
    secret.write_text(postgres.password + "\n", encoding="utf-8")
    path = config(tmp_path, postgres.url(database), f"  password_file: {secret}\n")
    assert main(["migrate", "--config", path]) == 0
    assert "schema up to date" in capsys.readouterr().out


def test_a_wrong_password_is_said_plainly_and_never_shown(
    postgres, database, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("DIALERD_STORE__PASSWORD", "wrong-secret-4711")
    assert main(["migrate", "--config", config(tmp_path, postgres.url(database))]) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        f"dialerd: cannot reach the PostgreSQL store at {postgres.url(database)}: "
    )
    assert "password authentication failed" in err
    assert "wrong-secret-4711" not in err and "Traceback" not in err and err.count("\n") == 1


def test_no_server_there_is_one_line_too(tmp_path, monkeypatch, capsys):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("DIALERD_STORE__PASSWORD", "x")
    url = f"postgresql://dialer@127.0.0.1:{port}/dialerd"
    assert main(["migrate", "--config", config(tmp_path, url)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"dialerd: cannot reach the PostgreSQL store at {url}: ")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    "command",
    [
        ["leads", "list"],
        ["leads", "show", "1"],
        ["plan"],
        ["explain", "1"],
        ["dnc", "list"],
        ["dnc", "remove", "+7916"],
        ["outbox", "list"],
        ["outbox", "retry", "--all"],
        ["report"],
        ["staffing"],
    ],
    ids=" ".join,
)
def test_a_read_on_a_database_without_our_tables_is_one_line_and_makes_none(
    postgres, database, tmp_path, monkeypatch, capsys, command
):
    monkeypatch.setenv("DIALERD_STORE__PASSWORD", postgres.password)
    url = postgres.url(database)
    assert main([*command, "--config", config(tmp_path, url)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"dialerd: no dialerd tables in the PostgreSQL store at {url}"
        " (check store.url; 'dialerd migrate' makes them)\n"
    )
    tables = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
    assert postgres.psql(tables, database).strip() == "0"


def test_a_command_that_adds_makes_the_schema_as_migrate_would(
    postgres, database, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("DIALERD_STORE__PASSWORD", postgres.password)
    path = config(tmp_path, postgres.url(database))
    assert main(["leads", "add", "+79161234567", "--order-id", "A-1", "--config", path]) == 0
    assert capsys.readouterr().out == "lead 1 added: +79161234567\n"
    assert main(["leads", "list", "--format", "csv", "--config", path]) == 0
    assert "+79161234567" in capsys.readouterr().out


def test_a_read_with_no_server_there_is_one_line(tmp_path, monkeypatch, capsys):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("DIALERD_STORE__PASSWORD", "x")
    url = f"postgresql://dialer@127.0.0.1:{port}/dialerd"
    assert main(["report", "--config", config(tmp_path, url)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"dialerd: cannot reach the PostgreSQL store at {url}: ")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_the_demo_never_runs_on_a_postgresql_store_from_the_environment(
    postgres, database, monkeypatch, capsys
):
    monkeypatch.setenv("DIALERD_STORE__URL", postgres.url(database))
    monkeypatch.setenv("DIALERD_STORE__PASSWORD", postgres.password)
    assert main(["demo", "--duration", "1", "--no-live"]) == 2
    assert capsys.readouterr().err == (
        "dialerd: config error: environment DIALERD_STORE__URL: store.url: this command runs"
        " on a SQLite file of its own, not on a PostgreSQL store\n"
    )
    tables = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
    assert postgres.psql(tables, database).strip() == "0"


def test_the_daemon_s_role_needs_no_right_to_create_tables(postgres, tmp_path, monkeypatch, capsys):
    """The grants of README "Running on PostgreSQL": the owner migrates, the daemon's role
    only reads and writes rows, and still opens the store (its migrations all applied)."""
    token = secrets.token_hex(3)
    owner, app, database = f"owner_{token}", f"app_{token}", f"roles_{token}"
    postgres.psql(f"CREATE ROLE {owner} LOGIN PASSWORD 'owner-pw'")
    postgres.psql(f"CREATE ROLE {app} LOGIN PASSWORD 'app-pw'")
    postgres.psql(f"CREATE DATABASE {database} OWNER {owner}")
    try:
        for grant in (
            "REVOKE ALL ON SCHEMA public FROM PUBLIC",
            f"ALTER SCHEMA public OWNER TO {owner}",
            f"GRANT USAGE ON SCHEMA public TO {app}",
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public"
            f" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app}",
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public"
            f" GRANT USAGE, SELECT ON SEQUENCES TO {app}",
        ):
            postgres.psql(grant, database)
        as_app = config(tmp_path, f"postgresql://{app}@{postgres.host}:{postgres.port}/{database}")
        monkeypatch.setenv("DIALERD_STORE__PASSWORD", "app-pw")
        assert main(["migrate", "--config", as_app]) == 1  # no right to make the schema
        assert "run dialerd migrate as the schema's owner" in capsys.readouterr().err

        (tmp_path / "owner").mkdir()
        url = f"postgresql://{owner}@{postgres.host}:{postgres.port}/{database}"
        as_owner = config(tmp_path / "owner", url)
        monkeypatch.setenv("DIALERD_STORE__PASSWORD", "owner-pw")
        assert main(["migrate", "--config", as_owner]) == 0
        monkeypatch.setenv("DIALERD_STORE__PASSWORD", "app-pw")
        capsys.readouterr()
        assert main(["status", "--config", as_app]) == 0  # opens (and checks) the store
        assert capsys.readouterr().out.strip().endswith("no daemon running")
    finally:
        postgres.drop_database(database)
        postgres.psql(f"DROP ROLE IF EXISTS {app}")
        postgres.psql(f"DROP ROLE IF EXISTS {owner}")
