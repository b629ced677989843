"""`dialerd leads import FILE`: a shop's export in, through the API's own intake rules; on a
SQLite file and on a PostgreSQL store (``store.url`` and its password in the environment)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import pty
import select
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from dialerd.cli.main import main
from dialerd.config import load_config
from dialerd.intake.importing import import_sheet, map_columns, store_commit
from dialerd.intake.sheets import open_sheet
from dialerd.store import sql
from dialerd.store.db import StoreMissing
from dialerd.store.sql import open_configured

ROOT = Path(__file__).resolve().parents[2]
MSK = ZoneInfo("Europe/Moscow")
pytestmark = pytest.mark.engines("sqlite", "postgresql")


@pytest.fixture(autouse=True)
def store_engine(engine_store: str | None) -> str | None:
    """Every test once on SQLite and once on PostgreSQL (``engine_store``)."""
    return engine_store


def stored(config: Path | None, statement: str, *, store: Path | None = None) -> list[dict] | None:
    """The rows of ``statement`` on the store the config names (None: no store there),
    without creating one."""
    overrides = {"store": {"path": str(store)}} if store is not None else None
    where = load_config(config, overrides=overrides).settings.store

    async def go() -> list[dict] | None:
        try:
            async with open_configured(where, create=False) as db:
                return [dict(row) for row in await sql.rows(db.conn, statement)]
        except StoreMissing:
            return None

    return asyncio.run(go())


class Shop:
    """A config file and its store; the CLI pointed at both."""

    def __init__(self, tmp_path: Path, extra: str = "") -> None:
        self.dir = tmp_path
        self.store = tmp_path / "state" / "dialerd.sqlite3"
        self.config = tmp_path / "dialerd.yaml"
        self.config.write_text(
            f"store:\n  path: {self.store}\nlogging: {{level: warning}}\n"
            "campaigns:\n  default: {}\n  web: {}\n" + extra
        )

    def run(self, *args: str, capsys) -> tuple[int, str, str]:
        code = main([*args, "--config", str(self.config)])
        out, err = capsys.readouterr()
        return code, out, err

    def imported(self, path: Path, *args: str, capsys) -> dict:
        code, out, err = self.run(
            "leads", "import", str(path), *args, "--format", "json", capsys=capsys
        )
        assert (code, err) == (0, ""), err
        return json.loads(out)

    def leads(self) -> list[dict]:
        return stored(self.config, "SELECT * FROM leads ORDER BY id") or []

    def count(self, table: str) -> int:
        (row,) = stored(self.config, f"SELECT COUNT(*) AS n FROM {table}") or [{"n": 0}]
        return int(row["n"])

    def has_store(self) -> bool:
        return stored(self.config, "SELECT 1") is not None


def write_csv(path: Path, rows: list[list[str]], *, encoding="utf-8", delimiter=",") -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


RUSSIAN_EXPORT = [
    ["№ заказа", "Дата", "ФИО", "Телефон", "Сумма", "Товары", "Комментарий", "Регион доставки"],
    ["A-1", "01.12.2026", "Анна Петрова", "8 (916) 123-45-67", "1 299,90", "Клавиатура", "после 18", "Калининградская обл."],
    ["A-2", "01.12.2026", "Борис", "+7 916 12", "100", "", "", ""],
    ["A-3", "01.12.2026", "Вера", "+7 (343) 212-34-56", "2500", "[\"Мышь\", \"Коврик\"]", "", "Свердловская область"],
]  # fmt: skip


def dialerd(*args: str) -> subprocess.CompletedProcess[str]:
    """The real command, on this checkout's code (not whatever the venv installed)."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "dialerd.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": path},
    )


def test_a_windows_1251_semicolon_export_with_russian_headers(tmp_path):
    shop = Shop(tmp_path)
    export = write_csv(tmp_path / "заказы.csv", RUSSIAN_EXPORT, encoding="cp1251", delimiter=";")
    result = dialerd("leads", "import", str(export), "--config", str(shop.config))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == f"{export}: 3 rows: 2 accepted, 0 duplicates, 1 rejected"
    assert lines[1] == (
        "columns: № заказа → order_id, ФИО → name, Телефон → phone, Сумма → amount,"
        " Товары → items, Комментарий → comment, Регион доставки → region"
    )
    assert lines[2] == "ignored: Дата (keep one with --map COLUMN=FIELD)"
    assert "  line 3: phone: is not a valid number for its country" in lines
    anna, vera = shop.leads()
    assert (anna["phone"], anna["name"], anna["order_id"], anna["amount_minor"]) == (
        "+79161234567",
        "Анна Петрова",
        "A-1",
        129990,
    )
    assert (anna["region"], anna["source"], json.loads(anna["items"])) == (
        "RU-KGD",
        "import",
        ["Клавиатура"],
    )
    assert (vera["region"], json.loads(vera["items"])) == ("RU-SVE", ["Мышь", "Коврик"])


