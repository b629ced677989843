"""Every scheduling rule, seen the way an admin sees it: `dialerd plan` on a real SQLite file,
and the same on a PostgreSQL store (``store.url`` and its password in the environment)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dialerd.cli.main import main
from dialerd.config import load_config
from dialerd.domain import FinishedCall, Outcome
from dialerd.intake.leads import Accepted, Duplicate, LeadInput, submit, validate_lead
from dialerd.policy.pick import Dial
from dialerd.policy.priority import RANKS
from dialerd.policy.retry import LeadUpdate, after_attempt
from dialerd.store import attempts as attempt_store
from dialerd.store import sql
from dialerd.store.sql import open_configured

MSK = ZoneInfo("Europe/Moscow")
pytestmark = pytest.mark.engines("sqlite", "postgresql")


@pytest.fixture(autouse=True)
def store_engine(engine_store: str | None) -> str | None:
    """Every test once on SQLite and once on PostgreSQL (``engine_store``)."""
    return engine_store


def at(text: str) -> float:
    """A Moscow wall-clock time on Monday 2026-11-23 (or a full ISO date-time)."""
    when = datetime.fromisoformat(text if "T" in text else f"2026-11-23T{text}")
    return when.replace(tzinfo=MSK).timestamp()


# ranking tests dial one phone three times in minutes, which the per-phone limits forbid
NO_PHONE_LIMITS = "phone_limits:\n  per_day: null\n  min_gap_min: 0\n"


class Centre:
    """A config file, a store, and the CLI pointed at both."""

    def __init__(self, tmp_path: Path, yaml_extra: str = "") -> None:
        self.db_path = tmp_path / "dialerd.sqlite3"
        self.config = tmp_path / "dialerd.yaml"
        self.config.write_text(
            f"store:\n  path: {self.db_path}\nwindow:\n  timezone: Europe/Moscow\n"
            f'  open: "10:00"\n  close: "22:00"\n{yaml_extra}'
        )
        self.settings = load_config(self.config).settings

    def add(self, phone: str, when: str, **fields) -> Accepted | Duplicate:
        now = at(when)
        lead = validate_lead(LeadInput(phone=phone, **fields), self.settings, now)

        async def go():
            async with open_configured(self.settings.store) as db:
                return await submit(db, lead, self.settings, now)

        return asyncio.run(go())

    def attempt(self, when: str, outcome: Outcome) -> int:
        """The engine's path for one attempt at ``when``: claim the next lead, record ``outcome``."""
        now = at(when)

        async def go():
            async with open_configured(self.settings.store) as db:
                claim = await attempt_store.claim_next(db, now, RANKS, lambda lead: Dial())
                assert claim is not None, "nothing to dial"
                call = FinishedCall(
                    claim.attempt_id,
                    claim.lead_id,
                    claim.call_id,
                    outcome,
                    None,
                    None,
                    None,
                    now,
                    None,
                    None,
                )

                def decide(attempts: int, campaign: str, extra: int = 0) -> LeadUpdate:
                    return after_attempt(
                        outcome, attempts, self.settings.policy.campaigns[campaign], now
                    )

                await attempt_store.finish_attempt(db, call, decide, now)
                return claim.lead_id

        return asyncio.run(go())

    def sql(self, *statements: tuple[str, tuple[object, ...]]) -> None:
        """Statements run in one transaction on the centre's store, whichever engine."""

        async def go() -> None:
            async with open_configured(self.settings.store) as db, db.transaction() as conn:
                for statement, params in statements:
                    await sql.run(conn, statement, params)

        asyncio.run(go())

    def cli(self, *args: str, capsys) -> tuple[int, str, str]:
        capsys.readouterr()  # drop what the set-up printed
        code = main([*args, "--config", str(self.config)])
        out = capsys.readouterr()
        return code, out.out, out.err

    def plan(self, when: str, capsys, limit: int = 50) -> list[dict]:
        code, out, err = self.cli(
            "plan",
            "--at",
            f"2026-11-23T{when}" if "T" not in when else when,
            "--format",
            "json",
            "--limit",
            str(limit),
            capsys=capsys,
        )
        assert code == 0, err
        return json.loads(out)


