"""The ``logging`` section: how verbose the daemon is, and in which shape it writes."""

from __future__ import annotations

from typing import Literal

from dialerd.config.values import Section


class LoggingSettings(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "console", "json"] = "auto"