def test_rejected_rows_go_to_the_rejects_file_with_their_line_and_reason(tmp_path, capsys):
    shop = Shop(tmp_path)
    export = tmp_path / "orders.csv"
    export.write_text(
        "phone,name,comment,timezone\n"
        "+79161230001,Anna,fine,\n"
        '+79161230002,Boris,"two\nlines",Mars/Base\n'  # a quoted field over lines 3-4
        "not a phone,Vera,,\n"
        "+79161230003,Gleb,,Asia/Vladivostok\n",
        encoding="utf-8",
    )
    summary = shop.imported(export, capsys=capsys)
    assert (summary["rows"], summary["accepted"], summary["rejected"]) == (4, 2, 2)
    assert [(r["line"], r["field"]) for r in summary["rejected_rows"]] == [
        (3, "timezone"),
        (5, "phone"),
    ]
    rejects = tmp_path / "orders.rejects.csv"
    assert summary["rejects_file"] == str(rejects)
    with rejects.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["line", "reason", "phone", "name", "comment", "timezone"]
    assert rows[1][:3] == ["3", rows[1][1], "+79161230002"]
    assert rows[1][1].startswith("timezone: 'Mars/Base' is not an IANA time zone")
    assert rows[1][4] == "two\nlines"
    assert rows[2][:3] == [
        "5",
        "phone: may contain only digits, spaces, '+', '-', '.', '(' and ')'",
        "not a phone",
    ]
    assert [lead["timezone"] for lead in shop.leads()] == [None, "Asia/Vladivostok"]


def test_a_clean_import_leaves_no_rejects_file(tmp_path, capsys):
    shop = Shop(tmp_path)
    export = write_csv(tmp_path / "ok.csv", [["Phone"], ["+79161230001"]])
    assert shop.imported(export, capsys=capsys)["rejects_file"] is None
    assert not (tmp_path / "ok.rejects.csv").exists()


def test_duplicates_name_the_lead_they_duplicate(tmp_path, capsys):
    shop = Shop(tmp_path)
    code, out, _ = shop.run("leads", "add", "+7 916 123-00-01", "--order-id", "A-1", capsys=capsys)
    assert code == 0 and out.startswith("lead 1 added")
    export = write_csv(
        tmp_path / "orders.csv",
        [
            ["Телефон", "Заказ"],
            ["89161230001", "A-1"],  # lead 1, added by hand
            ["+79161230002", "B-1"],  # lead 2
            ["+7 916 123-00-02", "B-1"],  # lead 2 again, in the same file
            ["+79161230002", "B-2"],  # a new order of the same phone: a new lead
        ],
    )
    code, out, _ = shop.run("leads", "import", str(export), capsys=capsys)
    assert code == 0
    assert out.splitlines()[0] == f"{export}: 4 rows: 2 accepted, 2 duplicates, 0 rejected"
    assert "  line 2: duplicate of lead 1 (rule phone_and_order)" in out.splitlines()
    assert "  line 4: duplicate of lead 2 (rule phone_and_order)" in out.splitlines()
    assert [(lead["id"], lead["order_id"]) for lead in shop.leads()] == [
        (1, "A-1"),
        (2, "B-1"),
        (3, "B-2"),
    ]
    with (tmp_path / "orders.rejects.csv").open(encoding="utf-8") as f:
        reasons = [row["reason"] for row in csv.DictReader(f)]
    assert reasons == [
        "duplicate of lead 1 (rule phone_and_order)",
        "duplicate of lead 2 (rule phone_and_order)",
    ]


