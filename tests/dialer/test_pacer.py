"""The pacer's live counts: an abandon still in flight is spent budget already, and so is
a customer at risk on another PBX."""

from datetime import UTC

from dialerd.config import CampaignSettings
from dialerd.config.operators import GroupSettings, OperatorSettings
from dialerd.config.rules import campaign_rules
from dialerd.dialer.agent_tracking import AgentCallTrack
from dialerd.dialer.board import OperatorBoard
from dialerd.dialer.pacer import Pacer, late_in_flight
from dialerd.dialer.risk_ledger import RiskLedger
from dialerd.dialer.tracking import CallTrack
from dialerd.pbx.events import MemberState

AFTER_S = 2.0


def answered(call_id: str, at: float, *, group: str = "sales") -> CallTrack:
    track = CallTrack(1, 1, call_id, at - 10.0, queue_tracked=True, group=group)
    track.on_result(True, 4, at)
    return track


def test_a_customer_connected_late_counts_before_the_call_ends():
    """Connected 4 s after answering, the customer is an abandon (the 2 s rule), though the
    store will only count it once the talk ends, minutes later: the hard stop must see it
    now, or it dials another risky customer on budget already spent."""
    late = answered("late", 100.0)
    late.on_operator("op1", 104.0)
    in_time = answered("in-time", 100.0)
    in_time.on_operator("op2", 101.0)
    assert late_in_flight([late, in_time], "sales", 200.0, AFTER_S) == 1


def test_a_customer_waiting_past_the_limit_counts_while_still_waiting():
    waiting = answered("waiting", 100.0)
    assert late_in_flight([waiting], "sales", 101.5, AFTER_S) == 0
    assert late_in_flight([waiting], "sales", 102.5, AFTER_S) == 1


def test_only_answered_queue_calls_of_the_group_count():
    ringing = CallTrack(1, 1, "ringing", 0.0, queue_tracked=True, group="sales")
    other_group = answered("other", 100.0, group="support")
    agent_first = AgentCallTrack(1, 1, "agent", 0.0, "anna", group="sales")
    assert late_in_flight([ringing, other_group, agent_first], "sales", 200.0, AFTER_S) == 0


# --- one abandon budget for two engines (two PBXs of one daemon) ---------------------------
NOW = 1_800_000_000.0
GROUPS = {"sales": GroupSettings(queue="sales")}


def one_free_operator(name: str) -> OperatorBoard:
    board = OperatorBoard(
        [OperatorSettings(name=name, group="sales", interface="Local/101@operators")], GROUPS
    )
    member = MemberState("sales", "Local/101@operators", name, 1, False, False, "", NOW - 60)
    board.apply_snapshot([member], [], NOW - 60)
    return board


async def with_budget_of_one(db) -> None:
    """40 answered calls in the window and none abandoned: one abandon fits under 3 %."""
    await db.conn.execute(
        "INSERT INTO leads (id, phone, received_at, due_at, updated_at, state)"
        " VALUES (1, '+79161231001', 0, 0, 0, 'closed')"
    )
    for n in range(40):
        await db.conn.execute(
            "INSERT INTO attempts (lead_id, number, call_id, action_id, campaign, phone, mode,"
            " status, created_at, outcome, answered_at, operator_at) VALUES (1, ?, ?, ?,"
            " 'default', '+79161231001', 'customer_first', 'done', ?, 'answered', ?, ?)",
            (n + 1, f"c{n}", f"a{n}", NOW - 3600, NOW - 3599, NOW - 3598.5),
        )
    await db.conn.commit()


async def test_a_decision_s_reservation_holds_the_budget_for_its_call_until_it_is_placed(db):
    """East lets one risky call start (a second customer for its one operator): until that
    call is in flight or known not to start, the customer it will be counts for west, even
    if east's events come in meanwhile; west then dials only for its own free operator."""
    await with_budget_of_one(db)
    campaigns = {
        "default": campaign_rules(
            CampaignSettings(group="sales", mode="customer_first", dial_ratio=2)
        )
    }
    ledger = RiskLedger()
    east, west = Pacer(db, ledger, "east"), Pacer(db, ledger, "west")
    east_board, west_board = one_free_operator("anna"), one_free_operator("boris")
    ringing = [CallTrack(1, 2, "east-1", NOW - 1, queue_tracked=True, group="sales")]

    paces = await east.compute(campaigns, east_board, ringing, 5, NOW, UTC)
    assert paces["default"].calls == 1  # the budget's one abandon: a second customer
    await east.settle(east_board, ringing, NOW)  # an event's follow-up while it is claimed
    assert ledger.at_risk("default") == 1

    paces = await west.compute(campaigns, west_board, [], 5, NOW, UTC)
    assert paces["default"].calls == 1 and paces["default"].ratio == 1.0  # not 2
    assert "abandon budget spent" in paces["default"].reason

    await east.settle(east_board, ringing, NOW, release=True)  # no lead was due after all
    assert ledger.at_risk("default") == 0
    paces = await west.compute(campaigns, west_board, [], 5, NOW, UTC)
    assert paces["default"].calls == 2  # the budget is west's to spend now
