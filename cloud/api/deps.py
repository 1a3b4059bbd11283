"""Dependencies of the routes, as ``Annotated`` aliases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy.orm import Session as Db

from cloud.api.context import ApiContext
from cloud.api.proxies import client_address
from cloud.api.security import COOKIE, CSRF_HEADER, OperatorIdentity

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_ctx(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


Ctx = Annotated[ApiContext, Depends(get_ctx)]


def get_db(ctx: Ctx) -> Iterator[Db]:
    """One transaction per request: committed if the route returns, rolled back if it raises."""
    with ctx.factory() as db, db.begin():
        yield db


# scope="function": committed before the response goes out. With FastAPI's default
# ("request", since 0.118) the commit ran after the client had its answer, so a login's
# next request (or a delete's refresh) could miss it: the rehearsal's node list got 401
# right after a 200 login.
DbSession = Annotated[Db, Depends(get_db, scope="function")]


def require_csrf(request: Request) -> None:
    if request.method not in SAFE_METHODS and request.headers.get(CSRF_HEADER) != "1":
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"send the header '{CSRF_HEADER}: 1' with this request"
        )


def current_operator(request: Request, ctx: Ctx) -> OperatorIdentity:
    """The logged-in operator (a login not ended by logout, a new password or removal)."""
    who = ctx.logins.check(request.cookies.get(COOKIE))
    if who is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "log in as an operator first",
            headers={"WWW-Authenticate": "Cookie"},
        )
    require_csrf(request)
    return who


Operator = Annotated[OperatorIdentity, Depends(current_operator)]


def client_ip(request: Request, ctx: Ctx) -> str:
    """The client's address; behind a trusted reverse proxy, the one it forwarded."""
    peer = request.client.host if request.client else None
    return client_address(
        peer, request.headers.get("x-forwarded-for"), ctx.settings.api.trusted_proxies
    )


ClientIp = Annotated[str, Depends(client_ip)]
