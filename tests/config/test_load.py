from pathlib import Path

import pytest

from dialerd.cli.main import main
from dialerd.config import ConfigError, load_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dialerd.yaml"
    path.write_text(text)
    return path


def test_shipped_example_config_is_valid():
    loaded = load_config(Path(__file__).parents[2] / "config" / "dialerd.yaml")
    assert loaded.settings.campaigns["default"].max_attempts == 7
    assert loaded.warnings == ()


def test_unknown_key_names_file_line_and_field(tmp_path):
    path = write(tmp_path, "ami:\n  host: 127.0.0.1\n  prot: 5038\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.problems == [
        f"{path}:3: ami.prot: unknown key (check the spelling; see config/dialerd.yaml for every key)"
    ]


def test_bad_value_names_line_and_reason(tmp_path):
    path = write(tmp_path, "campaigns:\n  default:\n    scheme: tiers\n    max_attempts: 40\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    (problem,) = err.value.problems
    assert problem.startswith(f"{path}:4: campaigns.default.max_attempts: ")
    assert "must be at most 20" in problem


def test_channel_template_must_carry_the_number_and_no_control_chars(tmp_path):
    with pytest.raises(ConfigError, match="must contain"):
        load_config(write(tmp_path, "dialing:\n  channel_template: PJSIP/trunk\n"))
    with pytest.raises(ConfigError, match="control character"):
        load_config(
            write(tmp_path, 'dialing:\n  channel_template: "PJSIP/{number}\\r\\nAction: Hangup"\n')
        )


def test_secret_in_yaml_is_refused_and_env_supplies_it(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="secrets do not belong"):
        load_config(write(tmp_path, "ami:\n  secret: hunter2\n"))
    monkeypatch.setenv("DIALERD_AMI__SECRET", "s3cret")
    loaded = load_config(write(tmp_path, "ami:\n  port: 5039\n"))
    assert loaded.settings.ami.resolved_secret() == "s3cret"
    assert "s3cret" not in repr(loaded.settings)


def test_secret_file(tmp_path):
    secret = tmp_path / "ami.secret"
    secret.write_text("from-file\n")
    loaded = load_config(write(tmp_path, f"ami:\n  secret_file: {secret}\n"))
    assert loaded.settings.ami.resolved_secret() == "from-file"


def test_env_overrides_yaml_and_env_errors_name_the_variable(tmp_path, monkeypatch):
    path = write(tmp_path, "dialing:\n  max_concurrent_calls: 5\n")
    monkeypatch.setenv("DIALERD_DIALING__MAX_CONCURRENT_CALLS", "9")
    assert load_config(path).settings.dialing.max_concurrent_calls == 9
    monkeypatch.setenv("DIALERD_DIALING__MAX_CONCURRENT_CALLS", "lots")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.problems[0].startswith("environment DIALERD_DIALING__MAX_CONCURRENT_CALLS: ")


def test_attempt_cap_outside_recommendation_warns(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DIALERD_AMI__SECRET", "s3cret")
    path = write(tmp_path, "api: {enabled: false}\ncampaigns:\n  default:\n    max_attempts: 3\n")
    assert main(["check-config", "--config", str(path)]) == 0
    assert "outside the recommended 5-10" in capsys.readouterr().err


def test_check_config_exit_code_and_message_for_bad_file(tmp_path, capsys):
    path = write(tmp_path, "phones:\n  default_region: XX\n")
    assert main(["check-config", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:2: phones.default_region:" in err and "unknown region" in err


def test_malformed_yaml(tmp_path):
    with pytest.raises(ConfigError, match=r"dialerd.yaml:2: not valid YAML"):
        load_config(write(tmp_path, "ami:\n  host: a: b\n"))
