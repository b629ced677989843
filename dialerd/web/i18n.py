"""Every text a person reads on the console, through one catalog per language.

A catalog is one JSON file (``catalogs/<code>.json``) of key → text; adding a language is
adding that file (and its code to ``config.console.Language``). English is the reference:
a test keeps every other catalog complete, so a missing key is a failed build, not an
English word in a Russian page.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Literal

REFERENCE = "en"
Code = Literal["en", "ru"]
LANGUAGES: tuple[Code, ...] = ("en", "ru")


@cache
def catalog(code: str) -> Mapping[str, str]:
    """The catalog of ``code`` (an unknown code falls back to English)."""
    if code not in LANGUAGES:
        code = REFERENCE
    text = resources.files("dialerd.web").joinpath("catalogs", f"{code}.json").read_text("utf-8")
    loaded: dict[str, str] = json.loads(text)
    return loaded


class Translator:
    """``t("card.phone")`` in templates; ``t("x.y", n=3)`` fills ``{n}``."""

    def __init__(self, code: str) -> None:
        self.code = code if code in LANGUAGES else REFERENCE
        self._texts = catalog(self.code)
        self._fallback = catalog(REFERENCE)

    def __call__(self, key: str, **values: object) -> str:
        text = self._texts.get(key) or self._fallback.get(key) or key
        return text.format(**values) if values else text

    def subset(self, prefix: str) -> dict[str, str]:
        """The texts the page's script shows itself (``js.*``), sent inside the page."""
        keys = [k for k in self._fallback if k.startswith(prefix)]
        return {k: self(k) for k in keys}


def pick_language(configured: str | None, accept_language: str | None, default: str) -> str:
    """The person's own setting, else the browser's first supported language, else default."""
    if configured in LANGUAGES:
        return configured
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return default if default in LANGUAGES else REFERENCE
