"""Every console route but sign-in checks who is asking: a new route that forgets its role
dependency fails here, before any browser finds it."""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute

from dialerd.web.app import create_console_app
from dialerd.web.auth import person

PUBLIC = {"/", "/signin", "/signout"}  # "/" and /signout look the session up themselves


def calls_of(dependant: Any) -> list[Any]:
    found = []
    for dep in dependant.dependencies:
        found.append(dep.call)
        found.extend(calls_of(dep))
    return found


def _flat(routes: list[Any]) -> list[Any]:
    """The app's routes, with included routers opened (FastAPI keeps them wrapped)."""
    found = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        found.extend(_flat(inner.routes) if inner is not None else [route])
    return found


def test_every_route_but_sign_in_requires_a_signed_in_role():
    app = create_console_app(None)  # type: ignore[arg-type]  # routes only; no request is made
    routes = [r for r in _flat(app.routes) if isinstance(r, APIRoute)]
    assert len(routes) > 10
    unguarded = []
    for route in routes:
        if route.path in PUBLIC:
            continue
        calls = calls_of(route.dependant)
        guarded = any(
            call is person or getattr(call, "__qualname__", "").startswith("require.")
            for call in calls
        )
        if not guarded:
            unguarded.append(f"{sorted(route.methods)} {route.path}")
    assert unguarded == []
