"""Jinja2 pages: one autoescaping environment, the person's language, the security headers.

Everything from the store is escaped by Jinja (``autoescape``); the only markup passed
through ``| safe`` is a card this module rendered itself. The headers match the HTML
report's: a Content-Security-Policy with no inline script and no remote origin, so a
lead's comment can never run as code in an operator's browser. The one exception is the
operator's page with a browser phone: its ``connect-src`` also allows exactly the origin
of ``console.phone.ws_url`` (Asterisk's WebSocket), and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from dialerd.web.i18n import Translator, pick_language

ENV = Environment(
    loader=PackageLoader("dialerd.web", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def csp(connect: Sequence[str] = ()) -> str:
    """The Content-Security-Policy; ``connect``: origins the page's script may also reach."""
    sources = " ".join(("'self'", *connect))
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src {sources}; media-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )


CSP = csp()
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def translator(request: Request, configured: str | None, default: str) -> Translator:
    return Translator(pick_language(configured, request.headers.get("accept-language"), default))


def fragment(template: str, t: Translator, **context: Any) -> str:
    return ENV.get_template(template).render(t=t, **context)


def page(
    template: str,
    t: Translator,
    status: int = 200,
    *,
    connect: Sequence[str] = (),
    **context: Any,
) -> HTMLResponse:
    html = ENV.get_template(template).render(t=t, csrf=context.pop("csrf", None), **context)
    headers = HEADERS | {"Content-Security-Policy": csp(connect)} if connect else HEADERS
    return HTMLResponse(html, status_code=status, headers=headers)
