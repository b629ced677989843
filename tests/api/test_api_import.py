"""`POST /api/v1/leads/import`: the CLI's import over HTTP, with the same summary; and the
lead's own time zone and region through the JSON intake."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
from pathlib import Path

import openpyxl
import pytest
from support.api import http_daemon, settled

from dialerd.cli.main import main

pytestmark = pytest.mark.engines("sqlite", "postgresql")  # the daemon fixture's store

ROOT = Path(__file__).resolve().parents[2]
ANSWERS = "+79161231001"  # the simulator answers (4th digit from the end: 1)
EXPORT = (
    "Номер заказа;ФИО;Телефон;Сумма;Регион доставки\r\n"
    f"A-1;Анна;{ANSWERS};1 299,90;Калининградская обл.\r\n"
    "A-2;Борис;+7 916 12;100;\r\n"
    f"A-1;Анна;{ANSWERS};1299.90;\r\n"
    "A-3;Вера;+7 916 123-30-01;5;Марс\r\n"
).encode("cp1251")


async def stored(daemon, query: str) -> list[tuple]:
    return await daemon.rows(query)


async def test_an_upload_answers_the_same_summary_as_the_cli_and_is_dialed_at_once(
    api, daemon, tmp_path, engine, request
):
    response = await api.post(
        "/api/v1/leads/import", content=EXPORT, headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    summary = response.json()
    assert {k: summary[k] for k in ("rows", "accepted", "duplicates", "rejected")} == {
        "rows": 4,
        "accepted": 1,
        "duplicates": 1,
        "rejected": 2,
    }
    assert summary["duplicate_rows"] == [
        {"line": 4, "duplicate_of": 1, "duplicate_of_line": None, "rule": "phone_and_order"}
    ]
    assert [(r["line"], r["field"]) for r in summary["rejected_rows"]] == [
        (3, "phone"),
        (5, "region"),
    ]
    lead = await settled(api, 1, timeout_s=5)  # woken: the safety recheck is 30 s away
    assert (lead["name"], lead["region"], lead["source"]) == ("Анна", "RU-KGD", "import")
    assert lead["attempts"][0]["outcome"] == "answered"

    other = tmp_path / "cli"
    other.mkdir()
    config = other / "dialerd.yaml"
    config.write_text(f"store: {{path: {other / 's.sqlite3'}}}\nlogging: {{level: warning}}\n")
    export = other / "export.csv"
    export.write_bytes(EXPORT)
    argv = ["leads", "import", str(export), "--format", "json", "--config", str(config)]
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    if engine == "postgresql":  # a store of the CLI's own, as the SQLite file is
        server = request.getfixturevalue("postgres")
        name = server.new_database()
        request.addfinalizer(lambda: server.drop_database(name))
        env["DIALERD_STORE__URL"] = server.url(name)
    cli = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dialerd.cli", *argv, stdout=asyncio.subprocess.PIPE, env=env
    )
    out, _ = await cli.communicate()
    assert cli.returncode == 0
    from_cli = json.loads(out)
    assert from_cli.pop("rejects_file") == str(other / "export.rejects.csv")
    assert {**summary, "rejects_file": None} == {**from_cli, "rejects_file": None}


async def test_a_cli_import_beside_the_running_daemon_wakes_it(api, daemon, tmp_path, capsys):
    export = tmp_path / "leads.csv"
    export.write_text(f"phone,name\n{ANSWERS},Anna\n", encoding="utf-8")
    argv = ["leads", "import", str(export), "--config", str(daemon.config)]
    assert await asyncio.to_thread(main, argv) == 0
    assert f"{export}: 1 rows: 1 accepted" in capsys.readouterr().out
    lead = await settled(api, 1, timeout_s=5)
    assert lead["source"] == "import"


async def test_an_xlsx_upload_with_a_mapping_and_a_dry_run(api, daemon):
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(["Контакт", "Email"])
    sheet.append([79161231001, "anna@example.com"])
    sheet.append([79161232001, "boris@example.com"])
    body = io.BytesIO()
    book.save(body)
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    params = [("map", "Контакт=phone"), ("map", "Email=metadata.email"), ("dry_run", "true")]
    response = await api.post(
        "/api/v1/leads/import",
        params=params,
        content=body.getvalue(),
        headers={"Content-Type": xlsx},
    )
    assert response.status_code == 200, response.text
    assert (response.json()["accepted"], response.json()["dry_run"]) == (2, True)
    assert await stored(daemon, "SELECT COUNT(*) FROM leads") == [(0,)]
    response = await api.post(
        "/api/v1/leads/import",
        params=params[:2] + [("campaign", "web")],
        content=body.getvalue(),
        headers={"Content-Type": xlsx},
    )
    assert response.json()["columns"] == {"Контакт": "phone", "Email": "metadata.email"}
    assert await stored(daemon, "SELECT phone, campaign, metadata FROM leads ORDER BY id") == [
        ("+79161231001", "web", '{"email": "anna@example.com"}'),
        ("+79161232001", "web", '{"email": "boris@example.com"}'),
    ]


async def test_import_refusals_have_the_api_error_shape(api, daemon):
    def error(field, message):
        return {"error": {"code": "invalid", "message": message, "field": field}}

    response = await api.post("/api/v1/leads/import", content=b"Email\r\na@b\r\n")
    assert (response.status_code, response.json()) == (
        422,
        error(None, "no phone column among 'Email' (name it with --map COLUMN=phone)"),
    )
    response = await api.post("/api/v1/leads/import", content=b"")
    assert response.status_code == 422 and response.json()["error"]["message"].startswith(
        "the body is empty"
    )
    response = await api.post(
        "/api/v1/leads/import", params={"campaign": "nope"}, content=b"phone\r\n+79161231001\r\n"
    )
    assert (response.status_code, response.json()["error"]["field"]) == (422, "campaign")
    response = await api.post(
        "/api/v1/leads/import", params={"map": "phone"}, content=b"phone\r\n+79161231001\r\n"
    )
    assert (response.status_code, response.json()["error"]["field"]) == (422, "map")
    async with daemon.client(token=None) as anonymous:
        response = await anonymous.post("/api/v1/leads/import", content=b"phone\r\n1\r\n")
    assert response.status_code == 401
    assert await stored(daemon, "SELECT COUNT(*) FROM leads") == [(0,)]


async def test_an_upload_over_max_import_bytes_is_413_while_json_keeps_its_own_limit(tmp_path):
    extra = {"api": {"max_import_bytes": 4096, "max_body_bytes": 2048}}
    async with http_daemon(tmp_path, extra=extra) as daemon, daemon.client() as api:
        rows = "".join(f"+7916123{n:04d}\r\n" for n in range(300))  # ~4.2 KB
        small = "phone\r\n" + rows[: 14 * 200]  # ~2.8 KB: over max_body_bytes, under the import's
        response = await api.post("/api/v1/leads/import", content=small.encode())
        assert (response.status_code, response.json()["accepted"]) == (200, 200)

        async def chunks():  # no Content-Length: refused while it streams
            body = ("phone\r\n" + rows).encode()
            for start in range(0, len(body), 1000):
                yield body[start : start + 1000]

        response = await api.post("/api/v1/leads/import", content=chunks())
        assert response.status_code == 413
        assert response.json()["error"] == {
            "code": "body_too_large",
            "message": "the file exceeds 4096 bytes (api.max_import_bytes)",
            "field": None,
        }
        assert await stored(daemon, "SELECT COUNT(*) FROM leads") == [(200,)]


async def test_the_openapi_document_has_the_upload(api):
    spec = (await api.get("/openapi.json")).json()
    operation = spec["paths"]["/api/v1/leads/import"]["post"]
    assert set(operation["requestBody"]["content"]) == {
        "text/csv",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }
    assert [p["name"] for p in operation["parameters"]] == ["campaign", "dry_run", "map"]
    assert operation["security"] == [{"bearer": []}]
    lead_in = spec["components"]["schemas"]["LeadIn"]["properties"]
    assert {"timezone", "region"} <= set(lead_in)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"timezone": "Mars/Base"}, "timezone", "is not an IANA time zone"),
        ({"timezone": "UTC+3"}, "timezone", "is not an IANA time zone"),
        ({"region": "RU-XXX"}, "region", "no time zone known for this region code"),
        ({"region": "Марс"}, "region", "not a region dialerd knows"),
        ({"region": 7}, "region", None),
    ],
)
async def test_a_bad_timezone_or_region_is_refused_naming_the_field(
    api, daemon, fields, field, message
):
    response = await api.post("/api/v1/leads", json={"phone": ANSWERS, **fields})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == field
    if message:
        assert message in error["message"]
    assert await stored(daemon, "SELECT COUNT(*) FROM leads") == [(0,)]


async def test_a_timezone_and_a_region_are_stored_and_shown(api):
    response = await api.post(
        "/api/v1/leads/batch",
        json={
            "leads": [
                {"phone": "+79161232001", "region": "Приморский край"},
                {"phone": "+79161232002", "timezone": "Asia/Omsk", "region": "Сибирь"},
            ]
        },
    )
    assert response.json()["accepted"] == 2
    first = (await api.get("/api/v1/leads/1")).json()
    second = (await api.get("/api/v1/leads/2")).json()
    assert (first["timezone"], first["region"]) == (None, "RU-PRI")
    assert (second["timezone"], second["region"]) == ("Asia/Omsk", "Сибирь")
