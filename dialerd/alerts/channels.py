"""Where alerts go: a webhook (JSON POST) and e-mail (``dialerd.delivery.mail``).

Each channel answers in the terms of ``dialerd.policy.delivery``: an HTTP-like status
(2xx sent; 4xx refused for good; 5xx/None worth a retry), so alerts and CRM results
share one retry rule; the mail module maps SMTP replies onto it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Protocol

from dialerd.config import AlertEmailSettings, AlertWebhookSettings
from dialerd.delivery.http import post, webhook_client
from dialerd.delivery.mail import send_mail
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
        self._client = webhook_client(settings.timeout_s)

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
        return await post(self._client, self._url, body, headers)

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
