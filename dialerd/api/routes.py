"""Routes declared in the endpoint modules, registered straight on the app, and the parts
of their OpenAPI declarations that several routes share.

``include_router`` would put each request through FastAPI's included-router layers
(resolved per request); registering the routes on the app itself keeps intake's
per-request overhead down (bench/intake.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI

from dialerd.api.models import ErrorOut

PREFIX = "/api/v1"
Endpoint = Callable[..., Any]

MALFORMED: dict[str, Any] = {"model": ErrorOut, "description": "malformed JSON"}
UNAUTHORIZED: dict[str, Any] = {"model": ErrorOut, "description": "no or wrong bearer token"}
WRONG_FIELD: dict[str, Any] = {
    "model": ErrorOut,
    "description": "a field is invalid (the error names it)",
}


def body_schema(name: str, *, parameters: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """Declare the JSON body in /openapi.json; the handler parses it itself (strict JSON).

    The model's schema is added to the components by ``app.openapi``.
    """
    return {
        **({"parameters": list(parameters)} if parameters else {}),
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
        },
    }


class Routes:
    def __init__(self) -> None:
        self._routes: list[tuple[str, str, dict[str, Any], Endpoint]] = []

    def _add(
        self, method: str, path: str, options: dict[str, Any]
    ) -> Callable[[Endpoint], Endpoint]:
        def register(endpoint: Endpoint) -> Endpoint:
            self._routes.append((method, PREFIX + path, options, endpoint))
            return endpoint

        return register

    def get(self, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        return self._add("GET", path, options)

    def post(self, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        return self._add("POST", path, options)

    def register(self, app: FastAPI) -> None:
        for method, path, options, endpoint in self._routes:
            app.add_api_route(path, endpoint, methods=[method], **options)
