"""Dialing modes (R7): who is called first, the operator or the customer."""

from __future__ import annotations

from enum import StrEnum


class DialMode(StrEnum):
    """How a campaign's calls are placed; stored with each attempt (``attempts.mode``)."""

    AGENT_FIRST = "agent_first"  # ring a free operator, then Asterisk dials the customer
    CUSTOMER_FIRST = "customer_first"  # progressive: customer first, answered → operators' queue
    PREDICTIVE = "predictive"  # customer_first with a ratio from the answer rate, abandon-capped
    SURVEY = "survey"  # no operator: the answered customer goes straight into the survey IVR

    @property
    def customer_first(self) -> bool:
        """The customer is dialed before any operator is on the line (abandons are possible)."""
        return self is not DialMode.AGENT_FIRST

    @property
    def needs_operator(self) -> bool:
        """An answered call is for an operator: without one signed in nobody is dialed, and
        the operators' pace limits the calls. A survey call talks to the IVR only."""
        return self is not DialMode.SURVEY
