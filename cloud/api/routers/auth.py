"""Operator login and logout (a server-side login behind an HttpOnly, SameSite=Lax cookie)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from cloud.api.deps import ClientIp, Ctx, DbSession, Operator, require_csrf
from cloud.api.schemas import Login, OperatorView
from cloud.api.security import COOKIE, authenticate

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post(
    "/login",
    dependencies=[Depends(require_csrf)],
    responses={
        401: {"description": "wrong name or password"},
        429: {"description": "too many failed logins for this name or from this address"},
        503: {"description": "too many logins at once; retry"},
    },
)
def login(body: Login, db: DbSession, ctx: Ctx, ip: ClientIp, response: Response) -> OperatorView:
    with ctx.login_guard.attempt(body.name, ip):
        who = authenticate(db, body.name, body.password)
    response.set_cookie(
        COOKIE,
        ctx.logins.open(db, who),
        max_age=ctx.logins.max_age_s,
        httponly=True,
        samesite="lax",
        secure=ctx.secure_cookies,
        path="/",
    )
    return OperatorView(name=who.name)


@router.post("/logout", dependencies=[Depends(require_csrf)])
def logout(request: Request, db: DbSession, ctx: Ctx, response: Response) -> OperatorView:
    """End this login everywhere (a copy of the cookie stops working too)."""
    ctx.logins.end(db, request.cookies.get(COOKIE))
    response.delete_cookie(COOKIE, path="/")
    return OperatorView(name="")


@router.get("/me", responses={401: {"description": "not logged in"}})
def me(who: Operator) -> OperatorView:
    return OperatorView(name=who.name)
