"""The survey's answers as Asterisk reports them: checked, stored with the surveyed attempt,
an empty survey recorded as unanswered, anything else dropped with a warning."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from dialerd.dialer.survey_log import SurveyLog, checked
from dialerd.pbx.events import SurveyEnded
from dialerd.pbx.parse import parse
from dialerd.store import sql, surveys

AT = 1_800_000_000.0


def ended(lead="1", attempt="1", nps="", csat="") -> SurveyEnded:
    return SurveyEnded(lead, attempt, nps, csat, AT)


def test_the_dialplans_user_events_become_typed_events():
    survey = parse(
        {
            "Event": "UserEvent",
            "UserEvent": "DialerdSurvey",
            "Lead": "12",
            "Attempt": "34",
            "NPS": "10",
            "CSAT": "",
        },
        AT,
    )
    assert survey == SurveyEnded("12", "34", "10", "", AT)
    verdict = parse(
        {
            "Event": "UserEvent",
            "UserEvent": "DialerdAmd",
            "Uniqueid": "dialerd-1-1-ab",
            "Linkedid": "dialerd-1-1-ab",
            "Status": "MACHINE",
            "Cause": "LONGGREETING-1600-1500",
        },
        AT,
    )
    assert (verdict.uniqueid, verdict.status, verdict.cause) == (
        "dialerd-1-1-ab",
        "MACHINE",
        "LONGGREETING-1600-1500",
    )


def test_answers_are_checked_on_their_scales():
    assert checked(ended(nps="9", csat="4")).nps == 9
    off = checked(ended(nps="11", csat="0"))  # off the scale: those questions went unanswered
    assert (off.nps, off.csat, off.answered) == (None, None, False)
    assert checked(ended(lead="", attempt="")) is None
    assert checked(ended(attempt="1;DROP")) is None


@pytest.fixture
async def two_attempts(db):
    async with db.transaction() as conn:
        await sql.run(
            conn,
            "INSERT INTO leads (id, phone, received_at, due_at, updated_at, state)"
            " VALUES (1, '+79161231001', 0, 0, 0, 'closed')",
        )
        for n in (1, 2):
            await sql.run(
                conn,
                "INSERT INTO attempts (id, lead_id, number, call_id, action_id, campaign, phone,"
                " operator, status, created_at, outcome) VALUES (?, 1, ?, ?, ?, 'web',"
                " '+79161231001', 'ann', 'done', 0, 'answered')",
                (n, n, f"c{n}", f"a{n}"),
            )
    return db


@pytest.mark.engines("sqlite", "postgresql")
async def test_stored_with_the_attempts_campaign_and_operator_once(two_attempts):
    db = two_attempts
    heard = []
    with capture_logs() as logs:
        async with SurveyLog(db, on_detractor=heard.append, batch_s=0.01) as log:
            log.on_pbx_event(ended(attempt="1", nps="3", csat="2"))
            log.on_pbx_event(ended(attempt="1", nps="10"))  # a second survey: the first stands
            log.on_pbx_event(ended(attempt="2"))  # hung up without a key
            log.on_pbx_event(ended(attempt="99", nps="10"))  # no such attempt
            log.on_pbx_event(ended(lead="2", attempt="2", nps="10"))  # not that lead's attempt
    first = await surveys.of_attempt(db, 1)
    assert (first["nps"], first["csat"], first["answered"]) == (3, 2, 1)
    assert (first["campaign"], first["operator"]) == ("web", "ann")
    second = await surveys.of_attempt(db, 2)
    assert (second["nps"], second["csat"], second["answered"]) == (None, None, 0)
    assert await surveys.of_attempt(db, 99) is None
    assert [a.attempt_id for a in heard] == [1]  # the detractor, once
    ignored = [e for e in logs if e["event"] == "survey_ignored"]
    assert len(ignored) == 3