def callable_ids(plan: list[dict]) -> list[int]:
    return [item["lead_id"] for item in plan if item["callable"]]


def reason_of(plan: list[dict], lead_id: int) -> str:
    return next(
        item["reason"]
        for item in plan
        if item["lead_id"] == lead_id and item["tier"] != "duplicate"
    )


def test_plan_json_has_the_documented_fields(tmp_path, capsys):
    centre = Centre(tmp_path)
    centre.add("+79161230001", "11:00")
    (item,) = centre.plan("11:01", capsys)
    assert {
        "lead_id",
        "phone",
        "callable",
        "tier",
        "reason",
        "due_at",
        "deadline_at",
        "position",
    } <= set(item)
    assert item["callable"] and item["tier"] == "new" and item["position"] == 1
    assert item["deadline_at"] == "2026-11-23T08:15:00+00:00"  # 11:00 MSK + 15 min, in UTC


def test_tiers_new_then_one_attempt_then_due_callbacks_then_redials(tmp_path, capsys):
    centre = Centre(
        tmp_path,
        "campaigns:\n  default:\n    retry_delays: {busy: 60, no_answer: 60}\n",
    )
    redial = centre.add("+79161230001", "10:00").lead_id
    centre.attempt("10:01", Outcome.BUSY)
    centre.attempt("10:03", Outcome.BUSY)  # two attempts: a redial
    second = centre.add("+79161230002", "10:05").lead_id
    assert centre.attempt("10:06", Outcome.NO_ANSWER) == second  # new leads go first
    callback = centre.add("+79161230003", "10:07", callback_at=at("11:00")).lead_id
    new = centre.add("+79161230004", "10:30").lead_id

    plan = centre.plan("10:45", capsys)
    assert callable_ids(plan) == [new, second, redial]
    assert "callback agreed for 2026-11-23 11:00" in reason_of(
        plan, callback
    )  # never before its time

    plan = centre.plan("11:00", capsys)
    assert callable_ids(plan) == [new, second, callback, redial]
    assert [item["tier"] for item in plan if item["callable"]] == [
        "new",
        "second_attempt",
        "callback",
        "redial",
    ]


def test_fewest_attempts_scheme_orders_by_attempt_count(tmp_path, capsys):
    centre = Centre(
        tmp_path,
        "campaigns:\n  default:\n    scheme: fewest_attempts\n    retry_delays: {busy: 60}\n"
        + NO_PHONE_LIMITS,
    )
    three = centre.add("+79161230001", "10:00").lead_id
    for minute in ("10:01", "10:03", "10:05"):
        centre.attempt(minute, Outcome.BUSY)
    one = centre.add("+79161230002", "10:06").lead_id
    centre.attempt("10:06", Outcome.BUSY)
    new = centre.add("+79161230003", "10:20").lead_id
    plan = centre.plan("10:30", capsys)
    assert callable_ids(plan) == [new, one, three]
    assert [item["tier"] for item in plan if item["callable"]] == [
        "new",
        "attempts=1",
        "attempts=3",
    ]


def test_oldest_first_within_a_tier_and_retry_not_before_due(tmp_path, capsys):
    centre = Centre(tmp_path, "campaigns:\n  default:\n    retry_delays: {no_answer: 1800}\n")
    first = centre.add("+79161230001", "10:00").lead_id
    second = centre.add("+79161230002", "10:01").lead_id
    assert centre.attempt("10:02", Outcome.NO_ANSWER) == first
    plan = centre.plan("10:10", capsys)
    assert callable_ids(plan) == [second]
    assert "retry due at 2026-11-23 10:32" in reason_of(plan, first)
    assert callable_ids(centre.plan("10:32", capsys)) == [second, first]


