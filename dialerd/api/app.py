"""The FastAPI application: routes, the one error shape, the body limit, the OpenAPI document.

``/healthz``, ``/docs`` and ``/openapi.json`` are open (they describe the API and hold
no data); every ``/api/v1`` route needs a bearer token.
"""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi

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
        docs_url="/docs",
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
