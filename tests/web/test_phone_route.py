"""The browser phone's credentials: only the signed-in operator's own, never in the page's
source or the log, with a CSP that lets the page reach exactly Asterisk's WebSocket; read
again on reload. The phone itself runs in ``tests/integration/test_browser_phone.py``."""

from __future__ import annotations

import base64
import hashlib
import hmac
from types import SimpleNamespace

import pytest
from support.console import console_overrides, running_console, signed_in
from support.scenarios import pbx_config

from dialerd.config import ConfigError, load_config
from dialerd.config.console import BrowserPhoneSettings
from dialerd.daemon.lifecycle import Lifecycle, Tally
from dialerd.daemon.sdnotify import Notifier
from dialerd.pbx.sim.server import AmiSimulator, SimOutcome
from dialerd.web.phone import ice_servers
from dialerd.web.render import CSP

SECRET = "sim-secret"
WS = "wss://pbx.example.com:8089/ws"


@pytest.fixture
async def sim():
    async with AmiSimulator(
        secret=SECRET, time_scale=1.0, rule=lambda number: SimOutcome("answer", talk_s=1.0)
    ) as simulator:
        simulator.add_member("sales", "PJSIP/201", "anna")
        simulator.add_member("sales", "Local/boris@operators", "boris")
        yield simulator


def config(tmp_path, sim, passwords='"201": anna-sip-secret-1\n'):
    (tmp_path / "sip.yaml").write_text(passwords)
    console = console_overrides(tmp_path)
    console["console"]["phone"] = {"ws_url": WS, "passwords_file": str(tmp_path / "sip.yaml")}
    extra = {
        "groups": {"sales": {"queue": "sales", "context": "operators", "exten": "600"}},
        "operators": [
            {"name": "anna", "group": "sales", "interface": "PJSIP/201", "phone": {}},
            {"name": "boris", "group": "sales", "interface": "Local/boris@operators"},
        ],
        "campaigns": {"default": {"mode": "customer_first", "group": "sales"}},
        **console,
    }
    return pbx_config(tmp_path / "d.sqlite3", "127.0.0.1", sim.port, SECRET, extra=extra)


async def test_the_operator_gets_their_own_credentials_and_nobody_else_does(tmp_path, sim, capsys):
    async with running_console(config(tmp_path, sim)) as daemon:
        async with signed_in(daemon.url, "anna") as anna:
            page = await anna.client.get("/operator")
            phone = await anna.client.get("/operator/phone")
        async with signed_in(daemon.url, "boris") as boris:
            boris_page = await boris.client.get("/operator")
            boris_phone = await boris.client.get("/operator/phone")
        async with signed_in(daemon.url, "boss") as boss:
            supervisor = await boss.client.get("/operator/phone")
        async with signed_in(daemon.url, "anna") as anna:
            anna.client.cookies.clear()
            signed_out = await anna.client.get("/operator/phone")
    assert phone.status_code == 200
    assert phone.headers["cache-control"] == "no-store"
    assert phone.json() == {
        "ws_url": WS,
        "uri": "sip:201@pbx.example.com",
        "sip_user": "201",
        "password": "anna-sip-secret-1",
        "display_name": "anna",
        "auto_answer": False,
        "ice_servers": [],
    }
    # the page runs the phone; its source never holds the password
    assert page.status_code == 200 and "anna-sip-secret-1" not in page.text
    assert '<script src="/static/phone.js"></script>' in page.text
    assert '<script src="/static/bundle/jssip.js"></script>' in page.text
    assert page.headers["content-security-policy"] == CSP.replace(
        "connect-src 'self';", "connect-src 'self' wss://pbx.example.com:8089;"
    )
    # an operator with a desk phone: no phone in the page, no extra origin, no credentials
    assert boris_phone.status_code == 404
    assert boris_phone.json()["error"]["code"] == "no_phone"
    assert "phone.js" not in boris_page.text
    assert boris_page.headers["content-security-policy"] == CSP
    assert supervisor.status_code == 403
    assert signed_out.status_code == 401
    logged = capsys.readouterr()
    assert "console_phone_credentials" in logged.out + logged.err
    assert "anna-sip-secret-1" not in logged.out + logged.err


