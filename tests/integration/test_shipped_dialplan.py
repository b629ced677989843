"""The dialplan in ``config/asterisk/`` as a real Asterisk 22 loads it (asterisklint is a linter)."""

import pytest
from support.asterisk import AsteriskInstance

from dialerd.config import DialingSettings

pytestmark = pytest.mark.asterisk


def test_the_default_destination_of_an_answered_call_is_loaded(asterisk: AsteriskInstance):
    defaults = DialingSettings()
    shown = asterisk.cli(f"dialplan show {defaults.exten}@{defaults.context}")
    assert "Goto(operators,600,1)" in shown, shown
    queue = asterisk.cli("dialplan show 600@operators")
    # a dialer call waits abandon.after_s, then hears the safe-harbor message; others 60 s
    assert 'Queue(sales,r,,,${IF($["${DIALER_ABANDON_AFTER}" = ""]?60:' in queue, queue
    assert "Playback(${IF(" in queue, queue
