"""May this lead be dialed now, and why (not)? One function for the engine, `plan` and `explain`.

The store walks waiting leads in rank order; ``judge`` accepts, defers or closes
each one. ``explain`` turns the same reasoning into the words `dialerd plan` and
`dialerd explain` print, so what they say is exactly what the engine does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from dialerd.domain import CloseReason, LeadState
from dialerd.policy.campaign import CampaignRules
from dialerd.policy.lead_zone import LeadZone, lead_zone
from dialerd.policy.modes import DialMode
from dialerd.policy.phone_limits import HoldKind, PhoneHold, PhoneLimits, phone_hold
from dialerd.policy.priority import describe_rank, ranks_in_use
from dialerd.policy.window import CallingWindow, next_callable

_FAR = 14 * 86400.0  # a lead whose zones never meet the centre's hours is looked at again then


@dataclass(frozen=True)
class LeadView:
    """A lead as the store shows it to the policy."""

    lead_id: int
    phone: str
    campaign: str
    state: str
    rank: int
    attempts: int
    received_at: float
    due_at: float
    deadline_at: float | None
    callback_at: float | None
    last_outcome: str | None
    close_reason: str | None
    on_dnc: bool = False
    timezone: str | None = None  # the lead's own zone (IANA), as intake checked it
    region: str | None = None  # its delivery region, as stored
    extra_attempts: int = 0  # granted by a supervisor beyond the campaign's cap (issue 13)
    # the phone's own history, over every lead and campaign (policy/phone_limits.py)
    recent_dials: tuple[float, ...] = ()  # its latest dial times (at most RECENT_DIALS)
    last_abandoned_at: float | None = None  # its latest abandoned call

    def cap(self, campaign: CampaignRules) -> int:
        """The attempt cap that applies to this lead."""
        return campaign.max_attempts + self.extra_attempts


@dataclass(frozen=True)
class Dial:
    pass


@dataclass(frozen=True)
class Defer:
    until: float
    why: str


@dataclass(frozen=True)
class Close:
    reason: CloseReason


Verdict = Dial | Defer | Close


@dataclass(frozen=True)
class Policy:
    """The parts of the config the decisions need, built once per (re)load
    (``Settings.policy``, made by ``dialerd.config.rules``)."""

    window: CallingWindow
    campaigns: Mapping[str, CampaignRules]
    default_campaign: str
    phone_limits: PhoneLimits = PhoneLimits()

    @property
    def ranks(self) -> tuple[int, ...]:
        return ranks_in_use([(c.scheme, c.max_attempts) for c in self.campaigns.values()])

    def campaign(self, name: str) -> CampaignRules:
        """A lead of a campaign removed from the config follows the default campaign's rules."""
        return self.campaigns.get(name) or self.campaigns[self.default_campaign]

    @property
    def tz(self) -> ZoneInfo:
        return self.window.tz

    def local_time(self, epoch: float) -> str:
        return datetime.fromtimestamp(epoch, self.tz).strftime("%Y-%m-%d %H:%M %Z")

    def phone_hold(self, lead: LeadView, now: float) -> PhoneHold | None:
        """What holds the lead's phone back now: its campaign's abandon lockout (not for
        agent_first), the per-day and gap limits (the gap not for an agreed callback;
        ``policy/phone_limits.py``)."""
        campaign = self.campaign(lead.campaign)
        return phone_hold(
            lead.recent_dials,
            lead.last_abandoned_at,
            now,
            self.phone_limits,
            self.tz,
            lockout_h=campaign.abandon.lockout_h,
            operator_reserved=campaign.mode is DialMode.AGENT_FIRST,
            agreed_time=lead.callback_at is not None,
        )

    def describe_hold(self, hold: PhoneHold) -> str:
        """What `explain` says of a phone hold."""
        until = self.local_time(hold.until)
        if hold.kind is HoldKind.LOCKOUT:
            return (
                f"held back: abandoned at {self.local_time(hold.since)}, locked out until {until}"
            )
        if hold.kind is HoldKind.PER_DAY:
            return (
                f"held back: phone dialed {hold.dials_today} times today"
                f" (limit {self.phone_limits.per_day}), next at {until}"
            )
        return (
            f"held back: phone dialed at {self.local_time(hold.since)}"
            f" (at most once in {self.phone_limits.min_gap_s / 60:g} min), next at {until}"
        )

    def lead_zone(self, lead: LeadView) -> LeadZone:
        """The zone the lead's local hours are read in, and why (``policy/lead_zone.py``)."""
        return lead_zone(lead.phone, lead.timezone, lead.region, self.tz)


