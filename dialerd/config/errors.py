"""The one error a config raises: every problem as a ready-to-print line naming the file,
the line and the field (or the environment variable) it is about."""

from __future__ import annotations


class ConfigError(Exception):
    """A config that must not be used; ``problems`` are ready-to-print lines."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
