"""The post-call survey's answers, recorded from the dialplan's ``UserEvent(DialerdSurvey)``.

A PBX listener of the engine, like ``inbound_log``: it checks what Asterisk passed (the
digits on their scales, ``policy/score.py``; the lead and attempt as numbers) and a batch
writer stores it (``store/surveys.py``). A survey that ended without a digit is recorded
as unanswered; one for an attempt the store does not know is dropped with a warning.
``on_detractor`` hears each answer of 0-6 once it is stored (an alert, if configured).
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from dialerd.pbx.events import PbxEvent, SurveyEnded
from dialerd.policy.score import ScoreInvalid, csat_answer, is_detractor, nps_answer
from dialerd.store import surveys
from dialerd.store.batching import Batcher
from dialerd.store.sql import Conn, Store
from dialerd.store.surveys import SurveyAnswer

log = structlog.get_logger(__name__)


def checked(event: SurveyEnded) -> SurveyAnswer | None:
    """The answer as the store takes it, or None (and a warning) for what cannot be one."""
    if not (event.lead.isascii() and event.lead.isdigit()) or not (
        event.attempt.isascii() and event.attempt.isdigit()
    ):
        log.warning("survey_ignored", why="no lead or attempt", lead=event.lead[:20])
        return None
    scores: list[int | None] = []
    for read, digits in ((nps_answer, event.nps), (csat_answer, event.csat)):
        try:
            scores.append(read(digits))
        except ScoreInvalid as exc:  # a key off the scale: that question went unanswered
            log.warning("survey_answer_off_scale", attempt=event.attempt, error=str(exc))
            scores.append(None)
    return SurveyAnswer(int(event.attempt), int(event.lead), scores[0], scores[1], event.at)


class SurveyLog:
    def __init__(
        self,
        db: Store,
        *,
        on_detractor: Callable[[SurveyAnswer], None] | None = None,
        batch_s: float = 0.2,
    ) -> None:
        self._on_detractor = on_detractor
        self._batcher: Batcher[SurveyAnswer] = Batcher(
            db, self._write, name="survey-log", batch_s=batch_s
        )

    def on_pbx_event(self, event: PbxEvent) -> None:
        if isinstance(event, SurveyEnded) and (answer := checked(event)) is not None:
            self._batcher.put(answer)

    async def __aenter__(self) -> SurveyLog:
        await self._batcher.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._batcher.__aexit__(*exc)

    async def _write(self, conn: Conn, items: list[SurveyAnswer]) -> None:
        for answer in items:
            if not await surveys.record(conn, answer):
                log.warning(
                    "survey_ignored",
                    why="unknown attempt, or already surveyed",
                    lead_id=answer.lead_id,
                    attempt_id=answer.attempt_id,
                )
                continue
            log.info(
                "survey_recorded",
                lead_id=answer.lead_id,
                attempt_id=answer.attempt_id,
                nps=answer.nps,
                csat=answer.csat,
            )
            if answer.nps is not None and is_detractor(answer.nps) and self._on_detractor:
                self._on_detractor(answer)
