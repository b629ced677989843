"""A small, fully known call-centre history (three days, three operators, two campaigns,
two groups) written straight into a real store, and the §4 metrics computed by hand.

Days are D1, D2, D3 = three, two and one day before today in Europe/Moscow, with the
calling window 10:00-22:00 and a 15-minute speed-to-lead target. Every lead is closed,
so a daemon started on this store dials nobody.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from dialerd.config import load_config
from dialerd.store import sql
from dialerd.store.sql import open_configured

TZ = ZoneInfo("Europe/Moscow")

CONFIG: dict = {
    "window": {"timezone": "Europe/Moscow", "open": "10:00", "close": "22:00"},
    "campaigns": {
        "default": {"group": "sales", "speed_to_lead_min": 15},
        "promo": {"group": "support", "speed_to_lead_min": 15},
    },
    "groups": {"sales": {"queue": "q-sales"}, "support": {"queue": "q-support"}},
    "operators": [
        {"name": "ann", "group": "sales", "interface": "PJSIP/101"},
        {"name": "bob", "group": "sales", "interface": "PJSIP/102"},
        {"name": "cat", "group": "support", "interface": "PJSIP/103"},
    ],
    "reports": {
        "aht_forecast_s": 200,
        "costs": {"operator_per_hour": 100, "telephony_per_minute": 2, "billing_increment_s": 60},
    },
}


@dataclass(frozen=True)
class Days:
    d1: dt.date
    d2: dt.date
    d3: dt.date
    today: dt.date

    @classmethod
    def before(cls, now: float) -> Days:
        today = dt.datetime.fromtimestamp(now, TZ).date()
        one = dt.timedelta(days=1)
        return cls(today - 3 * one, today - 2 * one, today - one, today)


def at(day: dt.date, hhmmss: str) -> float:
    h, m, *s = (int(part) for part in hhmmss.split(":"))
    return dt.datetime.combine(day, dt.time(h, m, s[0] if s else 0), TZ).timestamp()


async def write_history(store: Path, days: Days) -> None:
    d1, d2, d3 = days.d1, days.d2, days.d3
    # the store a daemon configured with this path opens: on PostgreSQL, when the test put
    # store.url in the environment (``engine_store``), that database instead of the file
    where = load_config(None, overrides={"store": {"path": str(store)}}).settings.store
    async with open_configured(where) as db, db.transaction() as conn:
        leads = [
            # id, campaign, phone, amount_minor, received, deadline, attempts, reached, close
            (1, "default", "+79161110001", 100000, at(d1, "10:05"), at(d1, "10:20"), 1, 1),
            (2, "default", "+79161110002", None, at(d1, "10:10"), at(d1, "10:25"), 3, 1),
            (3, "default", "+79161110003", None, at(d1, "21:50"), at(d2, "10:05"), 1, 1),
            (4, "default", "+79161110004", 50000, at(d2, "03:00"), at(d2, "10:15"), 3, 1),
            (5, "promo", "+79161110001", None, at(d2, "12:00"), at(d2, "12:15"), 1, 1),
            (6, "promo", "+79161110006", None, at(d2, "13:00"), at(d2, "13:15"), 0, 0),
            (7, "default", "+79161110007", None, at(d3, "10:00"), at(d3, "10:15"), 2, 0),
            (8, "promo", "+79161110008", None, at(d3, "15:00"), at(d3, "15:15"), 1, 1),
            # today, just after midnight: counts for today only
            (9, "default", "+79161110009", None, at(days.today, "00:00:01"), None, 0, 0),
        ]
        # lead, number, created (= dialed), outcome, talk_s, operator, answer→operator delay
        attempts = [
            (1, 1, at(d1, "10:06"), "answered", 120, "ann", 1.0),
            (2, 1, at(d1, "10:11"), "no_answer", None, None, None),
            (2, 2, at(d1, "11:00"), "busy", None, None, None),
            (2, 3, at(d1, "12:00"), "answered", 60, "bob", 1.0),
            (3, 1, at(d2, "10:04"), "answered", 200, "ann", 3.0),  # operator 3 s late: abandoned
            (4, 1, at(d2, "10:02"), "abandoned", 5, None, None),
            (4, 2, at(d2, "14:00"), "answered", 300, "bob", 0.5),
            (4, 3, at(d3, "11:00"), "answered", 100, "bob", 1.0),
            (5, 1, at(d2, "12:30"), "answered", 90, "cat", 1.0),
            (7, 1, at(d3, "10:01"), "congestion", None, None, None),
            (7, 2, at(d3, "10:30"), "failed", None, None, None),
            (8, 1, at(d3, "15:10"), "answered", 30, "cat", 1.0),
        ]
        # (lead, attempt number) -> result, amount_minor, wrapup_s, flags
        dispositions = {
            (1, 1): ("confirmed", 120000, 30, ["upsell"]),
            (2, 3): ("refused", None, 20, []),
            (3, 1): ("fake", None, 10, []),
            (4, 2): ("callback", None, 40, []),
            (4, 3): ("confirmed", None, 15, []),
            (5, 1): ("confirmed", 80000, 25, []),
            (8, 1): ("duplicate", None, 5, []),
        }
        firsts = {lead: created for lead, number, created, *_ in attempts if number == 1}
        for lead_id, campaign, phone, amount, received, deadline, count, reached in leads:
            await sql.run(
                conn,
                "INSERT INTO leads (id, campaign, phone, amount_minor, received_at, state, rank,"
                " due_at, attempts, reached, first_attempt_at, deadline_at, closed_at,"
                " close_reason, updated_at) VALUES (?, ?, ?, ?, ?, 'closed', 1, ?, ?, ?, ?, ?,"
                " ?, 'reached', ?)",
                (
                    lead_id,
                    campaign,
                    phone,
                    amount,
                    received,
                    received,
                    count,
                    reached,
                    firsts.get(lead_id),
                    deadline,
                    received,
                    received,
                ),
            )
        for attempt_id, (lead, number, created, outcome, talk, operator, delay) in enumerate(
            attempts, start=1
        ):
            answered_at = created + 10 if outcome in ("answered", "abandoned") else None
            operator_at = answered_at + delay if answered_at and delay is not None else None
            ended = created + 20 + (talk or 0)
            await sql.run(
                conn,
                "INSERT INTO attempts (id, lead_id, number, call_id, action_id, campaign, phone,"
                " mode, operator, status, created_at, originated_at, answered_at, ended_at,"
                " outcome, talk_s, operator_at) SELECT ?, ?, ?, ?, ?, campaign, phone,"
                " 'customer_first', ?, 'done', ?, ?, ?, ?, ?, ?, ? FROM leads WHERE id = ?",
                (
                    attempt_id,
                    lead,
                    number,
                    f"call-{attempt_id}",
                    f"act-{attempt_id}",
                    operator,
                    created,
                    created,
                    answered_at,
                    ended,
                    outcome,
                    talk,
                    operator_at,
                    lead,
                ),
            )
            if (lead, number) in dispositions:
                result, amount, wrapup, flags = dispositions[(lead, number)]
                await sql.run(
                    conn,
                    "INSERT INTO dispositions (attempt_id, lead_id, result, amount_minor, flags,"
                    " operator, created_at, wrapup_s) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        attempt_id,
                        lead,
                        result,
                        amount,
                        json.dumps(flags),
                        operator,
                        ended + wrapup,
                        wrapup,
                    ),
                )
        for campaign, dup_of, received in (
            ("default", 1, at(d1, "10:30")),
            ("promo", 6, at(d2, "13:05")),
            ("default", 9, at(days.today, "00:00:02")),
        ):
            await sql.run(
                conn,
                "INSERT INTO duplicates (campaign, phone, duplicate_of, rule, received_at)"
                " VALUES (?, '+79160000000', ?, 'phone_and_order', ?)",
                (campaign, dup_of, received),
            )
        spans = [
            ("ann", "free", at(d1, "10:00"), at(d1, "12:00")),
            ("ann", "free", at(d2, "10:00"), at(d2, "11:00")),
            ("bob", "free", at(d2, "10:00"), at(d2, "14:00")),
            ("bob", "busy", at(d2, "14:00"), at(d2, "14:10")),
            ("bob", "paused", at(d2, "14:10"), at(d2, "15:00"), "lunch"),
            ("bob", "free", at(d2, "15:00"), at(d2, "18:00")),
            ("bob", "unavailable", at(d2, "18:00"), at(d2, "20:00")),
            ("bob", "free", at(d3, "11:00"), at(d3, "12:00")),
            ("cat", "free", at(d2, "12:00"), at(d2, "13:00")),
            ("cat", "free", at(d3, "15:00"), at(d3, "16:00")),
        ]
        await sql.run_many(
            conn,
            "INSERT INTO operator_states (operator, state, started_at, ended_at, seen_until,"
            " reason) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (op, state, start, end, end, *(why or [None]))
                for op, state, start, end, *why in spans
            ],
        )
        inbound = [
            ("in-1", "q-sales", at(d1, "11:00"), 10, "answered"),
            ("in-2", "q-sales", at(d1, "11:10"), 30, "answered"),
            ("in-3", "q-sales", at(d2, "12:00"), 40, "abandoned"),
            ("in-4", "q-sales", at(d3, "10:00"), 300, "left"),
        ]
        await sql.run_many(
            conn,
            "INSERT INTO inbound_calls (uniqueid, queue, caller, joined_at, answered_at, wait_s,"
            " outcome) VALUES (?, ?, '+79160000001', ?, NULL, ?, ?)",
            inbound,
        )


# The three days D1..D3, worked out by hand from the rows above.
TALK = 120 + 60 + 200 + 300 + 100 + 90 + 30  # the seven conversations
WRAPUP = 30 + 20 + 10 + 40 + 15 + 25 + 5
LOGGED_IN_S = (2 + 1) * 3600 + (8 + 1) * 3600 + (1 + 1) * 3600  # ann, bob, cat: 14 h
BILLED_MIN = 2 + 1 + 4 + 5 + 2 + 2 + 1 + 1  # per started minute; the abandoned call's 5 s too
EXPECTED: dict[str, float | int | None] = {
    "leads_received": 10,  # 8 stored + 2 duplicates
    "duplicates": 2,
    "duplicate_rate": 2 / 10,
    "leads_processed": 7,  # lead 6 was never dialed
    "leads_contacted": 6,  # lead 7 only got congestion and failed
    "contact_rate": 6 / 7,
    "attempts": 12,
    "answered_attempts": 8,  # 7 conversations + 1 abandoned
    "answer_rate": 8 / 12,
    "conversations": 7,
    "attempts_per_lead": 12 / 7,
    "leads_fake": 1,
    "fake_rate": 1 / 6,
    "leads_confirmed": 3,
    "confirmation_rate": 3 / (6 - 1 - 1),  # contacted − fake − marked duplicate
    "revenue": 2500.0,  # 1200.00 + 500.00 (the lead's own amount) + 800.00
    "average_check": 833.33,
    "speed_to_lead_median_s": 120.0,  # 60 60 60 120 600 1800 44040
    "speed_to_lead_p90_s": 44040.0,  # 21:50 → 10:04 next day: the clock ran from arrival
    "speed_to_lead_within_target": 6 / 7,  # lead 5 dialed after 30 min
    "aht_s": (TALK + WRAPUP) / 7,
    "aht_forecast_ratio": 200 / ((TALK + WRAPUP) / 7),
    "fcr": 3 / 6,  # leads 1 (confirmed), 2 (refused), 5 (confirmed)
    "staffed_hours": 14.0,
    "paused_s": 50 * 60.0,  # bob's lunch on D2
    "billed_minutes": float(BILLED_MIN),
    "cost": 100 * 14 + 2 * BILLED_MIN,
    "cost_per_contact": round((100 * 14 + 2 * BILLED_MIN) / 7, 2),
    "abandoned_attempts": 2,  # lead 4's first call, and lead 3's operator 3 s late
    "abandon_rate": 2 / 8,
    "inbound_offered": 4,
    "inbound_answered_in_target": 1,
    "service_level": 1 / 4,
    "inbound_abandoned": 1,
    "occupancy": (TALK + WRAPUP) / LOGGED_IN_S,
    "repeat_customers": 1,  # lead 5: the phone of lead 1, confirmed the day before
    "repeat_customer_rate": 1 / 3,
    "upsells": 1,
    "upsell_rate": 1 / 3,
}
EXPECTED_OUTCOMES = {
    "answered": 7,
    "abandoned": 1,
    "busy": 1,
    "no_answer": 1,
    "congestion": 1,
    "failed": 1,
}
# bob's own numbers (the operator breakdown)
EXPECTED_BOB = {
    "conversations": 3,
    "aht_s": (60 + 20 + 300 + 40 + 100 + 15) / 3,
    "leads_confirmed": 1,
    "revenue": 500.0,
    "staffed_hours": 9.0,
    "paused_s": 50 * 60.0,
    "occupancy": (60 + 20 + 300 + 40 + 100 + 15) / (9 * 3600),
    "leads_received": None,  # a lead is nobody's until it is talked to
    # bob talked to leads 2 and 4 (neither marked fake or duplicate) and confirmed 4
    "confirmation_rate": 1 / 2,
    # both first conversations were his: 2 refused (settled), 4 a callback (not)
    "fcr": 1 / 2,
}
# ann: leads 1 (confirmed) and 3 (fake), both first conversations; cat: 5 (confirmed), 8 (duplicate)
EXPECTED_ANN = {"confirmation_rate": 1 / (2 - 1), "fcr": 1 / 2}
EXPECTED_CAT = {"confirmation_rate": 1 / (2 - 1), "fcr": 1 / 2}
# attempts by the day they were made, leads by the day they arrived
EXPECTED_BY_DATE = {"attempts": [4, 4, 4], "leads_received": [4, 4, 2]}
EXPECTED_BY_GROUP = {  # campaigns default → sales, promo → support; operators by their group
    "sales": {
        "leads_received": 5 + 1,
        "leads_confirmed": 2,
        "revenue": 1700.0,
        "staffed_hours": 12.0,
    },
    "support": {
        "leads_received": 3 + 1,
        "leads_confirmed": 1,
        "revenue": 800.0,
        "staffed_hours": 2.0,
    },
}
