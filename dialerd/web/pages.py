"""Sign-in, sign-out and the start page (which sends each role to its own screen)."""

from __future__ import annotations

import hmac
import urllib.parse

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dialerd.store import console_sessions
from dialerd.web.auth import (
    COOKIE,
    SIGNIN_COOKIE,
    NotSignedIn,
    new_signin_token,
    person,
    sign_in,
)
from dialerd.web.context import console
from dialerd.web.render import HEADERS, page, translator

router = APIRouter()
MAX_FORM_BYTES = 8192
HOME = {"operator": "/operator", "supervisor": "/supervisor"}


@router.get("/", include_in_schema=False)
async def home(request: Request) -> Response:
    try:
        who = await person(request)
    except NotSignedIn:
        return RedirectResponse("/signin", status_code=303)
    return RedirectResponse(HOME[who.role], status_code=303)


@router.get("/signin", include_in_schema=False)
async def signin_form(request: Request) -> HTMLResponse:
    return _form(request, "", None, 200)


@router.post("/signin", include_in_schema=False)
async def signin(request: Request) -> Response:
    ctx = console(request)
    form = await read_form(request)
    name = form.get("name", "").strip()
    expected = request.cookies.get(SIGNIN_COOKIE, "")
    t = translator(request, None, ctx.settings().console.language)
    if not expected or not hmac.compare_digest(form.get("csrf", ""), expected):
        return _form(request, name, t("signin.expired"), 403)
    address = request.client.host if request.client else "?"
    result = await sign_in(ctx, name, form.get("password", ""), address)
    if result.token is None:
        if result.retry_after_s > 0:
            return _form(request, name, t("signin.limited", s=int(result.retry_after_s) + 1), 429)
        return _form(request, name, t("signin.failed"), 401)
    assert result.role is not None
    response = RedirectResponse(HOME[result.role], status_code=303)
    settings = ctx.settings().console
    response.set_cookie(
        COOKIE,
        result.token,
        max_age=int(settings.session_hours * 3600),
        httponly=True,
        samesite="strict",
        secure=settings.tls,
        path="/",
    )
    response.delete_cookie(SIGNIN_COOKIE, path="/signin")
    return response


@router.post("/signout", include_in_schema=False)
async def signout(request: Request) -> Response:
    ctx = console(request)
    form = await read_form(request)
    token = request.cookies.get(COOKIE)
    try:
        who = await person(request)
    except NotSignedIn:
        return RedirectResponse("/signin", status_code=303)
    if token and hmac.compare_digest(form.get("csrf", "").encode(), who.csrf.encode()):
        await console_sessions.end(ctx.db, token)
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


def _form(request: Request, name: str, error: str | None, status: int) -> HTMLResponse:
    ctx = console(request)
    t = translator(request, None, ctx.settings().console.language)
    token = new_signin_token()
    response = page("signin.html", t, status, name=name, error=error, signin_token=token)
    response.set_cookie(
        SIGNIN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=ctx.settings().console.tls,
        path="/signin",
    )
    return response


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form, at most MAX_FORM_BYTES; one value per name (the first)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return {}
    parsed = urllib.parse.parse_qs(body.decode("utf-8", "replace"), max_num_fields=20)
    return {key: values[0] for key, values in parsed.items() if values}


__all__ = ["HEADERS", "read_form", "router"]
