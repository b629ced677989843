"""Events reach the adapter's callbacks by their name (one lookup, not a regex per pattern),
and a wildcard pattern, should one be registered, still gets its events."""

import asyncio

from panoramisk.message import Message

from dialerd.pbx.ami import _Manager


async def test_events_reach_their_callbacks_by_name_and_by_pattern():
    manager = _Manager(
        loop=asyncio.get_running_loop(), host="127.0.0.1", port=1, username="u", secret="s"
    )
    seen: list[tuple[str, str]] = []
    manager.register_event("Hangup", lambda _m, e: seen.append(("Hangup", e["Uniqueid"])))
    assert manager.dispatch(Message({"Event": "Hangup", "Uniqueid": "1.1"})) == ["Hangup"]
    assert manager.dispatch(Message({"Event": "Newstate", "Uniqueid": "1.2"})) == []
    assert manager.dispatch(Message({"Event": "hangup", "Uniqueid": "1.3"})) == []  # as panoramisk
    manager.register_event("Queue*", lambda _m, e: seen.append(("Queue*", e["Event"])))
    manager.dispatch(Message({"Event": "QueueCallerJoin", "Uniqueid": "1.4"}))
    manager.dispatch(Message({"Event": "Hangup", "Uniqueid": "1.5"}))
    assert seen == [("Hangup", "1.1"), ("Queue*", "QueueCallerJoin"), ("Hangup", "1.5")]