async def test_a_reload_reads_the_passwords_again_and_a_bad_file_keeps_the_running_ones(
    tmp_path, sim
):
    loaded = config(tmp_path, sim)
    async with running_console(loaded) as daemon:
        console = daemon.parts.console
        assert console is not None
        (tmp_path / "sip.yaml").write_text('"201": anna-sip-secret-2\n')
        console.reload_secrets(loaded.settings)
        async with signed_in(daemon.url, "anna") as anna:
            assert (await anna.client.get("/operator/phone")).json()["password"] == (
                "anna-sip-secret-2"
            )
        (tmp_path / "sip.yaml").write_text("201: [broken\n")
        with pytest.raises(ConfigError):
            console.reload_secrets(loaded.settings)
        async with signed_in(daemon.url, "anna") as anna:
            assert (await anna.client.get("/operator/phone")).json()["password"] == (
                "anna-sip-secret-2"
            )


def test_a_bad_passwords_file_rejects_the_whole_reload(tmp_path, capsys):
    """SIGHUP with a broken passwords file: reload_rejected, the engine keeps its config."""
    path = tmp_path / "dialerd.yaml"
    (tmp_path / "sip.yaml").write_text('"201": pw-201-long\n')
    path.write_text(
        "groups: {sales: {queue: sales}}\n"
        "operators: [{name: anna, group: sales, interface: PJSIP/201, phone: {}}]\n"
        f"console: {{phone: {{ws_url: {WS}, passwords_file: {tmp_path / 'sip.yaml'}}}}}\n"
        f"store: {{path: {tmp_path / 'd.sqlite3'}}}\n"
    )
    applied: list[object] = []
    engine = SimpleNamespace(reload=applied.append)
    seen: list[object] = []
    lifecycle = Lifecycle(
        engine, None, load_config(path), Notifier(None), Tally(), reloaders=[seen.append]
    )
    lifecycle.reload()
    assert len(seen) == 1 and len(applied) == 1  # a good file: secrets read, then applied

    def refuse(settings: object) -> None:
        raise ConfigError([f"{tmp_path / 'sip.yaml'}:1: console.phone.passwords_file: bad"])

    lifecycle = Lifecycle(
        engine, None, load_config(path), Notifier(None), Tally(), reloaders=[refuse]
    )
    lifecycle.reload()
    assert len(applied) == 1  # nothing applied
    out = capsys.readouterr()
    assert "reload_rejected" in out.out + out.err


def test_turn_servers_get_expiring_credentials_made_from_the_shared_secret(tmp_path):
    """coturn's use-auth-secret (the TURN REST scheme): the page never sees the secret."""
    (tmp_path / "turn.secret").write_text("turn-shared-secret\n")
    section = BrowserPhoneSettings(
        ws_url=WS,
        passwords_file=tmp_path / "sip.yaml",
        ice_servers=["stun:stun.example.com:3478", "turn:turn.example.com:3478?transport=udp"],
        turn_secret_file=tmp_path / "turn.secret",
        turn_ttl_h=2,
    )
    stun, turn = ice_servers(section, "anna", 1_000_000.0)
    assert stun == {"urls": "stun:stun.example.com:3478"}
    assert turn["urls"] == "turn:turn.example.com:3478?transport=udp"
    assert turn["username"] == "1007200:anna"  # expires 2 h from now
    expected = hmac.new(b"turn-shared-secret", b"1007200:anna", hashlib.sha1).digest()
    assert base64.b64decode(turn["credential"]) == expected
    assert "turn-shared-secret" not in str(turn)
