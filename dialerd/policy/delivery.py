"""Delivering to someone else's HTTP endpoint (the CRM webhook, alert channels): retry or give up.

Pure: the worker passes the answer it got, the attempt count, ``now`` and a jitter draw.

- 2xx: delivered.
- 408, 429, 5xx, a timeout or a connection error: the receiver is down or busy; it may
  recover, so retry with exponential backoff (+ jitter, so many messages do not retry in
  lockstep) until ``max_tries`` deliveries were tried, then park.
- Any other answer (4xx, and 3xx: webhooks are not redirected): the request itself is
  refused and sending the same bytes again cannot help, so park at once; an operator
  fixes the cause and retries by hand (``dialerd outbox retry``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

RETRYABLE_4XX = frozenset({408, 429})


class Answer(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    REFUSED = "refused"


def classify(status: int | None) -> Answer:
    """``status`` None means no HTTP answer at all (timeout, refused or broken connection)."""
    if status is None or status >= 500 or status in RETRYABLE_4XX:
        return Answer.RETRY
    if 200 <= status < 300:
        return Answer.DELIVERED
    return Answer.REFUSED


@dataclass(frozen=True)
class RetryRules:
    max_tries: int
    backoff_initial_s: float
    backoff_max_s: float

    def __post_init__(self) -> None:
        if self.max_tries < 1 or self.backoff_initial_s <= 0 or self.backoff_max_s <= 0:
            raise ValueError(f"invalid retry rules: {self}")


@dataclass(frozen=True)
class Step:
    """What to record after one try: the new state and, while pending, when to try again."""

    state: str  # pending | delivered | parked (the outbox's words; alerts map them)
    next_try_at: float | None
    why: str


def backoff_s(tries: int, rules: RetryRules, jitter: float) -> float:
    """Delay after the ``tries``-th failed try: initial × 2^(tries-1), capped, × [0.5, 1]."""
    if not 0.0 <= jitter < 1.0:
        raise ValueError(f"jitter must be in [0, 1), got {jitter}")
    base = min(rules.backoff_max_s, rules.backoff_initial_s * 2.0 ** min(max(tries - 1, 0), 60))
    return base * (0.5 + 0.5 * jitter)


def after_try(
    status: int | None,
    tries: int,
    rules: RetryRules,
    now: float,
    jitter: float,
    retry_after_s: float | None = None,
) -> Step:
    """The message's next step; ``tries`` counts the try that just ended.

    A receiver's ``Retry-After`` (429/503) is honoured up to ``backoff_max_s``.
    """
    answer = classify(status)
    if answer is Answer.DELIVERED:
        return Step("delivered", None, f"HTTP {status}")
    why = "no answer" if status is None else f"HTTP {status}"
    if answer is Answer.REFUSED:
        return Step("parked", None, f"{why}: refused, not retried")
    if tries >= rules.max_tries:
        return Step("parked", None, f"{why}: gave up after {tries} tries")
    delay = backoff_s(tries, rules, jitter)
    if retry_after_s is not None and retry_after_s > delay:
        delay = min(retry_after_s, rules.backoff_max_s)
    return Step("pending", now + delay, f"{why}: retry in {delay:.1f} s")