def test_a_mapping_overrides_the_headers(tmp_path, capsys):
    shop = Shop(tmp_path)
    export = write_csv(
        tmp_path / "crm.csv",
        [
            ["Контакт", "Телефон", "Регион", "E-mail"],
            ["+79161230001", "office 123", "где-то", "anna@example.com"],
        ],
    )
    code, _, err = shop.run("leads", "import", str(export), capsys=capsys)
    assert code == 0  # Телефон is taken as the phone, and is not one: rejected
    summary = shop.imported(
        export,
        "--map", "Контакт=phone", "--map", "Телефон=-", "--map", "Регион=-",
        "--map", "E-mail=metadata.email", "--campaign", "web",
        capsys=capsys,
    )  # fmt: skip
    assert summary["columns"] == {"Контакт": "phone", "E-mail": "metadata.email"}
    assert summary["ignored_columns"] == ["Телефон", "Регион"]
    assert summary["accepted"] == 1
    (lead,) = shop.leads()
    assert (lead["phone"], lead["campaign"], json.loads(lead["metadata"])) == (
        "+79161230001",
        "web",
        {"email": "anna@example.com"},
    )


def test_file_level_problems_are_one_line_and_exit_2(tmp_path, capsys):
    shop = Shop(tmp_path)
    export = write_csv(tmp_path / "x.csv", [["Email", "Name"], ["a@b", "Anna"]])
    code, out, err = shop.run("leads", "import", str(export), capsys=capsys)
    assert (code, out) == (2, "")
    assert err == (
        f"dialerd: leads import: {export}: no phone column among 'Email', 'Name'"
        " (name it with --map COLUMN=phone)\n"
    )
    code, _, err = shop.run("leads", "import", str(export), "--map", "Email=mail", capsys=capsys)
    assert code == 2 and "'mail' is not a lead field" in err
    code, _, err = shop.run("leads", "import", str(tmp_path / "none.csv"), capsys=capsys)
    assert code == 2 and err.startswith("dialerd: leads import: ") and "No such file" in err
    code, _, err = shop.run("leads", "import", str(export), "--campaign", "nope", capsys=capsys)
    assert code == 2 and "unknown campaign 'nope'" in err
    assert not shop.has_store()


def test_a_number_on_the_dnc_list_is_stored_closed(tmp_path, capsys):
    shop = Shop(tmp_path)
    assert shop.run("dnc", "add", "+7 916 123-00-02", capsys=capsys)[0] == 0
    export = write_csv(tmp_path / "o.csv", [["phone"], ["+79161230001"], ["+79161230002"]])
    summary = shop.imported(export, capsys=capsys)
    assert (summary["accepted"], summary["closed_dnc"]) == (2, 1)
    assert [(lead["state"], lead["close_reason"]) for lead in shop.leads()] == [
        ("waiting", None),
        ("closed", "dnc"),
    ]


def test_a_dry_run_stores_nothing_and_reports_what_would_happen(tmp_path, capsys):
    shop = Shop(tmp_path)
    assert shop.run("leads", "add", "+79161230001", "--order-id", "A-1", capsys=capsys)[0] == 0
    before = shop.leads()
    export = write_csv(
        tmp_path / "o.csv",
        [["phone", "order"], ["+79161230001", "A-1"], ["+79161230002", "B"], ["+79161230002", "B"], ["x", ""]],
    )  # fmt: skip
    summary = shop.imported(export, "--dry-run", capsys=capsys)
    assert summary["dry_run"] is True
    assert (summary["accepted"], summary["duplicates"], summary["rejected"]) == (1, 2, 1)
    assert summary["duplicate_rows"] == [
        {"line": 2, "duplicate_of": 1, "duplicate_of_line": None, "rule": "phone_and_order"},
        {"line": 4, "duplicate_of": None, "duplicate_of_line": 3, "rule": "phone_and_order"},
    ]
    assert shop.leads() == before
    assert (shop.count("duplicates"), shop.count("outbox")) == (0, 0)


def test_a_dry_run_finds_duplicates_across_batches(tmp_path):
    """Nothing is stored between batches, so the file's own earlier rows are remembered."""
    settings = load_config(
        None, overrides={"store": {"path": str(tmp_path / "s.sqlite3")}}
    ).settings
    rows = [["phone"]] + [[f"+7916123{n % 3000:04d}"] for n in range(4500)]
    export = write_csv(tmp_path / "o.csv", rows)

    async def go():
        from dialerd.intake.importing import trial_commit

        async with open_configured(settings.store) as db:
            with export.open("rb") as source, open_sheet(source) as sheet:
                return await import_sheet(
                    sheet, map_columns(sheet.header), settings, 1.8e9,
                    trial_commit(db, settings, 1.8e9), dry_run=True, batch_size=1000,
                )  # fmt: skip

    summary = asyncio.run(go())
    assert (summary.accepted, summary.duplicates) == (3000, 1500)
    assert summary.duplicate_rows[0]["duplicate_of_line"] == 2


