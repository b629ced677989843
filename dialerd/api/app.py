"""The FastAPI application: routes, the one error shape, the body limit, the OpenAPI document.

``/healthz``, ``/docs`` and ``/openapi.json`` are open (they describe the API and hold
no data); every ``/api/v1`` route needs a bearer token.

``/docs`` is Swagger UI served from the package (``static/swagger/``, copied there from the
npm registry by ``./dev assets``), never from a CDN: a call centre's LAN may have no
internet, and the page must still work there.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

import dialerd
from dialerd.api import calls, errors, importing, intake, leads, reports
from dialerd.api.context import ApiContext, context
from dialerd.api.guard import METRICS_PATH, PROTECTED, Guard
from dialerd.api.metrics import CONTENT_TYPE, MetricsCache, metrics_endpoint
from dialerd.api.models import BatchIn, DispositionIn, Health, LeadIn

_BODIES = (LeadIn, BatchIn, DispositionIn)
# FastAPI >= 0.16x instruments every request for OpenTelemetry unless told not to
_NO_TELEMETRY: dict[str, Any] = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters
    else {}
)


SWAGGER_DIR = Path(__file__).parent / "static" / "swagger"
SWAGGER_URL = "/docs/static"


def swagger_page() -> HTMLResponse:
    """Swagger UI on the package's own copy of its files (none from another origin)."""
    if not (SWAGGER_DIR / "swagger-ui-bundle.js").is_file():
        return HTMLResponse(
            "<!DOCTYPE html><title>dialerd API</title><p>Swagger UI is not installed with this"
            " dialerd (its files come with <code>./dev assets</code>). The API is described in"
            ' <a href="/openapi.json">/openapi.json</a>.</p>',
            status_code=503,
        )
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="dialerd API",
        swagger_js_url=f"{SWAGGER_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER_URL}/swagger-ui.css",
        swagger_favicon_url=f"{SWAGGER_URL}/favicon-32x32.png",
    )


_BEARER = {
    "type": "http",
    "scheme": "bearer",
    "description": "a token from api.tokens (DIALERD_API__TOKENS__<NAME>), by its name in the log",
}


def create_app(ctx: ApiContext) -> FastAPI:
    app = FastAPI(
        title="dialerd",
        version=dialerd.__version__,
        summary="Leads in, operators' results and recordings out.",
        docs_url=None,  # our own /docs below: Swagger UI's files from the package
        redoc_url=None,
        openapi_url="/openapi.json",
        **_NO_TELEMETRY,
    )
    app.state.ctx = ctx
    app.state.metrics_cache = MetricsCache()
    errors.install(app)
    intake.router.register(app)
    importing.router.register(app)
    leads.router.register(app)
    calls.router.register(app)
    reports.router.register(app)
    app.add_api_route(
        "/metrics",
        metrics_endpoint,
        methods=["GET"],
        summary="Prometheus metrics (bearer token like /api/v1)",
        responses={200: {"content": {CONTENT_TYPE: {}}}},
    )

    app.mount(SWAGGER_URL, StaticFiles(directory=SWAGGER_DIR, check_dir=False), name="swagger")
    app.add_api_route("/docs", swagger_page, methods=["GET"], include_in_schema=False)

    @app.get("/healthz", response_model=Health, summary="Liveness; no token needed")
    async def healthz(request: Request) -> Health:
        return Health(status="ok", ami_connected=context(request).ami_connected())

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
            components = schema.setdefault("components", {})
            schemas = components.setdefault("schemas", {})
            for model in _BODIES:
                found = model.model_json_schema(ref_template="#/components/schemas/{model}")
                schemas.update(found.pop("$defs", {}))
                schemas[model.__name__] = found
            components["securitySchemes"] = {"bearer": _BEARER}
            for path, operations in schema["paths"].items():
                if path.startswith(PROTECTED) or path == METRICS_PATH:  # the Guard checks these
                    for operation in operations.values():
                        operation["security"] = [{"bearer": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_middleware(Guard, ctx=ctx)
    return app
