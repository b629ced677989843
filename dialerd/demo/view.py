"""What `dialerd demo` shows: a live terminal view and the day's report.

The live numbers come from the store (the same SQLite file the engine writes) and
from the engine's own events; the report is ``dialerd.reports`` (as `dialerd report`) read back from
the store, so what the demo prints is what was recorded.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table

from dialerd.dialer.events import AttemptStarted, CallAnswered, EngineEvent
from dialerd.domain import FinishedCall
from dialerd.policy.priority import Scheme, describe_rank
from dialerd.policy.window import CallingWindow
from dialerd.reports.model import Metrics
from dialerd.store import live
from dialerd.store.sql import Store


@dataclass
class OperatorView:
    name: str
    state: str = "free"
    lead_id: int | None = None
    calls: int = 0
    talk_s: float = 0.0


@dataclass
class DemoState:
    operators: list[OperatorView]
    speed: float
    policy_window: CallingWindow
    mode: str = "customer_first"
    intake: Counter[str] = field(default_factory=Counter)  # new, callback, duplicate, invalid
    outcomes: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0
    waiting_by_tier: dict[str, int] = field(default_factory=dict)
    due_now: int = 0
    first_dials: int = 0  # new leads dialed so far
    within_target: int = 0  # of which by their speed-to-lead deadline
    recent: list[str] = field(default_factory=list)

    def count(self, kind: str) -> None:
        self.intake[kind] += 1

    def on_event(self, event: EngineEvent) -> None:
        if isinstance(event, AttemptStarted):
            self._log(
                f"→ lead {event.claim.lead_id} {event.claim.phone} attempt {event.claim.attempt_number}"
            )
        elif isinstance(event, CallAnswered):
            self._log(f"☎ lead {event.lead_id} answered")
        elif isinstance(event, FinishedCall):
            self.outcomes[event.outcome.value] += 1
            self._log(f"← lead {event.lead_id} {event.outcome.value}")

    def _log(self, line: str) -> None:
        self.recent = [*self.recent[-7:], line]

    def sync_operators(self, members: list[Any], board: list[dict[str, Any]]) -> None:
        """Each operator's state and call as the daemon's operator board has them; their
        conversations and talk time as the simulated operators counted them."""
        by_name = {op["name"]: op for op in board}
        for view, member in zip(self.operators, members, strict=True):
            seen = by_name.get(view.name, {})
            call = seen.get("current_call") or {}
            view.state, view.lead_id = str(seen.get("state", "unknown")), call.get("lead_id")
            view.calls, view.talk_s = member.calls, member.talk_s

    def live_counts(self) -> dict[str, int]:
        """The day so far in the report's terms: leads received = stored + duplicates."""
        stored = self.intake["new"] + self.intake["callback"]
        received = stored + self.intake["duplicate"]
        return {
            "sent": received + self.intake["invalid"],
            "received": received,
            "stored": stored,
            "duplicates": self.intake["duplicate"],
            "invalid": self.intake["invalid"],
            "attempts": sum(self.outcomes.values()),
            "answered": self.outcomes["answered"],
            "abandoned": self.outcomes["abandoned"],
        }

    async def refresh_store(self, db: Store, now: float) -> None:
        counts = await live.demo_counts(db, now)
        self.waiting_by_tier = {
            describe_rank(Scheme.TIERS, rank): count
            for rank, count in counts.waiting_by_rank.items()
        }
        self.due_now = counts.due_now
        self.first_dials, self.within_target = counts.first_dials, counts.within_target


