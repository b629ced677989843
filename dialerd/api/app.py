"""The FastAPI application: routes, the one error shape, the body limit, the OpenAPI document.

``/healthz``, ``/docs`` and ``/openapi.json`` are open (they describe the API and hold
no data); every ``/api/v1`` route needs a bearer token.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi

import dialerd
from dialerd.api import calls, errors, leads
from dialerd.api.context import ApiContext, context
from dialerd.api.guard import Guard
from dialerd.api.models import BatchIn, DispositionIn, Health, LeadIn

_BODIES = (LeadIn, BatchIn, DispositionIn)


def create_app(ctx: ApiContext) -> FastAPI:
    app = FastAPI(
        title="dialerd",
        version=dialerd.__version__,
        summary="Leads in, operators' results and recordings out.",
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.ctx = ctx
    errors.install(app)
    app.include_router(leads.router)
    app.include_router(calls.router)

    @app.get("/healthz", response_model=Health, summary="Liveness; no token needed")
    async def healthz(request: Request) -> Health:
        return Health(status="ok", ami_connected=context(request).ami_connected())

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in _BODIES:
                found = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(found.pop("$defs", {}))
                components[model.__name__] = found
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_middleware(Guard, max_body_bytes=ctx.settings().api.max_body_bytes)
    return app
