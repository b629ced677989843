"""Answering-machine detection's rules: human first, and what may reach the dialplan."""

from hypothesis import given
from hypothesis import strategies as st

from dialerd.config.campaigns import AmdSettings
from dialerd.policy.amd import AmdParameters, clean_status, is_machine, is_sound_name


def test_only_a_sure_machine_is_a_machine():
    assert is_machine("MACHINE")
    for doubtful in ("NOTSURE", "HUMAN", "HANGUP", None, "", "machine?"):
        assert not is_machine(doubtful)


def test_a_status_amd_never_sets_is_no_status():
    assert clean_status(" machine ") == "MACHINE"
    assert clean_status("NOTSURE") == "NOTSURE"
    assert clean_status("MACHINE,HUMAN") is None
    assert clean_status("") is None


def test_the_channel_value_is_amds_arguments_in_its_own_order():
    parameters = AmdParameters(2500, 1500, 800, 5000, 100, 50, 3, 256, 5000)
    assert parameters.channel_value() == "2500:1500:800:5000:100:50:3:256:5000"


def test_the_defaults_never_call_a_silent_line_a_machine():
    """Silence is cut off by the total analysis time (NOTSURE) before it can mean MACHINE."""
    defaults = AmdSettings()
    assert not defaults.enabled
    assert defaults.initial_silence_ms >= defaults.total_analysis_ms
    assert defaults.parameters().channel_value().count(":") == 8


def test_sound_names_as_people_write_them():
    assert is_sound_name("custom/leave-message")
    assert is_sound_name("vm-goodbye")
    for bad in (
        "",
        "/etc/passwd",
        "../secret",
        "a/../b",
        "msg,1",
        "${EVIL}",
        "a b",
        "x.wav",
        "a//b",
    ):
        assert not is_sound_name(bad), bad


@given(st.text(max_size=60))
def test_no_accepted_sound_name_can_break_out_of_playback(name):
    """Nothing accepted could add an argument, a variable, a path or an AMI header."""
    if is_sound_name(name):
        assert not set(name) & set(",$(){}[]|;:\\\r\n\t .'\"")
        assert not name.startswith("/") and ".." not in name
