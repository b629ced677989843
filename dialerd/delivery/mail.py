"""Sending one e-mail through the configured SMTP server (aiosmtplib), answered in the terms
of ``dialerd.policy.delivery``: alerts and scheduled reports share one server and one mapping.

SMTP replies map onto the HTTP-like status the retry rule reads: sent → 200; a 4xx reply
is transient (→ 503, retried); a 5xx reply or refused recipients are permanent (→ 400,
not retried); no answer at all (a timeout, a refused connection) → None, retried.
"""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from dialerd.config import AlertEmailSettings


async def send_mail(
    settings: AlertEmailSettings, password: str | None, message: EmailMessage
) -> tuple[int | None, str | None]:
    """One SMTP try to the message's own recipients: (status, error)."""
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