def judge(lead: LeadView, now: float, policy: Policy) -> Verdict:
    """The engine's last word on a due lead it is about to dial."""
    campaign = policy.campaign(lead.campaign)
    if lead.on_dnc:
        return Close(CloseReason.DNC)
    if lead.attempts >= lead.cap(campaign):
        return Close(CloseReason.EXHAUSTED)
    hold = policy.phone_hold(lead, now)
    if hold is not None:
        return Defer(hold.until, policy.describe_hold(hold))
    at = datetime.fromtimestamp(now, UTC)
    if not policy.window.is_open(at):
        opens = policy.window.next_open(at).timestamp()
        return Defer(opens, f"window closed until {policy.local_time(opens)}")
    if campaign.local_hours.enabled:
        zone = policy.lead_zone(lead)
        local = next_callable(at, policy.window, campaign.local_hours.hours, (zone.zone,))
        if local is None:
            return Defer(
                now + _FAR, "the lead's local hours never meet the window in the next 14 days"
            )
        if local > at:
            return Defer(
                local.timestamp(),
                f"outside the lead's local hours until {policy.local_time(local.timestamp())}"
                f" ({zone.zone.key})",
            )
    return Dial()


@dataclass(frozen=True)
class Decision:
    """One line of `dialerd plan`; the JSON shape is documented in the README."""

    lead_id: int
    phone: str
    campaign: str
    callable: bool
    tier: str
    rank: int
    reason: str
    due_at: float | None
    deadline_at: float | None
    attempts: int
    position: int | None = None
    local_zone: str | None = None  # with local_hours on: the zone they are read in, and why


def explain(lead: LeadView, now: float, policy: Policy) -> Decision:
    """Where this lead stands at ``now`` and why."""
    campaign = policy.campaign(lead.campaign)
    tier = describe_rank(campaign.scheme, lead.rank)

    local_zone = _local_zone(lead, campaign, policy)

    def decision(callable_: bool, reason: str, due_at: float | None = lead.due_at) -> Decision:
        return Decision(
            lead.lead_id,
            lead.phone,
            lead.campaign,
            callable_,
            tier,
            lead.rank,
            reason,
            due_at,
            lead.deadline_at,
            lead.attempts,
            local_zone=local_zone,
        )

    if lead.state == LeadState.CLOSED:
        return decision(False, f"closed: {lead.close_reason}", None)
    if lead.state == LeadState.DIALING:
        return decision(False, "being dialed now (attempt in flight)", None)
    if lead.on_dnc:
        return decision(False, "on the do-not-call list: will be closed as dnc", None)
    if lead.attempts >= lead.cap(campaign):
        return decision(
            False, f"attempt cap {lead.cap(campaign)} reached: will be closed as exhausted", None
        )
    hold = policy.phone_hold(lead, now)
    if hold is not None and hold.until >= lead.due_at:
        return decision(False, policy.describe_hold(hold), hold.until)
    if lead.due_at > now:
        return decision(False, _not_due(lead, policy))
    verdict = judge(lead, now, policy)
    if isinstance(verdict, Defer):
        return decision(False, verdict.why, verdict.until)
    return decision(True, _why_here(lead, tier, policy))


def _not_due(lead: LeadView, policy: Policy) -> str:
    """Why a lead is not due yet: its callback, its first call's time, or its retry."""
    if lead.callback_at is not None:
        return f"callback agreed for {policy.local_time(lead.due_at)}"
    if lead.attempts == 0:
        return f"not callable before {policy.local_time(lead.due_at)}"
    return f"retry due at {policy.local_time(lead.due_at)} (last: {lead.last_outcome})"


def _local_zone(lead: LeadView, campaign: CampaignRules, policy: Policy) -> str | None:
    """With local hours on, the zone they are read in and why; None for a closed lead."""
    if not campaign.local_hours.enabled or lead.state == LeadState.CLOSED:
        return None
    return policy.lead_zone(lead).describe()


def _why_here(lead: LeadView, tier: str, policy: Policy) -> str:
    if lead.attempts == 0 and lead.callback_at is None:
        deadline = (
            f", speed-to-lead deadline {policy.local_time(lead.deadline_at)}"
            if lead.deadline_at
            else ""
        )
        return f"{tier}: never dialed, arrived {policy.local_time(lead.received_at)}{deadline}"
    if lead.callback_at is not None:
        return f"{tier}: callback agreed for {policy.local_time(lead.callback_at)} has come"
    return f"{tier}: {lead.attempts} attempt(s) so far (last: {lead.last_outcome}), due since {policy.local_time(lead.due_at)}"