def test_xlsx_with_number_and_date_cells(tmp_path, capsys):
    shop = Shop(tmp_path, "window: {timezone: Europe/Moscow}\n")
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Заказы")
    sheet.append(["Телефон", "Имя", "Сумма", "Перезвонить", "Часовой пояс"])
    sheet.append([79161230001, "Анна", 1299.9, datetime(2030, 1, 10, 10, 5), "Asia/Omsk"])
    sheet.append([None, None, None, None, None])  # a blank row: skipped
    sheet.append(["+7 916 123-00-02", "Борис", "abc", None, None])
    book.save(tmp_path / "orders.xlsx")
    summary = shop.imported(tmp_path / "orders.xlsx", capsys=capsys)
    assert (summary["rows"], summary["accepted"], summary["rejected"]) == (2, 1, 1)
    assert summary["rejected_rows"] == [
        {"line": 4, "field": "amount", "reason": "'abc' is not a number"}
    ]
    (lead,) = shop.leads()
    agreed = datetime(2030, 1, 10, 10, 5, tzinfo=MSK).timestamp()
    assert (lead["phone"], lead["amount_minor"], lead["callback_at"], lead["timezone"]) == (
        "+79161230001",
        129990,
        agreed,
        "Asia/Omsk",
    )


@pytest.mark.engines("sqlite")  # how the file is read, not the store: 50,000 rows once is enough
def test_rows_are_streamed_in_batches_not_read_whole(tmp_path):
    """50,000 rows: when the first batch commits, only its part of the file has been read."""
    settings = load_config(
        None, overrides={"store": {"path": str(tmp_path / "s.sqlite3")}}
    ).settings
    export = tmp_path / "big.csv"
    with export.open("w", encoding="utf-8") as f:
        f.write("Телефон,ФИО,Номер заказа,Сумма,Комментарий\n")
        for n in range(50_000):
            f.write(f"+7916{n:07d},Покупатель {n},Z-{n},{n % 5000}.50,доставка курьером\n")
    size = export.stat().st_size
    read_at_commit: list[int] = []

    async def go():
        async with open_configured(settings.store) as db:
            commit = store_commit(db, settings, 1.8e9)
            with export.open("rb") as source, open_sheet(source) as sheet:

                async def counted(leads):
                    read_at_commit.append(source.tell())
                    return await commit(leads)

                return await import_sheet(
                    sheet, map_columns(sheet.header), settings, 1.8e9, counted, batch_size=2000
                )

    summary = asyncio.run(go())
    assert (summary.rows, summary.accepted) == (50_000, 50_000)
    assert len(read_at_commit) == 25
    assert read_at_commit[0] < size / 10  # 2,000 rows (and a read-ahead buffer) of 50,000
    counted = stored(None, "SELECT COUNT(*) AS n FROM leads", store=tmp_path / "s.sqlite3")
    assert counted == [{"n": 50_000}]


def test_leads_add_takes_a_timezone_and_a_region(tmp_path, capsys):
    shop = Shop(tmp_path)
    code, _, err = shop.run(
        "leads", "add", "+79161230001", "--region", "Калининградская область", capsys=capsys
    )
    assert (code, err) == (0, "")
    code, _, err = shop.run(
        "leads", "add", "+79161230002", "--timezone", "Mars/Base", capsys=capsys
    )
    assert code == 2
    assert err.startswith("dialerd: lead rejected: timezone: 'Mars/Base' is not an IANA time zone")
    code, _, err = shop.run("leads", "add", "+79161230003", "--region", "RU-XXX", capsys=capsys)
    assert code == 2 and err.startswith("dialerd: lead rejected: region: 'RU-XXX': no time zone")
    assert [(lead["region"], lead["timezone"]) for lead in shop.leads()] == [("RU-KGD", None)]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig"])
def test_utf8_with_or_without_bom(tmp_path, capsys, encoding):
    shop = Shop(tmp_path)
    export = write_csv(
        tmp_path / "o.csv", [["Телефон", "Имя"], ["+79161230001", "Анна"]], encoding=encoding
    )
    assert shop.imported(export, capsys=capsys)["columns"] == {"Телефон": "phone", "Имя": "name"}
    assert shop.leads()[0]["name"] == "Анна"


