"""The console over HTTPS (uvicorn serving ``console.tls_cert``/``tls_key``): the session
cookie is then marked Secure, and a half-given pair refuses to load."""

from __future__ import annotations

import re
import shutil
import ssl
import subprocess

import httpx
import pytest
from support.console import PASSWORDS, console_overrides, running_console, signin_token
from support.scenarios import pbx_config

from dialerd.config import ConfigError, load_config
from dialerd.pbx.sim.server import AmiSimulator

SECRET = "sim-secret"


def self_signed(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed (Debian package openssl)")
    cert, key = tmp_path / "console.crt", tmp_path / "console.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


async def test_https_and_a_secure_cookie(tmp_path):
    cert, key = self_signed(tmp_path)
    async with AmiSimulator(secret=SECRET) as sim:
        extra = {
            "operators": [{"name": "anna", "group": "sales", "device": "Local/anna@operators"}],
            "groups": {"sales": {}},
            "campaigns": {"default": {"mode": "agent_first", "group": "sales"}},
            **console_overrides(tmp_path),
        }
        extra["console"] |= {"tls_cert": str(cert), "tls_key": str(key)}
        loaded = pbx_config(tmp_path / "d.sqlite3", "127.0.0.1", sim.port, SECRET, extra=extra)
        async with running_console(loaded) as daemon:
            url = daemon.url.replace("http://", "https://")
            trusted = ssl.create_default_context(cafile=str(cert))
            async with httpx.AsyncClient(base_url=url, verify=trusted, timeout=10) as client:
                form = await client.get("/signin")
                response = await client.post(
                    "/signin",
                    data={
                        "name": "anna",
                        "password": PASSWORDS["anna"],
                        "csrf": signin_token(form.text),
                    },
                )
                assert response.status_code == 303
                cookie = response.headers["set-cookie"]
                assert re.search(r"(?i)dialerd_session=[^;]+;.*HttpOnly", cookie)
                assert "secure" in cookie.lower() and "samesite=strict" in cookie.lower()
            async with httpx.AsyncClient(base_url=daemon.url, timeout=10) as plain:
                with pytest.raises(httpx.HTTPError):
                    await plain.get("/signin")  # no plain HTTP on a TLS console


def test_a_certificate_without_its_key_refuses_to_load(tmp_path):
    path = tmp_path / "dialerd.yaml"
    path.write_text("console:\n  tls_cert: /etc/dialerd/console.crt\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert any("tls_cert and tls_key go together" in p for p in err.value.problems)
