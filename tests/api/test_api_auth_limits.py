"""Who may call the API, how much it takes, and that it lives inside the daemon's own lifecycle."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest
import yaml
from support.api import SECRET, TOKENS, config_data, http_daemon, secrets_in_env

from dialerd.config import ConfigError, load_config
from dialerd.pbx.sim.server import AmiSimulator

pytestmark = pytest.mark.engines("sqlite", "postgresql")  # the daemon fixture's store

UNAUTHORIZED = {"code": "unauthorized", "field": None}


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "an Authorization: Bearer <token> header is required"),
        ({"Authorization": "Bearer not-a-token-of-ours-123"}, "the token is not valid"),
        ({"Authorization": f"Basic {TOKENS['crm']}"}, "use Authorization: Bearer <token>"),
        ({"Authorization": "Bearer"}, "use Authorization: Bearer <token>"),
    ],
)
async def test_every_api_route_needs_a_valid_token(daemon, headers, message):
    async with daemon.client(None) as anonymous:
        for method, path in [
            ("POST", "/api/v1/leads"),
            ("POST", "/api/v1/leads/batch"),
            ("GET", "/api/v1/leads/1"),
            ("GET", "/api/v1/leads/1/explain"),
            ("POST", "/api/v1/calls/x/disposition"),
            ("GET", "/api/v1/calls/x/recording"),
            ("GET", "/api/v1/reports/summary"),
            ("GET", "/api/v1/reports/breakdown?by=date"),
            ("GET", "/metrics"),
            ("GET", "/api/v1/nowhere"),
        ]:
            response = await anonymous.request(
                method, path, json={"phone": "+79161231001"}, headers=headers
            )
            assert response.status_code == 401, path
            assert response.json() == {"error": {**UNAUTHORIZED, "message": message}}
            assert response.headers["WWW-Authenticate"] == 'Bearer realm="dialerd"'
    assert not daemon.sim.originates  # nothing was stored, so nothing was dialed


async def test_health_docs_and_schema_are_open(daemon):
    async with daemon.client(None) as anonymous:
        health = await anonymous.get("/healthz")
        docs = await anonymous.get("/docs")
        schema = await anonymous.get("/openapi.json")
    assert (health.status_code, health.json()) == (200, {"status": "ok", "ami_connected": True})
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    paths = schema.json()["paths"]
    assert sorted(paths) == [
        "/api/v1/calls/{call_id}/disposition",
        "/api/v1/calls/{call_id}/recording",
        "/api/v1/leads",
        "/api/v1/leads/batch",
        "/api/v1/leads/import",
        "/api/v1/leads/{lead_id}",
        "/api/v1/leads/{lead_id}/explain",
        "/api/v1/reports/breakdown",
        "/api/v1/reports/summary",
        "/healthz",
        "/metrics",
    ]
    assert paths["/api/v1/leads"]["post"]["security"] == [{"bearer": []}]
    assert paths["/metrics"]["get"]["security"] == [{"bearer": []}]
    assert "security" not in paths["/healthz"]["get"]


async def test_the_log_names_the_token_never_shows_it(daemon, capsys):
    async with daemon.client("console") as console:
        await console.get("/api/v1/leads/1")
    out = capsys.readouterr().out
    (line,) = [line for line in out.splitlines() if "path=/api/v1/leads/1" in line]
    assert "api_request" in line and "caller=console" in line
    assert TOKENS["console"] not in out and TOKENS["crm"] not in out


async def test_a_body_over_the_limit_is_refused_before_parsing(tmp_path):
    async with http_daemon(tmp_path, extra={"api": {"max_body_bytes": 2048}}) as daemon:
        async with daemon.client() as api:
            big = await api.post("/api/v1/leads", content=b"{" + b" " * 400_000 + b"}")
            chunked = await api.post("/api/v1/leads", content=_chunks(b"x" * 4096))
            fits = await api.post("/api/v1/leads", json={"phone": "+79161232001"})
    for response in (big, chunked):
        assert response.status_code == 413
        assert response.json() == {
            "error": {
                "code": "body_too_large",
                "message": "the request body exceeds 2048 bytes (api.max_body_bytes)",
                "field": None,
            }
        }
    assert fits.status_code == 201


async def _chunks(data: bytes):
    for start in range(0, len(data), 512):
        yield data[start : start + 512]


async def test_a_batch_over_the_limit_is_refused_whole(tmp_path):
    async with http_daemon(tmp_path, extra={"api": {"max_batch": 3}}) as daemon:
        async with daemon.client() as api:
            leads = [{"phone": f"+7916123200{n}"} for n in range(4)]
            response = await api.post("/api/v1/leads/batch", json={"leads": leads})
            fits = await api.post("/api/v1/leads/batch", json={"leads": leads[:3]})
    assert (response.status_code, response.json()) == (
        413,
        {
            "error": {
                "code": "batch_too_large",
                "message": "4 leads; at most 3 per batch (api.max_batch)",
                "field": "leads",
            }
        },
    )
    assert fits.json()["accepted"] == 3


async def test_unknown_routes_and_methods_answer_in_the_one_shape(api):
    missing = await api.get("/api/v1/orders")
    wrong = await api.delete("/api/v1/leads/1")
    bad_id = await api.get("/api/v1/leads/0")
    assert (missing.status_code, missing.json()) == (
        404,
        {"error": {"code": "not_found", "message": "Not Found", "field": None}},
    )
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (405, "method_not_allowed")
    assert (bad_id.status_code, bad_id.json()) == (
        422,
        {
            "error": {
                "code": "invalid",
                "message": "input should be greater than or equal to 1",
                "field": "lead_id",
            }
        },
    )


def test_tokens_never_come_from_the_config_file(tmp_path):
    path = tmp_path / "dialerd.yaml"
    path.write_text("api:\n  port: 8440\n  tokens:\n    crm: abcdefghijklmnopqrstuvwxyz\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.problems == [
        f"{path}:3: api.tokens: secrets do not belong in the config file; "
        "set DIALERD_API__TOKENS__<NAME> or api.tokens_file"
    ]


def test_no_token_configured_is_an_error_naming_the_remedy(tmp_path, monkeypatch):
    loaded = load_config(None, overrides={"store": {"path": str(tmp_path / "x.sqlite3")}})
    with pytest.raises(ConfigError, match="api.tokens: none set; set DIALERD_API__TOKENS__<NAME>"):
        loaded.settings.api.resolved_tokens()
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text("console: 0123456789abcdef0123\n")
    monkeypatch.setenv("DIALERD_API__TOKENS__CRM", "short")
    with pytest.raises(ConfigError, match="at least 16 printable ASCII characters"):
        load_config(None)
    monkeypatch.delenv("DIALERD_API__TOKENS__CRM")
    loaded = load_config(None, overrides={"api": {"tokens_file": str(tokens)}})
    assert loaded.settings.api.resolved_tokens() == {"console": "0123456789abcdef0123"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_dialerd_run_serves_the_api_and_sigterm_still_stops_it_cleanly(tmp_path):
    """uvicorn must not take the daemon's signals (uvicorn #1579): SIGTERM drains and exits 0."""
    port = _free_port()
    async with AmiSimulator(secret=SECRET, time_scale=10) as sim:
        data = config_data(tmp_path, sim.port, {"api": {"port": port}})
        config = tmp_path / "dialerd.yaml"
        config.write_text(yaml.safe_dump(data))
        with secrets_in_env():
            env = dict(os.environ)
        log = tmp_path / "daemon.log"
        with log.open("wb") as out:  # noqa: ASYNC230
            daemon = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "dialerd.cli",
                "run",
                "--config",
                str(config),
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        try:
            headers = {"Authorization": f"Bearer {TOKENS['crm']}"}
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", headers=headers
            ) as api:
                async with asyncio.timeout(20):
                    while True:
                        try:
                            if (await api.get("/healthz")).json()["ami_connected"]:
                                break
                        except httpx.TransportError:
                            pass
                        await asyncio.sleep(0.1)
                created = await api.post("/api/v1/leads", json={"phone": "+79161231001"})
                assert created.status_code == 201
                async with asyncio.timeout(10):
                    while not sim.originates:
                        await asyncio.sleep(0.05)
            started = time.monotonic()
            daemon.send_signal(signal.SIGTERM)
            async with asyncio.timeout(20):
                code = await daemon.wait()
        finally:
            if daemon.returncode is None:
                daemon.kill()
                await daemon.wait()
    text = log.read_text()
    assert code == 0, text[-2000:]
    assert time.monotonic() - started < 10
    events = [json.loads(line)["event"] for line in text.splitlines() if line.startswith("{")]
    assert events.index("api_stopped") < events.index("daemon_stopped")
    assert "engine_stopped" in events