def render(state: DemoState, now: float) -> Group:
    local = datetime.fromtimestamp(now, state.policy_window.tz)
    is_open = state.policy_window.is_open(datetime.fromtimestamp(now, UTC))
    window = "[green]window open[/]" if is_open else "[yellow]night pause[/]"
    header = (
        f"[bold]{local:%a %H:%M}[/] (x{state.speed:,.0f})  {window}  mode {state.mode}"
        f"  calls in flight: {state.in_flight}"
    )

    operators = Table("operator", "state", "lead", "calls", "talk", title="Operators", expand=True)
    for op in state.operators:
        colour = {"free": "green", "busy": "red", "wrap-up": "yellow"}.get(op.state, "white")
        operators.add_row(
            op.name,
            f"[{colour}]{op.state}[/]",
            str(op.lead_id or ""),
            str(op.calls),
            f"{op.talk_s / 60:.0f} min",
        )
    waiting = Table(
        "tier", "waiting", title=f"Leads waiting ({state.due_now} due now)", expand=True
    )
    for tier, count in sorted(state.waiting_by_tier.items()):
        waiting.add_row(tier, str(count))
    counters = Table("", "", title="Today", expand=True, show_header=False)
    counts = state.live_counts()
    counters.add_row("leads sent", str(counts["sent"]))
    counters.add_row("  received", f"{counts['received']} ({counts['stored']} stored)")
    counters.add_row("  duplicates", str(counts["duplicates"]))
    counters.add_row("  invalid", str(counts["invalid"]))
    share = f"{state.within_target / state.first_dials:.0%}" if state.first_dials else "—"
    counters.add_row("speed to lead met", f"{state.within_target}/{state.first_dials} ({share})")
    for outcome, count in state.outcomes.most_common():
        counters.add_row(f"attempts {outcome}", str(count))
    grid = Table.grid(expand=True)
    grid.add_row(operators, waiting, counters)
    return Group(Panel(header), grid, Panel("\n".join(state.recent) or "…", title="Latest"))


def progress_line(state: DemoState, now: float) -> str:
    """One plain line for a pipe or a log (no live view): the simulated time and the day so far."""
    local = datetime.fromtimestamp(now, state.policy_window.tz)
    is_open = state.policy_window.is_open(datetime.fromtimestamp(now, UTC))
    return f"{local:%a %H:%M} {'open ' if is_open else 'night'}  {counts_line(state)}"


def counts_line(state: DemoState) -> str:
    """The live counts in the report's terms (the day's report must say the same)."""
    c = state.live_counts()
    return (
        f"leads sent {c['sent']}: received {c['received']} ({c['stored']} stored"
        f" + {c['duplicates']} duplicates), invalid {c['invalid']}"
        f"  attempts {c['attempts']}, answered {c['answered']}, abandoned {c['abandoned']}"
        f"  in flight {state.in_flight}"
    )


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _minutes(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds / 60:.1f} min"


def render_report(metrics: Metrics, state: DemoState, target_min: float) -> Table:
    """The day's report, every number read back from the store (``dialerd.reports``)."""
    table = Table("metric", "value", title="The day's report (from the store, as `dialerd report`)")
    rows = [
        (
            "leads received",
            f"{metrics.leads_received} ({state.intake['new'] + state.intake['callback']} stored"
            f" + {state.intake['duplicate']} duplicates)",
        ),
        ("duplicates rejected", f"{metrics.duplicates} ({_pct(metrics.duplicate_rate)})"),
        ("invalid leads rejected", f"{state.intake['invalid']} (not received: never stored)"),
        ("leads processed", str(metrics.leads_processed)),
        (
            "leads contacted",
            f"{metrics.leads_contacted} (contact rate {_pct(metrics.contact_rate)})",
        ),
        ("attempts", f"{metrics.attempts} (answer rate {_pct(metrics.answer_rate)})"),
        *((f"  {outcome}", str(count)) for outcome, count in sorted(metrics.outcomes.items())),
        (
            "abandon rate",
            f"{_pct(metrics.abandon_rate)} ({metrics.abandoned_attempts} of the answered got"
            " no operator in time)",
        ),
        ("confirmed orders", f"{metrics.leads_confirmed} ({_pct(metrics.confirmation_rate)})"),
        ("revenue", f"{metrics.revenue:,.2f}"),
        ("speed to lead, median", _minutes(metrics.speed_to_lead_median_s)),
        ("speed to lead, p90", _minutes(metrics.speed_to_lead_p90_s)),
        (f"within {target_min:g} min", _pct(metrics.speed_to_lead_within_target)),
        ("average handling time", _minutes(metrics.aht_s)),
        ("staffed hours", "—" if metrics.staffed_hours is None else f"{metrics.staffed_hours:.1f}"),
        ("occupancy", _pct(metrics.occupancy)),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table
