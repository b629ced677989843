"""The crm, alerts and missed_calls sections: secrets stay out of the file, bad values named."""

import pytest

from dialerd.config import ConfigError, load_config


def write(tmp_path, text):
    path = tmp_path / "dialerd.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "where", "env"),
    [
        (
            "crm:\n  url: https://crm.example/h\n  secret: x\n",
            ":3: crm.secret",
            "DIALERD_CRM__SECRET",
        ),
        (
            "alerts:\n  webhook:\n    secret: x\n",
            ":3: alerts.webhook.secret",
            "DIALERD_ALERTS__WEBHOOK__SECRET",
        ),
        (
            "alerts:\n  email:\n    host: smtp\n    password: x\n",
            ":4: alerts.email.password",
            "DIALERD_ALERTS__EMAIL__PASSWORD",
        ),
    ],
)
def test_secrets_in_the_file_are_refused_with_their_line(tmp_path, text, where, env):
    with pytest.raises(ConfigError, match="secrets do not belong") as caught:
        load_config(write(tmp_path, text))
    (problem,) = caught.value.problems
    assert where in problem and env in problem


def test_the_crm_secret_comes_from_the_environment_or_a_file(tmp_path, monkeypatch):
    path = write(tmp_path, "crm:\n  url: https://crm.example/hook\n")
    with pytest.raises(ConfigError, match="DIALERD_CRM__SECRET"):
        load_config(path).settings.crm.resolved_secret()
    monkeypatch.setenv("DIALERD_CRM__SECRET", "s3cret")
    assert load_config(path).settings.crm.resolved_secret() == "s3cret"
    monkeypatch.delenv("DIALERD_CRM__SECRET")
    (tmp_path / "crm.key").write_text("from-file\n")
    path = write(
        tmp_path, f"crm:\n  url: https://crm.example/hook\n  secret_file: {tmp_path / 'crm.key'}\n"
    )
    assert load_config(path).settings.crm.resolved_secret() == "from-file"
    assert load_config(None).settings.crm.resolved_secret() is None  # no URL: no secret needed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("crm:\n  url: ftp://crm.example\n", ":2: crm.url: must be an http"),
        ("crm:\n  max_tries: 0\n", ":2: crm.max_tries"),
        (
            "alerts:\n  email:\n    host: smtp.example\n",
            "alerts.email: give at least one",
        ),
        ("alerts:\n  email:\n    to: [not-an-address]\n", "is not an e-mail address"),
        ("alerts:\n  big_order_amount: -5\n", ":2: alerts.big_order_amount"),
        ("missed_calls:\n  campaign: nosuch\n", "unknown campaign 'nosuch'"),
        ("missed_calls:\n  callback_target_min: 0\n", ":2: missed_calls.callback_target_min"),
    ],
)
def test_bad_values_are_named(tmp_path, text, message):
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert any(message in problem for problem in caught.value.problems), caught.value.problems


def test_the_email_sender_is_spelled_from(tmp_path):
    path = write(
        tmp_path,
        "alerts:\n  email:\n    host: smtp\n    from: a@b.example\n    to: [c@d.example]\n",
    )
    email = load_config(path).settings.alerts.email
    assert email.sender == "a@b.example" and email.to == ["c@d.example"]
