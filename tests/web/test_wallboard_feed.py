"""The wallboard's feed: one message per burst of events, at most one a second, none while
nobody watches, and nothing read then either (issue 13)."""

from __future__ import annotations

import asyncio

from dialerd.web.wallboard_feed import WallboardFeed


class FakeHub:
    def __init__(self) -> None:
        self.supervisors = 0
        self.sent: list[dict] = []

    def attach_wallboard(self, poke, now) -> None:
        self.poke, self.now = poke, now

    def to_supervisors(self, payload) -> None:
        self.sent.append(payload)


class FakeWallboard:
    def __init__(self) -> None:
        self.builds = 0
        self.reports = 0
        self.value = 0

    async def refresh_today(self) -> None:
        self.reports += 1

    async def build(self) -> dict:
        self.builds += 1
        return {"type": "wallboard", "at": self.builds, "numbers": {"x": self.value}}


async def test_a_burst_of_events_makes_one_message_and_nobody_watching_costs_nothing():
    hub, board = FakeHub(), FakeWallboard()
    feed = WallboardFeed(board, hub, interval_s=0.3)  # type: ignore[arg-type]
    feed.start()
    try:
        for _ in range(50):
            feed.poke(today_changed=True)
        await asyncio.sleep(0.5)
        assert (board.builds, board.reports, hub.sent) == (0, 0, [])  # nobody watches
        hub.supervisors = 1
        hello = await hub.now()  # a supervisor's page connects
        assert hello["numbers"] == {"x": 0} and board.reports == 1
        await asyncio.sleep(0.1)
        board.value = 1
        for _ in range(100):
            feed.poke()
        await asyncio.sleep(0.05)
        for _ in range(100):
            feed.poke()
        await asyncio.sleep(0.8)
        values = [m["numbers"]["x"] for m in hub.sent]
        assert values[-1] == 1 and len(values) <= 3  # the first, then at most one per interval
        before = len(hub.sent)
        feed.poke()
        await asyncio.sleep(0.5)
        assert len(hub.sent) == before  # nothing changed: nothing sent
    finally:
        await feed.close()
