"""The booth UI pages: kiosk, operator dashboard, login (HTML; data comes from the API)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cloud.api.deps import Ctx
from cloud.api.security import COOKIE
from cloud.privacy import privacy_terms

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def kiosk(request: Request, ctx: Ctx) -> Response:
    """The visitor's registration page; the consent text states this deployment's terms
    (the same values as the privacy page)."""
    return ctx.templates.TemplateResponse(
        request, "kiosk.html", {"booth": ctx.settings.booth, "t": privacy_terms(ctx.settings)}
    )


@router.get("/privacy", response_class=HTMLResponse)
def privacy(request: Request, ctx: Ctx) -> Response:
    """What is stored of a visitor, where, how long, who sees it, how to delete it, the
    marking: generated from the settings."""
    return ctx.templates.TemplateResponse(
        request, "privacy.html", {"booth": ctx.settings.booth, "t": privacy_terms(ctx.settings)}
    )


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, ctx: Ctx) -> Response:
    return ctx.templates.TemplateResponse(request, "login.html", {"booth": ctx.settings.booth})


@router.get("/operator/dances", response_class=HTMLResponse)
def dances_page(request: Request, ctx: Ctx) -> Response:
    who = ctx.logins.check(request.cookies.get(COOKIE))
    if who is None:
        return RedirectResponse("/login", status_code=303)
    return ctx.templates.TemplateResponse(
        request,
        "dances.html",
        {
            "booth": ctx.settings.booth,
            "operator": who.name,
            "max_upload_mb": ctx.settings.dances.max_upload_mb,
        },
    )


@router.get("/stage", response_class=HTMLResponse)
def stage_page(request: Request, ctx: Ctx) -> Response:
    """The booth's stage screen (full screen, facing the visitor): it plays the visitor's
    dance, mirrored, counted in to the nodes' shared start, then shows capture QA's verdict.
    An operator signs it in once."""
    if ctx.logins.check(request.cookies.get(COOKIE)) is None:
        return RedirectResponse("/login?next=/stage", status_code=303)
    return ctx.templates.TemplateResponse(request, "stage.html", {"booth": ctx.settings.booth})


@router.get("/operator", response_class=HTMLResponse)
def dashboard(request: Request, ctx: Ctx) -> Response:
    who = ctx.logins.check(request.cookies.get(COOKIE))
    if who is None:
        return RedirectResponse("/login", status_code=303)
    api = ctx.settings.api
    return ctx.templates.TemplateResponse(
        request,
        "operator.html",
        {
            "booth": ctx.settings.booth,
            "operator": who.name,
            "countdown_s": api.countdown_s,
        },
    )