def test_attempt_cap_closes_the_lead_as_exhausted(tmp_path, capsys):
    centre = Centre(
        tmp_path, "campaigns:\n  default:\n    max_attempts: 2\n    retry_delays: {busy: 0}\n"
    )
    lead = centre.add("+79161230001", "10:00").lead_id
    centre.attempt("10:01", Outcome.BUSY)
    centre.attempt("10:02", Outcome.BUSY)
    plan = centre.plan("10:30", capsys)
    assert callable_ids(plan) == []
    assert reason_of(plan, lead) == "closed: exhausted"


def test_night_pause_nothing_callable_and_backlog_first_thing_new_leads_first(tmp_path, capsys):
    centre = Centre(tmp_path, "campaigns:\n  default:\n    retry_delays: {busy: 60}\n")
    retry = centre.add("+79161230001", "21:00").lead_id
    centre.attempt("21:01", Outcome.BUSY)
    night = [
        centre.add(f"+7916123000{n}", f"2{n}:30" if n < 4 else "23:50").lead_id for n in (2, 3)
    ]
    plan = centre.plan("23:59", capsys)
    assert callable_ids(plan) == []
    assert all("window closed until 2026-11-24 10:00" in item["reason"] for item in plan)
    # the deadline of a lead that arrived in the night counts from the opening
    deadlines = {item["lead_id"]: item["deadline_at"] for item in plan}
    assert deadlines[night[1]] == "2026-11-24T07:15:00+00:00"
    plan = centre.plan("2026-11-24T10:00", capsys)
    assert callable_ids(plan) == [*night, retry]


def test_days_off_and_holidays(tmp_path, capsys):
    centre = Centre(tmp_path, "  days_off: [sun]\n  holidays: [2026-12-31]\n")
    lead = centre.add("+79161230001", "2026-11-28T11:00").lead_id  # Saturday
    assert callable_ids(centre.plan("2026-11-28T12:00", capsys)) == [lead]
    plan = centre.plan("2026-11-29T12:00", capsys)  # Sunday
    assert callable_ids(plan) == []
    assert "window closed until 2026-11-30 10:00" in reason_of(plan, lead)
    assert callable_ids(centre.plan("2026-12-31T12:00", capsys)) == []
    assert callable_ids(centre.plan("2027-01-01T12:00", capsys)) == [lead]


def test_lead_local_hours_in_every_zone_of_the_number(tmp_path, capsys):
    centre = Centre(tmp_path, "campaigns:\n  default:\n    local_hours: {enabled: true}\n")
    vladivostok = centre.add("+74232123456", "10:00").lead_id  # UTC+10, 7 h ahead of Moscow
    moscow = centre.add("+74951234567", "10:00").lead_id
    plan = centre.plan("16:00", capsys)  # 23:00 in Vladivostok
    assert callable_ids(plan) == [moscow]
    assert "outside the lead's local hours until 2026-11-24 10:00" in reason_of(plan, vladivostok)
    assert callable_ids(centre.plan("2026-11-24T10:00", capsys)) == [vladivostok, moscow]


def test_duplicates_variant_a_same_order_rejected_new_order_accepted(tmp_path, capsys):
    centre = Centre(tmp_path)
    first = centre.add("+79161230001", "10:00", order_id="A-1")
    assert centre.add("8 (916) 123-00-01", "10:05", order_id="A-1") == Duplicate(
        first.lead_id, "phone_and_order"
    )
    repeat = centre.add("+79161230001", "10:06", order_id="A-2")
    assert isinstance(repeat, Accepted)
    plan = centre.plan("10:10", capsys)
    assert callable_ids(plan) == [first.lead_id, repeat.lead_id]
    dup = next(item for item in plan if item["tier"] == "duplicate")
    assert dup["lead_id"] == first.lead_id and f"duplicates lead {first.lead_id}" in dup["reason"]


