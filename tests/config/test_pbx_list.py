"""``ami`` as one PBX (as always) or a list of named PBXs, each with its own secret."""

from pathlib import Path

import pytest

from dialerd.config import ConfigError, load_config
from dialerd.config.ami import AmiSettings, carrier
from dialerd.config.loading import secret_problems

TWO_PBXS = """\
ami:
  - name: east
    host: 127.0.0.1
    port: 5038
    secret_file: {east_secret}
  - name: west
    host: 127.0.0.2
    port: 5039
    max_concurrent_calls: 4
api:
  enabled: false
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dialerd.yaml"
    path.write_text(text)
    return path


def test_a_list_of_pbxs_each_with_its_own_secret(tmp_path, monkeypatch):
    east_secret = tmp_path / "east.secret"
    east_secret.write_text("east-pass\n")
    monkeypatch.setenv("DIALERD_AMI__WEST__SECRET", "west-pass")
    loaded = load_config(write(tmp_path, TWO_PBXS.format(east_secret=east_secret)))
    east, west = loaded.settings.pbxs
    assert (east.name, east.port, east.max_concurrent_calls) == ("east", 5038, None)
    assert (west.name, west.host, west.max_concurrent_calls) == ("west", "127.0.0.2", 4)
    assert east.resolved_secret(listed=True) == "east-pass"
    assert west.resolved_secret(listed=True) == "west-pass"
    assert "west-pass" not in repr(loaded.settings)
    assert secret_problems(loaded.settings) == []


def test_one_mapping_is_still_one_pbx_named_default(tmp_path, monkeypatch):
    monkeypatch.setenv("DIALERD_AMI__SECRET", "s3cret")
    loaded = load_config(write(tmp_path, "ami:\n  port: 5039\n"))
    (pbx,) = loaded.settings.pbxs
    assert (pbx.name, pbx.port, pbx.resolved_secret()) == ("default", 5039, "s3cret")


def test_a_missing_secret_names_the_pbx_and_its_variable(tmp_path, monkeypatch):
    east_secret = tmp_path / "east.secret"
    east_secret.write_text("east-pass\n")
    monkeypatch.delenv("DIALERD_AMI__WEST__SECRET", raising=False)
    loaded = load_config(write(tmp_path, TWO_PBXS.format(east_secret=east_secret)))
    assert secret_problems(loaded.settings) == [
        "ami.west.secret: not set; set DIALERD_AMI__WEST__SECRET in the environment or"
        " ami.west.secret_file"
    ]


def test_two_pbxs_with_one_name_are_refused_with_file_and_line(tmp_path):
    path = write(tmp_path, "ami:\n  - name: east\n    port: 5038\n  - name: East\n    port: 5039\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    (problem,) = err.value.problems
    assert problem.startswith(f"{path}:1: ami: ")
    assert "'East' is used twice" in problem


def test_a_bad_key_of_one_pbx_names_its_line(tmp_path):
    path = write(tmp_path, "ami:\n  - name: east\n  - name: west\n    prot: 5039\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.problems == [
        f"{path}:4: ami.1.prot: unknown key (check the spelling; see config/dialerd.yaml for"
        " every key)"
    ]


def test_a_pbx_name_must_be_usable_in_an_environment_variable(tmp_path):
    with pytest.raises(ConfigError, match=r":2: ami.0.name: "):
        load_config(write(tmp_path, "ami:\n  - name: east-1\n"))


def test_the_single_pbx_secret_variable_is_refused_with_a_list(tmp_path, monkeypatch):
    """With several PBXs one secret for "the" PBX means nothing: refused, not ignored."""
    monkeypatch.setenv("DIALERD_AMI__SECRET", "which-one")
    with pytest.raises(ConfigError, match="DIALERD_AMI__SECRET: ami lists several PBXs"):
        load_config(write(tmp_path, "ami:\n  - name: east\n  - name: west\n"))


def test_a_secret_written_into_a_listed_pbx_is_refused(tmp_path):
    path = write(tmp_path, "ami:\n  - name: east\n  - name: west\n    secret: hunter2\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    (problem,) = err.value.problems
    assert problem.startswith(f"{path}:4: ami.1.secret: secrets do not belong in the config file")
    assert "hunter2" not in problem


def test_an_empty_list_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"ami: needs at least 1 item"):
        load_config(write(tmp_path, "ami: []\n"))


def test_an_attempt_goes_back_to_its_own_pbx_or_else_the_first():
    names = ("east", "west")
    assert carrier(names, "west") == "west"
    assert carrier(names, "") == "east"  # written before several PBXs
    assert carrier(names, "north") == "east"  # a PBX since removed from the config


OPERATORS_ON_PBXS = """\
ami:
  - name: east
  - name: west
groups:
  sales: {{queue: sales, context: operators, exten: "600"}}
operators:
  - {{name: anna, group: sales, interface: PJSIP/101, pbx: east}}
  - {{name: boris, group: sales, interface: PJSIP/101, pbx: {boris_pbx}}}
"""


def test_operators_name_their_pbx_and_may_share_an_interface_across_pbxs(tmp_path):
    loaded = load_config(write(tmp_path, OPERATORS_ON_PBXS.format(boris_pbx="west")))
    assert [(op.name, op.pbx) for op in loaded.settings.operators] == [
        ("anna", "east"),
        ("boris", "west"),
    ]


def test_a_pbx_without_operators_is_warned_of_as_one_that_dials_surveys_only(tmp_path):
    """Perhaps an ``operators[].pbx`` typo: the start says so once (it is allowed)."""
    staffed = load_config(write(tmp_path, OPERATORS_ON_PBXS.format(boris_pbx="west")))
    assert not [w for w in staffed.warnings if w.startswith("ami.")]
    both_east = OPERATORS_ON_PBXS.format(boris_pbx="east").replace(
        "boris, group: sales, interface: PJSIP/101", "boris, group: sales, interface: PJSIP/102"
    )
    lopsided = load_config(write(tmp_path, both_east))
    assert [w for w in lopsided.warnings if w.startswith("ami.")] == [
        "ami.west: no operator is on this PBX (operators[].pbx): it dials survey campaigns only"
    ]
    nobody = load_config(write(tmp_path, "ami:\n  - name: east\n  - name: west\n"))
    assert not [w for w in nobody.warnings if w.startswith("ami.")]  # no operators at all


def test_an_operator_on_an_unknown_pbx_or_twice_on_one_is_refused(tmp_path):
    path = write(tmp_path, OPERATORS_ON_PBXS.format(boris_pbx="north"))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.problems == [
        f"{path}:8: operators.1.pbx: unknown PBX 'north' (not a name under ami:)"
    ]
    path = write(tmp_path, OPERATORS_ON_PBXS.format(boris_pbx="east"))
    with pytest.raises(ConfigError, match="interface PJSIP/101 is already operators.0"):
        load_config(path)


def test_the_shipped_config_documents_every_key_of_a_pbx_and_its_list_form():
    shipped = (Path(__file__).parents[2] / "config" / "dialerd.yaml").read_text()
    ami = shipped[shipped.index("\nami:") : shipped.index("\ndialing:")]
    for key in AmiSettings.model_fields.keys() - {"secret"}:  # a secret is never in the file
        assert f"  {key}:" in ami, key
    assert "DIALERD_AMI__<NAME>__SECRET" in shipped
    assert "pbx:" in shipped[shipped.index("# Operators:") :]
