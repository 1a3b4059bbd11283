"""The FastAPI app factory: everything the routes need is built here, once, and passed down."""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine

from cloud.api.context import ApiContext
from cloud.api.events import Broadcaster
from cloud.api.handlers import install_error_handlers
from cloud.api.headers import SecurityHeaders, content_security_policy, media_origin
from cloud.api.link import BoothLink, LocalBoothLink
from cloud.api.openapi import document_errors
from cloud.api.ratelimit import LoginGuard, RateLimiter
from cloud.api.routers import (
    auth,
    booth,
    dances,
    erasure,
    events,
    jobs,
    mirror,
    pages,
    qa,
    renditions,
    stage,
    visitors,
)
from cloud.api.security import Logins
from cloud.dances.adder import DanceAdder
from cloud.db.engine import make_engine, session_factory
from cloud.delivery.mailer import build_mailer
from cloud.delivery.outbox import MailFlusher, retry_policy
from cloud.jobs.queue import JobQueue
from cloud.settings import CloudSettings
from cloud.storage import Storage, create_storage
from common.reference_add import AddOptions

logger = logging.getLogger(__name__)

UI = Path(__file__).resolve().parents[2] / "booth_ui"


def _secret(settings: CloudSettings) -> str:
    if settings.api.secret_key is not None:
        return settings.api.secret_key.get_secret_value()
    # Demo only (production refuses to start without one): logins end when the API restarts.
    logger.warning(
        "api.secret_key is not set: using a random key; operators log in again "
        "after a restart, and several API processes will not share logins"
    )
    return secrets.token_urlsafe(32)


def create_app(
    settings: CloudSettings,
    *,
    engine: Engine | None = None,
    link: BoothLink | None = None,
    storage: Storage | None = None,
    dance_options: AddOptions | None = None,
) -> FastAPI:
    """The API + UI for ``settings``; the collaborators default to the configured ones
    (``dance_options``: the fixed part of every dance add, e.g. the pose backend)."""
    engine = engine or make_engine(settings.database.url)
    factory = session_factory(engine)
    mailer = build_mailer(settings.mail)
    storage = storage or create_storage(settings.storage)
    ctx = ApiContext(
        settings=settings,
        factory=factory,
        queue=JobQueue(factory, lease_s=settings.worker.lease_s),
        link=link or LocalBoothLink(),
        logins=Logins(_secret(settings), settings.api.login_max_age_s, factory),
        login_guard=LoginGuard(
            settings.api.login_failures_per_account,
            settings.api.login_failures_per_address,
            settings.api.login_window_s,
            settings.api.login_concurrency,
        ),
        kiosk_limit=RateLimiter(settings.api.kiosk_per_minute),
        events=Broadcaster(factory, settings.api.events_poll_s),
        templates=Jinja2Templates(directory=UI / "templates"),
        secure_cookies=settings.api.public_url.startswith("https://"),
        storage=storage,
        mailer=mailer,
        mail=MailFlusher(
            factory, mailer, retry_policy(settings.delivery), settings.delivery.flush_every_s
        ),
        adder=DanceAdder(factory, storage, settings.dances, dance_options),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        ctx.mail.start()  # workers scale to zero: the API retries refused emails
        yield
        ctx.mail.stop()
        ctx.adder.close()
        await ctx.events.close()
        ctx.link.close()
        ctx.storage.close()

    app = FastAPI(title="dancebooth", version="1", lifespan=lifespan)
    app.state.ctx = ctx
    app.add_middleware(SecurityHeaders, csp=content_security_policy(media_origin(ctx.storage)))
    install_error_handlers(app)
    document_errors(app)
    modules = (
        auth,
        visitors,
        qa,
        stage,
        booth,
        mirror,
        dances,
        erasure,
        jobs,
        renditions,
        events,
        pages,
    )
    for module in modules:
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=UI / "static"), name="static")
    return app