def test_duplicates_variant_b_phone_within_window(tmp_path, capsys):
    centre = Centre(
        tmp_path, "campaigns:\n  default:\n    duplicates: {rule: phone_window, window_h: 24}\n"
    )
    first = centre.add("+79161230001", "10:00", order_id="A-1")
    assert isinstance(centre.add("+79161230001", "2026-11-24T09:59", order_id="A-2"), Duplicate)
    assert isinstance(centre.add("+79161230001", "2026-11-24T10:01", order_id="A-3"), Accepted)
    assert first.lead_id == 1


def test_cli_reports_a_duplicate_and_which_lead(tmp_path, capsys):
    centre = Centre(tmp_path)
    assert centre.cli("leads", "add", "+79161230001", "--order-id", "A-1", capsys=capsys)[0] == 0
    code, _, err = centre.cli("leads", "add", "89161230001", "--order-id", "A-1", capsys=capsys)
    assert code == 3 and "duplicate of lead 1 (rule phone_and_order)" in err


def test_dnc_closes_open_leads_and_blocks_new_ones(tmp_path, capsys):
    centre = Centre(tmp_path)
    blocked = centre.add("+74951234567", "10:00").lead_id
    other = centre.add("+79161230001", "10:00").lead_id
    code, out, _ = centre.cli("dnc", "add", "+7 495", "--note", "Moscow landlines", capsys=capsys)
    assert code == 0 and "1 waiting lead(s) closed as dnc" in out
    later = centre.add("+74957654321", "10:05")
    assert later.closed_as == "dnc"
    plan = centre.plan("10:10", capsys)
    assert callable_ids(plan) == [other]
    assert reason_of(plan, blocked) == "closed: dnc"
    code, out, _ = centre.cli("dnc", "list", capsys=capsys)
    assert "+7495" in out and "Moscow landlines" in out
    assert centre.cli("dnc", "remove", "+7495", capsys=capsys)[0] == 0
    code, _, err = centre.cli("dnc", "add", "+7495\r\nx", capsys=capsys)
    assert code == 2 and "a DNC entry is '+' and 1-15 digits" in err


def test_explain_gives_the_reason_and_the_attempt_history(tmp_path, capsys):
    centre = Centre(tmp_path, "campaigns:\n  default:\n    retry_delays: {busy: 600}\n")
    lead = centre.add("+79161230001", "10:00").lead_id
    centre.attempt("10:01", Outcome.BUSY)
    code, out, _ = centre.cli("explain", str(lead), "--at", "2026-11-23T10:05", capsys=capsys)
    assert code == 0
    assert "not callable at 2026-11-23 10:05 MSK" in out  # --at, not "now"
    assert "retry due at 2026-11-23 10:11 MSK (last: busy)" in out
    assert "#1 2026-11-23 10:01 MSK: busy" in out
    code, out, _ = centre.cli(
        "explain", str(lead), "--at", "2026-11-23T10:11", "--format", "json", capsys=capsys
    )
    data = json.loads(out)
    assert (
        data["callable"] and data["tier"] == "second_attempt" and len(data["attempt_history"]) == 1
    )
    assert centre.cli("explain", "999", capsys=capsys)[0] == 2


def test_speed_to_lead_counts_open_time_only(tmp_path, capsys):
    centre = Centre(tmp_path)
    lead = centre.add("+79161230001", "21:55").lead_id
    (item,) = [i for i in centre.plan("21:56", capsys) if i["lead_id"] == lead]
    assert item["deadline_at"] == "2026-11-24T07:10:00+00:00"  # 5 min today + 10 min tomorrow


@pytest.mark.parametrize("bad", ["--limit=0", "--at=yesterday"])
def test_plan_bad_arguments_exit_2(tmp_path, capsys, bad):
    centre = Centre(tmp_path)
    code, _, err = centre.cli("plan", bad, capsys=capsys)
    assert code == 2 and err.startswith("dialerd: plan:")


