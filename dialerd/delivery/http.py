"""POSTing to someone else's HTTP endpoint (a webhook): the client and one try's answer.

A webhook is never redirected (a 3xx is an answer, refused by the retry rule) and takes
no proxy from the environment: the URL in the config is where the bytes go.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx


def webhook_client(timeout_s: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=timeout_s, follow_redirects=False, trust_env=False)


async def post(
    client: httpx.AsyncClient, url: str, body: bytes, headers: Mapping[str, str]
) -> tuple[int | None, str | None]:
    """One try: (status, error), the status None when no HTTP answer came at all."""
    try:
        response = await client.post(url, content=body, headers=headers)
    except httpx.TimeoutException:
        return None, "timeout"
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"
    return response.status_code, None if response.is_success else f"HTTP {response.status_code}"
