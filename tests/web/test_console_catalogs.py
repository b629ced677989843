"""Every word on the console comes from a catalog, and every catalog says every word."""

from __future__ import annotations

import json
import re
from importlib import resources

from dialerd.domain import CloseReason, LeadState
from dialerd.policy.alerting import Kind
from dialerd.web.card import RESULTS
from dialerd.web.desk_actions import ACTIONS
from dialerd.web.i18n import LANGUAGES, REFERENCE, Translator, catalog, pick_language
from dialerd.web.supervisor import ALERT_KINDS, SCRIPT_TEXTS, TIERS

WEB = resources.files("dialerd.web")
POLICY = resources.files("dialerd.policy")
STORE = resources.files("dialerd.store")
_KEY_IN_TEMPLATE = re.compile(r"""\bt\(\s*["']([a-z_]+\.[a-z0-9_]+)["']""")


def test_every_language_has_every_key_of_the_reference():
    reference = set(catalog(REFERENCE))
    for code in LANGUAGES:
        assert set(catalog(code)) == reference, code
        assert all(text.strip() for text in catalog(code).values()), code


_KEY_IN_CODE = re.compile(r"""["']([a-z_]+\.[a-z0-9_]+)["']""")
_SUPERVISOR_CODE = (
    "supervisor.py",
    "desk.py",
    "desk_actions.py",
    "listen.py",
    "wallboard_charts.py",
)


def test_every_key_the_templates_and_code_use_exists():
    used = set()
    for folder in ("templates",):
        for item in WEB.joinpath(folder).iterdir():
            used |= set(_KEY_IN_TEMPLATE.findall(item.read_text("utf-8")))
    for name in ("operator.py", "pages.py", "card.py", "app.py", "phone.py", *_SUPERVISOR_CODE):
        used |= set(_KEY_IN_TEMPLATE.findall(WEB.joinpath(name).read_text("utf-8")))
    used |= {f"result.{result}" for _, result in RESULTS}
    used |= {f"presence.{p}" for p in ("free", "ringing", "talking", "wrapup", "paused", "offline")}
    for name in ("operator.js", "phone.js"):  # every "js.…" literal: some go through a helper
        script = WEB.joinpath("static", name).read_text("utf-8")
        used |= set(re.findall(r'"(js\.[a-z_]+)"', script))
    assert {"js.phone_registered", "js.phone_unhold"} <= used  # phone.js's keys are seen
    used -= {"desk.done_", "desk.error_"}  # the prefixes of the keys made up at run time
    assert used - set(catalog(REFERENCE)) == set()


def test_every_key_the_supervisor_screens_make_up_exists():
    """Keys put together at run time: the wallboard script's, each refusal's and each
    action's, each tier, alert kind, lead state, close reason and audit action."""
    reference = set(catalog(REFERENCE))
    script = WEB.joinpath("static", "supervisor.js").read_text("utf-8")
    used = set(re.findall(r"""t\("([a-z_]+\.[a-z0-9_]+)""", script))
    used |= {key for key in SCRIPT_TEXTS}
    keys = _KEY_IN_CODE.findall(WEB.joinpath("listen.py").read_text("utf-8"))
    used |= {key for key in keys if key.split(".")[0] in ("listen", "error")}
    assert set(ALERT_KINDS) == {kind.value for kind in Kind}
    codes = set()
    for path in (POLICY.joinpath("desk.py"), WEB.joinpath("desk_actions.py")):
        codes |= set(re.findall(r'DeskRefused\(\s*"([a-z_]+)"', path.read_text("utf-8")))
    codes |= set(
        re.findall(r"""error=([a-z_]+)""", WEB.joinpath("desk_actions.py").read_text("utf-8"))
    )
    assert {"at_outside", "lead_dialing", "not_exhausted", "no_lead"} <= codes
    used |= {f"desk.error_{code}" for code in codes}
    used |= {f"desk.done_{action}" for action in ACTIONS}
    used |= {f"listen.{mode}" for mode in ("listen", "whisper", "barge")}
    used |= {f"tier.{tier}" for tier in TIERS} | {f"alert.{kind}" for kind in Kind}
    used |= {f"state.{state}" for state in LeadState} | {f"close.{r}" for r in CloseReason}
    audited = set()
    for path in (
        STORE.joinpath("desk.py"),
        STORE.joinpath("campaign_pauses.py"),
        WEB.joinpath("listen.py"),
    ):
        audited |= set(re.findall(r'action="([a-z_]+)"', path.read_text("utf-8")))
    audited |= {"campaign_pause", "campaign_resume"}
    assert {"reschedule", "close", "dnc_add", "requeue", "listen"} <= audited
    used |= {f"audit.{action}" for action in audited}
    assert used - reference == set()


def test_russian_reads_russian_and_values_fill_in():
    t = Translator("ru")
    assert t("card.attempt", n=2, cap=5) == "Попытка 2 из 5"
    assert t("result.confirmed") == "Подтверждён"
    assert Translator("xx")("result.confirmed") == "Confirmed"  # unknown code: English


def test_the_persons_setting_wins_then_the_browser_then_the_default():
    assert pick_language("en", "ru-RU,ru;q=0.9", "ru") == "en"
    assert pick_language(None, "pl-PL,ru;q=0.8,en;q=0.5", "en") == "ru"
    assert pick_language(None, "de-DE", "ru") == "ru"


def test_catalogs_are_plain_json_objects_of_text():
    for code in LANGUAGES:
        data = json.loads(WEB.joinpath("catalogs", f"{code}.json").read_text("utf-8"))
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in data.items())
