"""A confirmed sale gives the customer one survey call, in the survey campaign, due
``call_after_h`` later, written with the operator's result on a real store of either engine
(the real intake, claim, finish and result paths); nothing else does."""

from __future__ import annotations

import pytest

from dialerd.domain import FinishedCall, Outcome, Result
from dialerd.intake.leads import Accepted, LeadInput, submit, validate_lead
from dialerd.policy.disposition import Disposition
from dialerd.policy.pick import Dial
from dialerd.policy.priority import RANKS
from dialerd.policy.retry import after_attempt
from dialerd.store import attempts, dispositions, sql, survey_calls
from dialerd.store import leads as store
from dialerd.store.survey_calls import SurveyedSale
from dialerd.store.surveys import SurveyAnswer, record

T0 = 1_800_000_000.0  # 2027-01-15 08:00 UTC, 11:00 in Moscow (the default window's zone)
HOUR = 3600.0

pytestmark = pytest.mark.engines("sqlite", "postgresql")


class Shop:
    def __init__(self, db, make_config, **survey) -> None:
        self.db = db
        self.settings = make_config(
            campaigns={
                "default": {"survey": {"campaign": "after-sale", "call_after_h": 2, **survey}},
                "after-sale": {"mode": "survey", "max_attempts": 2},
            }
        ).settings
        self.policy = self.settings.policy

    async def lead(self, phone: str, now: float, **fields) -> int:
        new = validate_lead(LeadInput(phone=phone, **fields), self.settings, now)
        accepted = await submit(self.db, new, self.settings, now)
        assert isinstance(accepted, Accepted), accepted
        return accepted.lead_id

    async def conversation(self, lead_id: int, at: float, operator: str):
        claim = await attempts.claim_next(
            self.db, at, RANKS, lambda _: Dial(), mode_of=lambda _: "customer_first"
        )
        assert claim is not None and claim.lead_id == lead_id
        end = at + 90
        call = FinishedCall(
            claim.attempt_id, claim.lead_id, claim.call_id, Outcome.ANSWERED,
            None, None, at, end, 5.0, 90.0, operator=operator, operator_at=at,
        )  # fmt: skip

        def decide(count: int, campaign: str, extra: int = 0):
            return after_attempt(Outcome.ANSWERED, count, self.policy.campaign(campaign), end)

        await attempts.finish_attempt(self.db, call, decide, end)
        return claim

    async def result(self, claim, at: float, result: Result, operator: str = "anna", **fields):
        disposition = Disposition(result, operator=operator, **fields)
        return await dispositions.record(self.db, claim.call_id, disposition, self.policy, at)


async def survey_leads(db) -> list[dict]:
    return [lead for lead in await store.list_leads(db) if lead["campaign"] == "after-sale"]


async def test_a_confirmed_sale_is_called_back_two_hours_later(db, make_config):
    shop = Shop(db, make_config)
    lead_id = await shop.lead("+79161234567", T0, order_id="A-1", name="Ivan")
    claim = await shop.conversation(lead_id, T0, "anna")
    confirmed_at = T0 + 120
    await shop.result(claim, confirmed_at, Result.CONFIRMED, amount_minor=250000)
    (survey,) = await survey_leads(db)
    assert (survey["phone"], survey["order_id"], survey["name"]) == ("+79161234567", "A-1", "Ivan")
    assert (survey["state"], survey["source"]) == ("waiting", "survey")
    assert survey["due_at"] == confirmed_at + 2 * HOUR  # 13:02 in Moscow: inside the window
    sale = await survey_calls.sale_of(db, survey["id"])
    assert sale == SurveyedSale(lead_id, claim.attempt_id)


async def test_a_confirmation_in_the_evening_is_called_back_next_morning(db, make_config):
    shop = Shop(db, make_config)
    evening = T0 + 10 * HOUR  # 21:00 in Moscow; 2 hours later the window is closed
    lead_id = await shop.lead("+79161234567", evening)
    claim = await shop.conversation(lead_id, evening, "anna")
    await shop.result(claim, evening + 120, Result.CONFIRMED, amount_minor=100)
    (survey,) = await survey_leads(db)
    assert survey["due_at"] == T0 + 23 * HOUR  # 10:00 the next morning in Moscow


@pytest.mark.parametrize("result", [Result.REFUSED, Result.FAKE, Result.NO_DECISION])
async def test_other_results_call_nobody_back(db, make_config, result):
    shop = Shop(db, make_config)
    lead_id = await shop.lead("+79161234567", T0)
    claim = await shop.conversation(lead_id, T0, "anna")
    await shop.result(claim, T0 + 120, result)
    assert await survey_leads(db) == []


async def test_one_survey_call_per_lead_however_often_it_is_confirmed(db, make_config):
    shop = Shop(db, make_config)
    lead_id = await shop.lead("+79161234567", T0)
    claim = await shop.conversation(lead_id, T0, "anna")
    await shop.result(claim, T0 + 120, Result.CONFIRMED, amount_minor=100)
    replay = await shop.result(claim, T0 + 120, Result.CONFIRMED, amount_minor=100)
    assert replay.replayed
    # and confirmed again on a later call (a callback, then a second "yes")
    async with db.transaction() as conn:
        await sql.run(
            conn, "UPDATE leads SET state = 'waiting', due_at = ? WHERE id = ?", (T0, lead_id)
        )
    later = await shop.conversation(lead_id, T0 + HOUR, "boris")
    await shop.result(later, T0 + HOUR + 120, Result.CONFIRMED, operator="boris", amount_minor=1)
    (survey,) = await survey_leads(db)
    assert await survey_calls.sale_of(db, survey["id"]) == SurveyedSale(lead_id, claim.attempt_id)


async def test_a_conversation_surveyed_by_the_button_is_not_called_back(db, make_config):
    shop = Shop(db, make_config)
    lead_id = await shop.lead("+79161234567", T0)
    claim = await shop.conversation(lead_id, T0, "anna")
    async with db.transaction() as conn:
        assert await record(conn, SurveyAnswer(claim.attempt_id, lead_id, 9, 5, T0 + 100))
    await shop.result(claim, T0 + 120, Result.CONFIRMED, amount_minor=100)
    assert await survey_leads(db) == []


async def test_a_campaign_without_survey_campaign_calls_nobody_back(db, make_config):
    settings = make_config(campaigns={"default": {}}).settings
    shop = Shop(db, make_config)
    shop.settings, shop.policy = settings, settings.policy
    lead_id = await shop.lead("+79161234567", T0)
    claim = await shop.conversation(lead_id, T0, "anna")
    await shop.result(claim, T0 + 120, Result.CONFIRMED, amount_minor=100)
    assert [lead["id"] for lead in await store.list_leads(db)] == [lead_id]
