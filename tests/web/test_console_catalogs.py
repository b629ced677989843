"""Every word on the console comes from a catalog, and every catalog says every word."""

from __future__ import annotations

import json
import re
from importlib import resources

from dialerd.web.card import RESULTS
from dialerd.web.i18n import LANGUAGES, REFERENCE, Translator, catalog, pick_language

WEB = resources.files("dialerd.web")
_KEY_IN_TEMPLATE = re.compile(r"""\bt\(\s*["']([a-z_]+\.[a-z0-9_]+)["']""")


def test_every_language_has_every_key_of_the_reference():
    reference = set(catalog(REFERENCE))
    for code in LANGUAGES:
        assert set(catalog(code)) == reference, code
        assert all(text.strip() for text in catalog(code).values()), code


def test_every_key_the_templates_and_code_use_exists():
    used = set()
    for folder in ("templates",):
        for item in WEB.joinpath(folder).iterdir():
            used |= set(_KEY_IN_TEMPLATE.findall(item.read_text("utf-8")))
    for name in ("operator.py", "pages.py", "card.py", "app.py", "phone.py"):
        used |= set(_KEY_IN_TEMPLATE.findall(WEB.joinpath(name).read_text("utf-8")))
    used |= {f"result.{result}" for _, result in RESULTS}
    used |= {f"presence.{p}" for p in ("free", "ringing", "talking", "wrapup", "paused", "offline")}
    for name in ("operator.js", "phone.js"):  # every "js.…" literal: some go through a helper
        script = WEB.joinpath("static", name).read_text("utf-8")
        used |= set(re.findall(r'"(js\.[a-z_]+)"', script))
    assert {"js.phone_registered", "js.phone_unhold"} <= used  # phone.js's keys are seen
    assert used - set(catalog(REFERENCE)) == set()


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
