"""The console's FastAPI application: pages, the event stream, static files, one error page.

No route is reachable without a session except sign-in and the static files; a person
without a session is sent to the sign-in form (pages) or answered 401 (the page's script
calls); a wrong role gets 403. No exception text ever reaches a browser: it is logged,
and the person sees one sentence.
"""

from __future__ import annotations

import inspect
from importlib import resources
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from dialerd.web import desk, desk_actions, listen, operator, pages, phone, stream, supervisor
from dialerd.web.auth import Forbidden, NotSignedIn
from dialerd.web.context import ConsoleContext
from dialerd.web.render import HEADERS, page, translator

log = structlog.get_logger("dialerd.console")

_NO_TELEMETRY: dict[str, Any] = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters
    else {}
)


def create_console_app(ctx: ConsoleContext) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, **_NO_TELEMETRY)
    app.state.ctx = ctx
    app.include_router(pages.router)
    app.include_router(operator.router)
    app.include_router(phone.router)
    app.include_router(supervisor.router)
    app.include_router(desk.router)
    app.include_router(desk_actions.router)
    app.include_router(listen.router)
    app.include_router(stream.router)
    static = resources.files("dialerd.web").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    def wants_json(request: Request) -> bool:
        return request.method != "GET" or request.url.path in ("/events", "/operator/phone")

    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, _: NotSignedIn) -> Response:
        if wants_json(request):
            return JSONResponse(
                {"error": {"code": "signed_out", "message": "sign in again"}},
                status_code=401,
                headers=HEADERS,
            )
        return RedirectResponse("/signin", status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        log.warning("console_forbidden", path=request.url.path, why=exc.why)
        t = translator(request, None, ctx.settings().console.language)
        if wants_json(request):
            return JSONResponse(
                {"error": {"code": "forbidden", "message": t("error.forbidden")}},
                status_code=403,
                headers=HEADERS,
            )
        return page("message.html", t, 403, title=t("error.title"), text=t("error.forbidden"))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, _: RequestValidationError) -> Response:
        t = translator(request, None, ctx.settings().console.language)
        if wants_json(request):
            return JSONResponse(
                {"error": {"code": "bad_request", "message": t("error.bad_request")}},
                status_code=400,
                headers=HEADERS,
            )
        return page("message.html", t, 400, title=t("error.title"), text=t("error.bad_request"))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        t = translator(request, None, ctx.settings().console.language)
        key = "error.not_found" if exc.status_code == 404 else "error.bad_request"
        return page("message.html", t, exc.status_code, title=t("error.title"), text=t(key))

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> Response:
        log.exception("console_error", path=request.url.path)
        t = translator(request, None, ctx.settings().console.language)
        return page("message.html", t, 500, title=t("error.title"), text=t("error.server"))

    return app
