"""With several PBXs the owner hears "nobody signed in" only when that holds on every PBX
that has operators (``FloorAway``), not when one PBX's shift ends while another works."""

from types import SimpleNamespace

from dialerd.dialer.fleet import FloorAway
from dialerd.domain import OperatorsAway


def test_nobody_signed_in_is_told_only_when_every_staffed_pbx_says_so():
    told = []
    staffed, unstaffed = SimpleNamespace(operators=["anna"]), SimpleNamespace(operators=[])
    engines = [staffed, SimpleNamespace(operators=["boris"]), unstaffed]
    floor = FloorAway([told.append], engines)
    east, west = floor.listener(0), floor.listener(1)

    east(OperatorsAway(True, 1.0))  # east's operators went home; west's are at work
    assert told == []
    west(OperatorsAway(True, 2.0))  # now nobody anywhere
    assert told == [OperatorsAway(True, 2.0)]
    east(OperatorsAway(False, 3.0))  # someone signs in on east
    assert told == [OperatorsAway(True, 2.0), OperatorsAway(False, 3.0)]


def test_other_events_pass_through_untouched():
    told = []
    floor = FloorAway([told.append], [SimpleNamespace(operators=[])])
    event = object()
    floor.listener(0)(event)
    assert told == [event]
