"""The customer's score: NPS and CSAT from the post-call survey's keypad answers (pure).

NPS ("how likely are you to recommend us", 0-10): the percentage of promoters (9-10)
minus the percentage of detractors (0-6), from -100 to 100; passives (7-8) count in the
number of answers only. CSAT ("how satisfied are you", 1-5): the share of 4-5 answers.
Both are None without answers: a survey nobody answered is recorded as such and counted
in neither score.
"""

from __future__ import annotations

from collections.abc import Mapping

NPS_RANGE = range(0, 11)
CSAT_RANGE = range(1, 6)
PROMOTER_MIN = 9
DETRACTOR_MAX = 6
SATISFIED_MIN = 4


class ScoreInvalid(ValueError):
    """A keypad answer outside its scale (or not a number at all)."""


def nps_answer(digits: str) -> int | None:
    """The NPS answer the customer keyed in: None for no digits, ScoreInvalid off the scale."""
    return _answer(digits, NPS_RANGE, "nps")


def csat_answer(digits: str) -> int | None:
    """The CSAT answer the customer keyed in: None for no digits, ScoreInvalid off the scale."""
    return _answer(digits, CSAT_RANGE, "csat")


def _answer(digits: str, scale: range, name: str) -> int | None:
    digits = digits.strip()
    if not digits:
        return None
    if not digits.isascii() or not digits.isdigit() or len(digits) > 2:
        raise ScoreInvalid(f"{name}: {digits[:8]!r} is not a number from {scale[0]} to {scale[-1]}")
    value = int(digits)
    if value not in scale:
        raise ScoreInvalid(f"{name}: {value} is not from {scale[0]} to {scale[-1]}")
    return value


def is_promoter(score: int) -> bool:
    return score >= PROMOTER_MIN


def is_detractor(score: int) -> bool:
    """0-6: also the answer worth an alert, a customer who would warn others off."""
    return score <= DETRACTOR_MAX


def nps(answers: Mapping[int, int]) -> float | None:
    """NPS from the count of each answer (0-10): % promoters − % detractors, or None."""
    total = sum(answers.values())
    if not total:
        return None
    promoters = sum(n for score, n in answers.items() if is_promoter(score))
    detractors = sum(n for score, n in answers.items() if is_detractor(score))
    return 100.0 * (promoters - detractors) / total


def csat(answers: Mapping[int, int]) -> float | None:
    """CSAT from the count of each answer (1-5): the share of 4 and 5, or None."""
    total = sum(answers.values())
    if not total:
        return None
    return sum(n for score, n in answers.items() if score >= SATISFIED_MIN) / total