def test_a_progress_bar_on_a_terminal_only(tmp_path):
    """stderr a terminal: rich draws the bar there (and clears it); stdout keeps the summary."""
    shop = Shop(tmp_path)
    export = tmp_path / "big.csv"
    export.write_text(
        "phone\n" + "".join(f"+7916{n:07d}\n" for n in range(20_000)), encoding="utf-8"
    )
    leader, follower = pty.openpty()
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-m", "dialerd.cli", "leads", "import", str(export), "--config", str(shop.config)],
        stdout=subprocess.PIPE,
        stderr=follower,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": path, "COLUMNS": "100"},
    )  # fmt: skip
    os.close(follower)
    drawn = b""
    while select.select([leader], [], [], 0.2)[0]:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        drawn += chunk
    os.close(leader)
    assert result.returncode == 0
    assert result.stdout.startswith(f"{export}: 20000 rows: 20000 accepted")
    assert b"importing" in drawn and b"rows" in drawn


def _export_with_every_kind_of_row(tmp_path: Path) -> Path:
    rows = [["№ заказа", "ФИО", "Телефон", "Сумма", "Регион доставки", "Товары", "Подъезд"]]
    for n in range(6000):
        order = n - 1 if n % 60 == 0 else n  # now and then an order sent twice
        phone = f"+7 916 {order:07d}" if n % 97 else "+7 916 12"  # or a broken phone
        rows.append(
            [f"Z-{order}", f"Покупатель {n}", phone, f"{n},50", "г. Москва", "Чайник", str(n % 9)]
        )
    return write_csv(tmp_path / "orders.csv", rows, delimiter=";")


def _die(rows: list) -> None:
    """The checking process, killed (by the OOM killer, say) at its first batch."""
    os._exit(3)


def _outcome(shop: Shop, summary: dict) -> tuple:
    leads = [
        (lead["id"], lead["phone"], lead["order_id"], lead["name"], lead["amount_minor"],
         lead["region"], lead["state"], lead["items"], lead["metadata"], lead["source"])
        for lead in shop.leads()
    ]  # fmt: skip
    rejects = Path(summary["rejects_file"]).read_text(encoding="utf-8")
    counts = {k: summary[k] for k in ("rows", "accepted", "duplicates", "rejected")}
    return counts, summary["duplicate_rows"], summary["rejected_rows"], rejects, leads


def test_a_large_file_checked_in_a_second_process_imports_the_same(
    tmp_path, capsys, monkeypatch, engine, request
):
    """A large file's rows are checked in a forked process: the same leads, duplicates,
    rejected rows and rejects file as when this process checks them; and if that process
    dies, the import still finishes the same."""
    from dialerd.cli import leads_import
    from dialerd.intake import importing

    def store_of_its_own() -> None:
        """Each shop below a store of its own: on PostgreSQL, a database of its own."""
        if engine == "postgresql":
            server = request.getfixturevalue("postgres")
            name = server.new_database()
            request.addfinalizer(lambda: server.drop_database(name))
            monkeypatch.setenv("DIALERD_STORE__URL", server.url(name))

    for name in ("here", "there", "died"):
        (tmp_path / name).mkdir()
    export = _export_with_every_kind_of_row(tmp_path)
    here = Shop(tmp_path / "here")
    expected = _outcome(
        here, here.imported(export, "--map", "Подъезд=metadata.entrance", capsys=capsys)
    )
    assert expected[0] == {"rows": 6000, "accepted": 5841, "duplicates": 97, "rejected": 62}
    assert [json.loads(v) for v in expected[-1][1][-3:-1]] == [["Чайник"], {"entrance": "2"}]

    used = []
    real = importing.checking_process

    def spied(*args):
        used.append(os.getpid())
        return real(*args)

    monkeypatch.setattr(leads_import, "checking_process", spied)
    monkeypatch.setattr(leads_import, "WORKER_FROM_BYTES", 0)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    store_of_its_own()
    there = Shop(tmp_path / "there")
    assert (
        _outcome(there, there.imported(export, "--map", "Подъезд=metadata.entrance", capsys=capsys))
        == expected
    )
    assert used == [os.getpid()]

    monkeypatch.setattr(importing, "_check_here", _die)
    store_of_its_own()
    died = Shop(tmp_path / "died")
    assert (
        _outcome(died, died.imported(export, "--map", "Подъезд=metadata.entrance", capsys=capsys))
        == expected
    )
    assert len(used) == 2
