"""Simulated customers whose ring and talk times vary by number, drawn from a seed.

Why: a day where every customer rings and talks the same gives flat figures (handling
time, occupancy, abandons) that no call centre has. Each number is one person: their
typical ring and talk time are drawn once from the seed and the number, and each call
varies around them, so a number called twice behaves like the same person twice and the
same seed gives the same day. What the customer does (answer, busy, ...) stays the base
rule's (the test dialplan's 4th digit from the end, by default).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass

from dialerd.pbx.sim.server import OutcomeRule, SimOutcome, outcome_by_digit


@dataclass(frozen=True)
class CustomerMix:
    """The spread of customers: ring times uniform in a range, talk times log-normal."""

    ring_s: tuple[float, float] = (3.0, 20.0)  # a person's typical ring before answering
    talk_median_s: float = 120.0  # the median person's typical conversation
    talk_spread: float = 0.5  # sigma of the log of typical talk times
    call_jitter: float = 0.3  # each call: the typical times × 1 ± this, uniformly


def seeded_customers(
    seed: int, mix: CustomerMix = CustomerMix(), rule: OutcomeRule = outcome_by_digit
) -> OutcomeRule:
    """``rule``'s outcomes, answered calls given this number's own ring and talk times."""
    calls: Counter[str] = Counter()

    def outcome(number: str) -> SimOutcome:
        base = rule(number)
        if base.kind != "answer":
            return base
        person = random.Random(f"{seed}/{number}")
        typical_ring = person.uniform(*mix.ring_s)
        typical_talk = mix.talk_median_s * math.exp(person.gauss(0.0, mix.talk_spread))
        calls[number] += 1
        call = random.Random(f"{seed}/{number}/{calls[number]}")
        low, high = 1 - mix.call_jitter, 1 + mix.call_jitter
        ring_s = typical_ring * call.uniform(low, high)
        talk_s = typical_talk * call.uniform(low, high)
        return SimOutcome("answer", ring_s=ring_s, talk_s=talk_s, patience_s=base.patience_s)

    return outcome