def test_dnc_refuses_a_whole_country_code_without_force(tmp_path, capsys):
    centre = Centre(tmp_path)
    centre.add("+7 916 123-45-67", "10:00")
    code, out, err = centre.cli("dnc", "add", "+7", capsys=capsys)
    assert code == 2 and out == ""
    assert "+7 blocks every number of a whole country code (KZ, RU)" in err
    assert "--force" in err
    code, out, _ = centre.cli("dnc", "add", "+3", capsys=capsys)
    assert code == 2
    code, out, _ = centre.cli("dnc", "add", "+7", "--force", capsys=capsys)
    assert code == 0 and "1 waiting lead(s) closed as dnc" in out


def test_fewest_attempts_puts_the_nights_new_leads_before_a_callback_without_attempts(
    tmp_path, capsys
):
    """A callback asked for at intake has no speed-to-lead deadline: it must not sort
    first among the new leads (NULL first), in the plan and in the engine's own pick."""
    centre = Centre(tmp_path, "campaigns:\n  default:\n    scheme: fewest_attempts\n")
    night = [centre.add(f"+7916123000{n}", f"2026-11-23T02:0{n}").lead_id for n in (1, 2)]
    callback = centre.add(
        "+79161230009", "2026-11-23T03:00", callback_at=at("2026-11-23T10:00")
    ).lead_id
    plan = centre.plan("10:05", capsys)
    assert callable_ids(plan) == [*night, callback]
    assert centre.attempt("10:05", Outcome.BUSY) == night[0]


