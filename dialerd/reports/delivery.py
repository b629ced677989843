"""A scheduled report on its way: the e-mail and the webhook request (composed purely from
the report and a renderer), and their sending, each channel retried within the run.

E-mail (R10, issue 6: "HTML report inline or attached, CSV attached"):
- html: a plain-text summary with the HTML report as its alternative, the HTML attached
  too (mail apps that block HTML bodies still open the file) and the CSV attached;
- csv: the summary, the CSV attached;
- json: the summary, the JSON attached.
Webhook: ``{"schedule", "period", "report"}`` as JSON, or the CSV itself (``text/csv``) for
format csv. Both go through ``dialerd.policy.delivery``'s rule: a refusal (4xx, SMTP 5xx)
is not retried, a timeout or 5xx is, with backoff, up to the run's tries.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage

import httpx

from dialerd.config.reports import ScheduleSettings
from dialerd.delivery.http import post
from dialerd.delivery.signing import IDEMPOTENCY_HEADER
from dialerd.policy.delivery import Answer, RetryRules, backoff_s, classify
from dialerd.reports.model import Period, Report

Renderer = Callable[[Report, str], str]
Try = Callable[[], Awaitable[tuple[int | None, str | None]]]

WEBHOOK_TIMEOUT_S = 30.0


def period_label(period: Period) -> str:
    if period.first_day == period.last_day:
        return period.first_day
    return f"{period.first_day} – {period.last_day}"


def subject(schedule: ScheduleSettings, period: Period) -> str:
    """'dialerd report 2026-11-22 (yesterday)'."""
    return f"dialerd report {period_label(period)} ({schedule.period})"


def file_name(period: Period, extension: str) -> str:
    return f"report-{period.first_day}-{period.last_day}.{extension}"


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _number(value: float | int | None, unit: str = "") -> str:
    if value is None:
        return "–"
    return f"{value:g}{unit}" if isinstance(value, float) else f"{value}{unit}"


def summary(report: Report, schedule: ScheduleSettings) -> str:
    """The plain-text part: the headline numbers, enough to read on a phone."""
    t = report.totals
    lines = [
        f"dialerd report for {period_label(report.period)} ({report.period.timezone}),"
        f" schedule {schedule.name}.",
        "",
        f"Leads received:       {_number(t.leads_received)}",
        f"Leads contacted:      {_number(t.leads_contacted)} ({_share(t.contact_rate)})",
        f"Orders confirmed:     {t.leads_confirmed} ({_share(t.confirmation_rate)})",
        f"Revenue:              {report.money(t.revenue)}",
        f"Speed to lead median: {_number(t.speed_to_lead_median_s, ' s')}",
        f"Within target:        {_share(t.speed_to_lead_within_target)}",
        f"Cost per contact:     {report.money(t.cost_per_contact)}",
        "",
    ]
    return "\n".join(lines)


def email_message(
    schedule: ScheduleSettings, report: Report, render: Renderer, sender: str
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(schedule.email)
    message["Subject"] = subject(schedule, report.period)
    message["X-Dialerd-Schedule"] = schedule.name
    period = report.period
    message.set_content(summary(report, schedule))
    if schedule.format == "html":
        html = render(report, "html")
        message.add_alternative(html, subtype="html")
        message.add_attachment(html, subtype="html", filename=file_name(period, "html"))
        csv = render(report, "csv")
        message.add_attachment(csv, subtype="csv", filename=file_name(period, "csv"))
    elif schedule.format == "csv":
        csv = render(report, "csv")
        message.add_attachment(csv, subtype="csv", filename=file_name(period, "csv"))
    else:
        body = render(report, "json").encode()
        message.add_attachment(
            body, maintype="application", subtype="json", filename=file_name(period, "json")
        )
    return message


@dataclass(frozen=True)
class WebhookRequest:
    body: bytes
    content_type: str
    key: str  # Idempotency-Key: the same for every try of one run


def webhook_request(
    schedule: ScheduleSettings, report: Report, render: Renderer, fire_time: float
) -> WebhookRequest:
    key = f"dialerd-report-{schedule.name}-{round(fire_time)}"
    if schedule.format == "csv":
        return WebhookRequest(render(report, "csv").encode(), "text/csv; charset=utf-8", key)
    period = report.period
    payload = {
        "schedule": schedule.name,
        "period": {
            "name": schedule.period,
            "first_day": period.first_day,
            "last_day": period.last_day,
            "timezone": period.timezone,
        },
        "report": report.as_dict(),
    }
    return WebhookRequest(json.dumps(payload, ensure_ascii=False).encode(), "application/json", key)


async def post_webhook(
    client: httpx.AsyncClient, url: str, request: WebhookRequest
) -> tuple[int | None, str | None]:
    headers = {"Content-Type": request.content_type, IDEMPOTENCY_HEADER: request.key}
    return await post(client, url, request.body, headers)


@dataclass(frozen=True)
class Delivered:
    ok: bool
    tries: int
    error: str | None  # the last try's, when not ok


async def with_retries(
    attempt: Try,
    rules: RetryRules,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    jitter: Callable[[], float] = random.random,
) -> Delivered:
    """Try until delivered, refused, or ``rules.max_tries`` tries; back off in between."""
    tries = 0
    while True:
        status, error = await attempt()
        tries += 1
        answer = classify(status)
        if answer is Answer.DELIVERED:
            return Delivered(True, tries, None)
        if answer is Answer.REFUSED or tries >= rules.max_tries:
            return Delivered(False, tries, error or f"HTTP {status}")
        await sleep(backoff_s(tries, rules, jitter()))
