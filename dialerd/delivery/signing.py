"""The webhook signature: ``X-Dialerd-Signature: sha256=<hex HMAC-SHA256 of the raw body>``.

The receiver recomputes it over the exact bytes it received (before parsing the JSON)
with the shared secret and compares in constant time; README "CRM webhook" has an example.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Dialerd-Signature"
TIMESTAMP_HEADER = "X-Dialerd-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    return header is not None and hmac.compare_digest(sign(secret, body), header)
