"""Operator login and logout (a signed, HttpOnly, SameSite=Lax cookie)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from cloud.api.deps import Ctx, DbSession, Operator, require_csrf
from cloud.api.schemas import Login, OperatorView
from cloud.api.security import COOKIE, authenticate

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post(
    "/login",
    dependencies=[Depends(require_csrf)],
    responses={401: {"description": "wrong name or password"}},
)
def login(body: Login, db: DbSession, ctx: Ctx, response: Response) -> OperatorView:
    who = authenticate(db, body.name, body.password)
    response.set_cookie(
        COOKIE,
        ctx.cookies.issue(who),
        max_age=ctx.cookies.max_age_s,
        httponly=True,
        samesite="lax",
        secure=ctx.secure_cookies,
        path="/",
    )
    return OperatorView(name=who.name)


@router.post("/logout", dependencies=[Depends(require_csrf)])
def logout(response: Response) -> OperatorView:
    response.delete_cookie(COOKIE, path="/")
    return OperatorView(name="")


@router.get("/me", responses={401: {"description": "not logged in"}})
def me(who: Operator) -> OperatorView:
    return OperatorView(name=who.name)
