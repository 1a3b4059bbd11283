"""The OpenAPI schema documents every status an operation can answer, including the ones
FastAPI does not list by itself: 400 for a body that cannot be parsed, 401 for an
operator-only call without a login, 403 for a state change without the CSRF header."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi

from cloud.api.deps import SAFE_METHODS, current_operator, require_csrf
from cloud.api.routes import api_routes
from cloud.api.security import CSRF_HEADER

BAD_BODY = {"description": "the body could not be parsed (not JSON, or not UTF-8)"}
NOT_LOGGED_IN = {"description": "not logged in as an operator"}
NO_CSRF = {"description": f"the '{CSRF_HEADER}: 1' header is missing"}


def _calls(dependant: Dependant) -> set[Callable[..., Any]]:
    calls = set()
    for sub in dependant.dependencies:
        if sub.call is not None:
            calls.add(sub.call)
        calls |= _calls(sub)
    return calls


def _add(operation: dict[str, Any], status: int, response: dict[str, str]) -> None:
    operation.setdefault("responses", {}).setdefault(str(status), dict(response))


def document_errors(app: FastAPI) -> None:
    """Make ``app.openapi()`` list the statuses every route's dependencies can answer."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
        for route in api_routes(app.routes):
            if not route.include_in_schema:
                continue
            calls = _calls(route.dependant)
            for method in route.methods or ():
                operation = schema["paths"][route.path_format][method.lower()]
                if route.body_field is not None:
                    _add(operation, 400, BAD_BODY)
                if current_operator in calls:
                    _add(operation, 401, NOT_LOGGED_IN)
                csrf = current_operator in calls or require_csrf in calls
                if csrf and method not in SAFE_METHODS:
                    _add(operation, 403, NO_CSRF)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
