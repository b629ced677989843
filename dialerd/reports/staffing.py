"""How many operators an hour needs to dial new leads within their speed-to-lead target
(Erlang C; pure).

Leads arrive at rate λ per second and each takes an operator the measured AHT (talk +
wrap-up) on average, so the offered load is A = λ·AHT Erlangs. With N operators the
chance that a lead waits longer than T is C(N, A)·e^(−(N−A)·T/AHT), C being Erlang's
delay formula. The estimate is the smallest N whose share of leads reached within T is at
least the target. Erlang C assumes Poisson arrivals and callers who wait; leads do wait
(in the store), so it fits the dialer better than it fits a phone queue.
"""

from __future__ import annotations

import math


def erlang_c(agents: int, load: float) -> float:
    """Probability that an arrival has to wait (Erlang C), 1.0 when overloaded."""
    if load <= 0:
        return 0.0
    if agents <= load:
        return 1.0
    # Erlang B by its stable recurrence, then C from B.
    b = 1.0
    for n in range(1, agents + 1):
        b = load * b / (n + load * b)
    return agents * b / (agents - load * (1 - b))


def service_level(agents: int, arrivals_per_s: float, aht_s: float, target_s: float) -> float:
    """Share of arrivals answered within ``target_s`` with ``agents`` operators."""
    load = arrivals_per_s * aht_s
    if load <= 0:
        return 1.0
    if agents <= load:
        return 0.0
    waits = erlang_c(agents, load)
    return 1.0 - waits * math.exp(-(agents - load) * target_s / aht_s)


def operators_needed(
    arrivals_per_hour: float, aht_s: float, target_s: float, target_share: float
) -> int:
    """The fewest operators reaching ``target_share`` of arrivals within ``target_s``."""
    if arrivals_per_hour < 0 or aht_s < 0 or target_s < 0 or not 0 < target_share < 1:
        raise ValueError("arrivals, AHT and target must be ≥ 0 and the share within (0, 1)")
    if arrivals_per_hour == 0 or aht_s == 0:
        return 0
    rate = arrivals_per_hour / 3600
    agents = max(1, math.floor(rate * aht_s) + 1)
    while service_level(agents, rate, aht_s, target_s) < target_share:
        agents += 1
    return agents