def test_plan_with_another_config_shows_the_ranks_the_daemon_will_give(tmp_path, capsys):
    """The daemon re-ranks waiting leads at start (and closes those over a lowered cap):
    `plan --config other.yaml` must show that order, not the ranks stored under the old
    scheme, and leave the store as it was."""
    centre = Centre(
        tmp_path, "campaigns:\n  default:\n    retry_delays: {busy: 60}\n" + NO_PHONE_LIMITS
    )
    redial = centre.add("+79161230001", "10:00").lead_id
    for minute in ("10:01", "10:03", "10:05"):
        centre.attempt(minute, Outcome.BUSY)  # three attempts: a redial under tiers
    callback = centre.add("+79161230002", "10:06", callback_at=at("10:30")).lead_id
    new = centre.add("+79161230003", "10:20").lead_id
    other = tmp_path / "other.yaml"
    other.write_text(
        centre.config.read_text().replace(
            "    retry_delays: {busy: 60}\n",
            "    retry_delays: {busy: 60}\n    scheme: fewest_attempts\n",
        )
    )
    code, out, err = centre.cli(
        "plan", "--at", "2026-11-23T10:40", "--format", "json", capsys=capsys
    )
    stored = [(i["lead_id"], i["tier"]) for i in json.loads(out) if i["callable"]]
    assert stored == [(new, "new"), (callback, "callback"), (redial, "redial")]
    capsys.readouterr()
    assert (
        main(["plan", "--at", "2026-11-23T10:40", "--format", "json", "--config", str(other)]) == 0
    )
    plan = json.loads(capsys.readouterr().out)
    assert [(i["lead_id"], i["tier"]) for i in plan if i["callable"]] == [
        (new, "new"),
        (callback, "new"),  # no attempts: rank 1 under fewest_attempts, not "attempts=2"
        (redial, "attempts=3"),
    ]
    capsys.readouterr()
    assert (
        main(
            [
                "explain",
                str(callback),
                "--at",
                "2026-11-23T10:40",
                "--format",
                "json",
                "--config",
                str(other),
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["tier"] == "new"
    # the store keeps its ranks until a daemon on the other config starts
    code, out, _ = centre.cli("plan", "--at", "2026-11-23T10:40", "--format", "json", capsys=capsys)
    assert [(i["lead_id"], i["tier"]) for i in json.loads(out) if i["callable"]] == stored
    lowered = tmp_path / "lowered.yaml"
    lowered.write_text(
        centre.config.read_text().replace(
            "    retry_delays: {busy: 60}\n", "    retry_delays: {busy: 60}\n    max_attempts: 3\n"
        )
    )
    capsys.readouterr()
    assert (
        main(["plan", "--at", "2026-11-23T10:40", "--format", "json", "--config", str(lowered)])
        == 0
    )
    capsys.readouterr()
    assert (
        main(
            [
                "explain",
                str(redial),
                "--at",
                "2026-11-23T10:40",
                "--format",
                "json",
                "--config",
                str(lowered),
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["reason"] == "closed: exhausted"


def test_explain_says_when_where_who_and_why_in_words(tmp_path, capsys):
    """explain at a future --at says so; a callable lead's place in the dial order; a closed
    lead has no tier or deadline; the operator's result, the DNC entry's note and what a
    hangup cause means."""
    centre = Centre(tmp_path, "campaigns:\n  default:\n    retry_delays: {no_answer: 3600}\n")
    talked = centre.add("+79161230004", "10:00").lead_id
    assert centre.attempt("10:01", Outcome.ANSWERED) == talked
    missed = centre.add("+79161230001", "10:02").lead_id
    assert centre.attempt("10:03", Outcome.NO_ANSWER) == missed
    first = centre.add("+79161230002", "10:04").lead_id
    second = centre.add("+79161230003", "10:05").lead_id
    centre.sql(
        ("UPDATE attempts SET hangup_cause = 19 WHERE lead_id = ?", (missed,)),
        ("UPDATE attempts SET operator = 'anna' WHERE lead_id = ?", (talked,)),
        (
            "INSERT INTO dispositions (attempt_id, lead_id, result, operator, created_at)"
            " SELECT id, lead_id, 'confirmed', 'anna', created_at + 60 FROM attempts"
            " WHERE lead_id = ?",
            (talked,),
        ),
    )

    code, out, _ = centre.cli("explain", str(second), "--at", "2026-11-23T10:06", capsys=capsys)
    assert "callable at 2026-11-23 10:06 MSK, number 2 in the dial order" in out
    code, out, _ = centre.cli(
        "explain", str(second), "--at", "2026-11-23T10:06", "--format", "json", capsys=capsys
    )
    assert json.loads(out)["position"] == 2 and first

    code, out, _ = centre.cli("explain", str(talked), "--format", "json", capsys=capsys)
    data = json.loads(out)
    assert (data["tier"], data["deadline_at"], data["reason"]) == (None, None, "closed: reached")
    (call,) = data["attempt_history"]
    assert (call["operator"], call["result"]) == ("anna", "confirmed")
    code, out, _ = centre.cli("explain", str(talked), capsys=capsys)
    assert "tier" not in out and "deadline" not in out
    assert "answered, operator anna, result confirmed" in out

    note = "asked in writing never to be called"
    assert centre.cli("dnc", "add", "+79161230001", "--note", note, capsys=capsys)[0] == 0
    code, out, _ = centre.cli("explain", str(missed), capsys=capsys)
    assert f"do-not-call entry +79161230001: {note}" in out
    assert "no_answer, cause 19 (no answer)" in out
    code, out, _ = centre.cli("explain", str(missed), "--format", "json", capsys=capsys)
    data = json.loads(out)
    assert data["dnc"] == {"pattern": "+79161230001", "note": note}
    assert data["attempt_history"][0]["hangup_cause_meaning"] == "no answer"


def api_explain(centre: Centre, lead_id: int, when: str) -> tuple[int, dict]:
    """``GET /api/v1/leads/{id}/explain?at=...`` of the API app on the centre's store."""
    import httpx

    from dialerd.api.app import create_app
    from dialerd.api.context import ApiContext

    async def go():
        async with open_configured(centre.settings.store, create=False) as db:
            ctx = ApiContext(
                db=db,
                reader=db,
                writer=None,
                settings=lambda: centre.settings,
                policy=lambda: centre.settings.policy,
                wake=lambda: None,
                ami_connected=lambda: False,
                tokens={"crm": b"crm-token"},
            )
            transport = httpx.ASGITransport(app=create_app(ctx))
            headers = {"Authorization": "Bearer crm-token"}
            async with httpx.AsyncClient(
                transport=transport, base_url="http://api", headers=headers
            ) as client:
                answer = await client.get(f"/api/v1/leads/{lead_id}/explain", params={"at": when})
                return answer.status_code, answer.json()

    return asyncio.run(go())


def test_the_api_explains_a_lead_with_the_same_fields_and_values_as_the_cli(tmp_path, capsys):
    """New, callback, closed (with the operator's result), on the do-not-call list (with the
    entry's note and a hangup cause's meaning), with its own time zone: for each, at a
    future time, ``GET /api/v1/leads/{id}/explain?at=`` answers what `dialerd explain
    --at ... --format json` prints, field for field."""
    centre = Centre(
        tmp_path,
        "campaigns:\n  default:\n    retry_delays: {no_answer: 3600}\n"
        "    local_hours: {enabled: true}\n",
    )
    talked = centre.add("+79161230004", "10:00").lead_id
    assert centre.attempt("10:01", Outcome.ANSWERED) == talked
    missed = centre.add("+79161230001", "10:02").lead_id
    assert centre.attempt("10:03", Outcome.NO_ANSWER) == missed
    fresh = centre.add("+79161230002", "10:04").lead_id
    omsk = centre.add("+79161230003", "10:05", timezone="Asia/Omsk").lead_id
    later = centre.add("+79161230005", "10:05", callback_at=at("2026-11-23T18:30")).lead_id
    centre.sql(
        ("UPDATE attempts SET hangup_cause = 19 WHERE lead_id = ?", (missed,)),
        ("UPDATE attempts SET operator = 'anna' WHERE lead_id = ?", (talked,)),
        (
            "INSERT INTO dispositions (attempt_id, lead_id, result, operator, note, created_at)"
            " SELECT id, lead_id, 'confirmed', 'anna', 'two boxes', created_at + 60"
            " FROM attempts WHERE lead_id = ?",
            (talked,),
        ),
    )
    note = "asked in writing never to be called"
    assert centre.cli("dnc", "add", "+79161230001", "--note", note, capsys=capsys)[0] == 0

    when = "2026-11-23T10:06"  # in the future of every lead's last change
    for lead in (fresh, omsk, later, talked, missed):
        code, out, err = centre.cli("explain", str(lead), "--at", when, "--format", "json", capsys=capsys)  # fmt: skip
        assert code == 0, err
        cli = json.loads(out)
        status, api = api_explain(centre, lead, when)
        assert status == 200, api
        assert api == cli
    assert (cli["dnc"], cli["tier"], cli["deadline_at"]) == (
        {"pattern": "+79161230001", "note": note},
        None,
        None,
    )
    assert cli["attempt_history"][0]["hangup_cause_meaning"] == "no answer"
    assert cli["at"] == "2026-11-23T07:06:00+00:00"
    assert api_explain(centre, fresh, when)[1]["position"] == 1
    assert api_explain(centre, omsk, when)[1]["local_zone"] == "Asia/Omsk (the lead's own timezone)"
    (call,) = api_explain(centre, talked, when)[1]["attempt_history"]
    assert (call["operator"], call["result"], call["result_note"]) == (
        "anna",
        "confirmed",
        "two boxes",
    )
    assert api_explain(centre, later, when)[1]["tier"] == "callback"

    status, error = api_explain(centre, fresh, "tomorrow")
    assert (status, error["error"]["field"]) == (422, "at")
    assert api_explain(centre, 999, when)[0] == 404
