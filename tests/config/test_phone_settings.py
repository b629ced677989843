"""The browser phone in the YAML (console.phone, operators[].phone) and its passwords file:
every mistake named by file, line and field, no password ever in a message."""

from pathlib import Path

import pytest

from dialerd.cli.main import main
from dialerd.config import ConfigError, load_config
from dialerd.config.sip_passwords import phone_passwords, read_sip_passwords

GOOD = """
groups:
  sales: {queue: sales, context: operators, exten: "600"}
operators:
  - {name: anna, group: sales, interface: PJSIP/201, phone: {auto_answer: true}}
  - {name: boris, group: sales, device: PJSIP/desk-7, interface: PJSIP/202,
     phone: {sip_user: "202"}}
  - {name: vera, group: sales, interface: PJSIP/203}
console:
  phone:
    ws_url: wss://pbx.example.com:8089/ws
    passwords_file: {passwords}
"""
PASSWORDS = '"201": s3cret-201-pass\n202: "yes"\n0203: unused-entry\n'


def write(tmp_path: Path, text: str, passwords: str = PASSWORDS) -> Path:
    (tmp_path / "sip.yaml").write_text(passwords)
    path = tmp_path / "dialerd.yaml"
    path.write_text(text.replace("{passwords}", str(tmp_path / "sip.yaml")))
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    return [p.replace(str(path), "F") for p in err.value.problems]


def test_a_good_file_loads_and_the_passwords_are_the_operators_own(tmp_path):
    settings = load_config(write(tmp_path, GOOD)).settings
    anna, boris, vera = settings.operators
    assert (anna.sip_user, anna.phone.auto_answer) == ("201", True)  # taken from PJSIP/201
    assert (boris.sip_user, boris.phone.auto_answer) == ("202", False)
    assert vera.sip_user is None  # a desk phone: no browser phone
    phone = settings.console.phone
    assert (phone.origin, phone.domain) == ("wss://pbx.example.com:8089", "pbx.example.com")
    # raw text: "yes" stays a string, an unquoted 0203 stays 0203 (not octal 131)
    assert read_sip_passwords(tmp_path / "sip.yaml") == {
        "201": "s3cret-201-pass",
        "202": "yes",
        "0203": "unused-entry",
    }
    assert phone_passwords(settings) == {"201": "s3cret-201-pass", "202": "yes"}


def test_no_console_phone_means_no_passwords_file_is_read(tmp_path):
    settings = load_config(None, overrides={}).settings
    assert settings.console.phone is None and phone_passwords(settings) == {}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("ws_url: wss://pbx.example.com:8089/ws", "ws_url: https://pbx.example.com/ws"),
            "F:11: console.phone.ws_url: must be a ws:// or wss:// URL, e.g. "
            "wss://pbx.example.com:8089/ws",
        ),
        (
            ("ws_url: wss://pbx.example.com:8089/ws", "ws_url: wss://u:p@pbx.example.com/ws"),
            "F:11: console.phone.ws_url: no user, password, query or fragment in the URL",
        ),
        (
            ('phone: {sip_user: "202"}', 'phone: {sip_user: "209"}'),
            "F:6: operators.1: phone.sip_user '209': the operator's calls go to "
            "PJSIP/desk-7, not to the browser phone; make the device or the interface PJSIP/209",
        ),
        (
            ('phone: {sip_user: "202"}', 'phone: {sip_user: "2 02"}'),
            "F:7: operators.1.phone.sip_user: '2 02': use 1-64 letters, digits, '_', '.', '-'",
        ),
        (
            ("interface: PJSIP/201, phone", "interface: Local/201@operators, phone"),
            "F:5: operators.0: phone: give sip_user, or a PJSIP/<user> device or "
            "interface to take it from",
        ),
    ],
)
def test_mistakes_are_named_with_file_line_and_field(tmp_path, change, expected):
    assert problems(tmp_path, GOOD.replace(*change)) == [expected]


def test_a_browser_phone_needs_console_phone_and_each_sip_user_once(tmp_path):
    text = """
groups:
  sales: {queue: sales, context: operators, exten: "600"}
operators:
  - {name: anna, group: sales, interface: PJSIP/201, phone: {}}
  - {name: boris, group: sales, device: PJSIP/201, interface: Local/boris@operators, phone: {}}
"""
    assert problems(tmp_path, text) == [
        "F:5: operators.0.phone: a browser phone needs console.phone (ws_url, passwords_file)",
        "F:6: operators.1.phone: a browser phone needs console.phone (ws_url, passwords_file)",
        "F:6: operators.1.phone: SIP user '201' is already operators.0",
    ]


@pytest.mark.parametrize(
    ("passwords", "expected"),
    [
        ("201: [a, b]\n", ["S:1: console.phone.passwords_file: '201': the password must be"]),
        ('"201": pw\n"201": again\n', ["S:2: console.phone.passwords_file: SIP user '201' is"]),
        ("2 01: pw\n", ["S:1: console.phone.passwords_file: a SIP user is 1-64 letters"]),
        ("- 201\n", ["S:1: console.phone.passwords_file: expected a mapping of SIP user"]),
        ("201: [unclosed\n", ["S:2: console.phone.passwords_file: not valid YAML"]),
        ('"201": "tab\\there"\n', ["S:1: console.phone.passwords_file: '201': the password"]),
    ],
)
def test_a_bad_passwords_file_is_named_by_line_never_by_its_content(tmp_path, passwords, expected):
    path = tmp_path / "sip.yaml"
    path.write_text(passwords)
    with pytest.raises(ConfigError) as err:
        read_sip_passwords(path)
    found = [p.replace(str(path), "S") for p in err.value.problems]
    assert [p[: len(e)] for p, e in zip(found, expected, strict=True)] == expected
    assert not any(word in p for p in found for word in ("again", "here", "unclosed"))


def test_an_operator_without_a_password_refuses_the_start_and_check_config(tmp_path, capsys):
    path = write(tmp_path, GOOD, passwords='"201": s3cret-201-pass\n')
    settings = load_config(path).settings
    with pytest.raises(ConfigError) as err:
        phone_passwords(settings)
    assert err.value.problems == [
        f"{tmp_path / 'sip.yaml'}: console.phone.passwords_file: no password for SIP user '202'"
        " (operator boris's phone)"
    ]
    # check-config fails on what run refuses (issue 15), with every such problem at once
    assert main(["check-config", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "dialerd: config error: " in err and "no password for SIP user '202'" in err
    assert main(["run", "--config", str(path)]) == 2  # refused before anything starts
    assert "s3cret" not in capsys.readouterr().err
