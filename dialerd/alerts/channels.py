"""Where alerts go: a webhook (JSON POST) and e-mail (SMTP through aiosmtplib).

Each channel answers in the terms of ``dialerd.policy.delivery``: an HTTP-like status
(2xx sent; 4xx refused for good; 5xx/None worth a retry), so alerts and CRM results
share one retry rule. SMTP replies map onto it: 2xx/3xx sent, 4xx transient (→ 503),
5xx permanent (→ 400); no answer at all → None.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib
import httpx

from dialerd.config import AlertEmailSettings, AlertWebhookSettings
from dialerd.delivery.signing import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from dialerd.formats import utc_iso
from dialerd.store.alerts import Outgoing


class Channel(Protocol):
    name: str

    async def send(self, alert: Outgoing) -> tuple[int | None, str | None]:
        """(status, error): the answer to one try."""
        ...

    async def aclose(self) -> None: ...


class WebhookChannel:
    name = "webhook"

    def __init__(self, settings: AlertWebhookSettings, secret: str | None) -> None:
        assert settings.url is not None
        self._url = settings.url
        self._secret = secret
        self._client = httpx.AsyncClient(
            timeout=settings.timeout_s, follow_redirects=False, trust_env=False
        )

    async def send(self, alert: Outgoing) -> tuple[int | None, str | None]:
        body = json.dumps(
            {
                "type": "alert",
                "id": alert.id,
                "kind": alert.kind,
                "subject": alert.subject,
                "text": alert.body["text"],
                "details": alert.body["details"],
                "raised_at": utc_iso(alert.created_at),
            },
            ensure_ascii=False,
        ).encode()
        headers = {
            "Content-Type": "application/json",
            IDEMPOTENCY_HEADER: f"dialerd-alert-{alert.id}-{round(alert.created_at * 1000)}",
            TIMESTAMP_HEADER: str(int(datetime.now(UTC).timestamp())),
        }
        if self._secret:
            headers[SIGNATURE_HEADER] = sign(self._secret, body)
        try:
            response = await self._client.post(self._url, content=body, headers=headers)
        except httpx.TimeoutException:
            return None, "timeout"
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"
        error = None if response.is_success else f"HTTP {response.status_code}"
        return response.status_code, error

    async def aclose(self) -> None:
        await self._client.aclose()


class EmailChannel:
    name = "email"

    def __init__(self, settings: AlertEmailSettings, password: str | None) -> None:
        assert settings.host is not None
        self._settings = settings
        self._password = password

    async def send(self, alert: Outgoing) -> tuple[int | None, str | None]:
        s = self._settings
        message = EmailMessage()
        message["From"] = s.sender
        message["To"] = ", ".join(s.to)
        message["Subject"] = f"[dialerd] {alert.subject}"
        details = json.dumps(alert.body["details"], indent=2, ensure_ascii=False)
        raised_at = utc_iso(alert.created_at)
        message.set_content(
            f"{alert.body['text']}\n\nRaised at {raised_at} ({alert.kind}).\n\n{details}\n"
        )
        return await send_mail(s, self._password, message)

    async def aclose(self) -> None:
        pass


async def send_mail(
    settings: AlertEmailSettings, password: str | None, message: EmailMessage
) -> tuple[int | None, str | None]:
    """One SMTP try to the message's own recipients, answered as an HTTP-like status.

    Shared by alerts and scheduled reports: one SMTP server, one mapping of its replies.
    """
    assert settings.host is not None
    try:
        await aiosmtplib.send(
            message,
            hostname=settings.host,
            port=settings.port,
            username=settings.username,
            password=password if settings.username else None,
            start_tls=settings.starttls,
            timeout=settings.timeout_s,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        return 400, f"recipients refused: {exc}"
    except aiosmtplib.SMTPResponseException as exc:
        status = 400 if exc.code >= 500 else 503
        return status, f"SMTP {exc.code}: {exc.message}"
    except (aiosmtplib.SMTPException, OSError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    return 200, None
