"""The booth UI pages: kiosk, operator dashboard, login (HTML; data comes from the API)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cloud.api.deps import Ctx
from cloud.api.security import COOKIE

router = APIRouter(include_in_schema=False)


def _days(value: float) -> str:
    return f"{value:g}"


@router.get("/", response_class=HTMLResponse)
def kiosk(request: Request, ctx: Ctx) -> Response:
    """The visitor's registration page; the consent text states this deployment's terms."""
    s = ctx.settings
    terms = {
        "capture_s": f"{s.api.capture_s:g}",
        "data_days": _days(max(s.retention.captures_days, s.retention.models_days)),
        "video_days": _days(s.delivery.link_ttl_days + s.retention.rendition_grace_days),
    }
    return ctx.templates.TemplateResponse(
        request, "kiosk.html", {"booth": ctx.settings.booth, **terms}
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
            "capture_s": api.capture_s,
        },
    )
