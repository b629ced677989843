"""The browser phone's credentials for the signed-in operator's own page (issue 14).

The SIP password never sits in the page's HTML (a saved page, a screenshot of the
source, a proxy's cache would keep it): the page's script asks ``GET /operator/phone``
once it runs, with the session cookie, and gets JSON marked ``no-store``. Only the
operator role gets an answer, and only for their own endpoint: there is no parameter
to ask for anyone else's. Nothing here logs a password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from dialerd.config import ConfigError, Settings
from dialerd.config.console import BrowserPhoneSettings
from dialerd.config.secrets import read_file
from dialerd.web.auth import Person, require
from dialerd.web.context import console
from dialerd.web.render import HEADERS, translator

log = structlog.get_logger("dialerd.console")
router = APIRouter()
Operator = Annotated[Person, Depends(require("operator"))]


def phone_view(settings: Settings, user: str) -> dict[str, Any] | None:
    """What the operator's page needs to show the phone (no secret), or None without one."""
    section = settings.console.phone
    if section is None:
        return None
    for operator in settings.operators:
        if operator.name == user and operator.sip_user is not None and operator.phone:
            return {
                "sip_user": operator.sip_user,
                "auto_answer": operator.phone.auto_answer,
                "origin": section.origin,
            }
    return None


@router.get("/operator/phone", include_in_schema=False)
async def credentials(request: Request, who: Operator) -> JSONResponse:
    ctx = console(request)
    settings = ctx.settings()
    t = translator(request, who.language, settings.console.language)
    view = phone_view(settings, who.user)
    password = ctx.sip_passwords().get(view["sip_user"]) if view is not None else None
    section = settings.console.phone
    if view is None or password is None or section is None:
        return JSONResponse(
            {"error": {"code": "no_phone", "message": t("error.no_phone")}},
            status_code=404,
            headers=HEADERS,
        )
    log.info("console_phone_credentials", user=who.user, sip_user=view["sip_user"])
    user = view["sip_user"]
    return JSONResponse(
        {
            "ws_url": section.ws_url,
            "uri": f"sip:{user}@{section.domain}",
            "sip_user": user,
            "password": password,
            "display_name": who.user,
            "auto_answer": view["auto_answer"],
            "ice_servers": ice_servers(section, who.user, ctx.clock()),
        },
        headers=HEADERS,
    )


def ice_servers(section: BrowserPhoneSettings, user: str, now: float) -> list[dict[str, str]]:
    """The page's RTCPeerConnection iceServers. TURN URLs get time-limited credentials in
    the TURN REST scheme that coturn's ``use-auth-secret`` checks: the username is
    ``<expiry>:<operator>``, the credential base64(HMAC-SHA1(secret, username)); the page
    never sees the secret, and a copied credential stops working after ``turn_ttl_h``."""
    secret = None
    if section.turn_secret_file is not None:
        try:
            secret = read_file("console.phone.turn_secret_file", section.turn_secret_file).strip()
        except ConfigError as exc:
            log.error("console_turn_secret_unreadable", problems=exc.problems)
    servers: list[dict[str, str]] = []
    for url in section.ice_servers:
        server = {"urls": url}
        if url.startswith(("turn:", "turns:")) and secret:
            username = f"{int(now + section.turn_ttl_h * 3600)}:{user}"
            digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
            server |= {"username": username, "credential": base64.b64encode(digest).decode()}
        servers.append(server)
    return servers
