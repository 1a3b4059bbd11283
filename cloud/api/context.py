"""What every route can reach: the app's collaborators, built once by ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import sessionmaker

from cloud.api.events import Broadcaster
from cloud.api.link import BoothLink
from cloud.api.ratelimit import LoginGuard, RateLimiter
from cloud.api.security import Logins
from cloud.dances.adder import DanceAdder
from cloud.delivery.mailer import Mailer
from cloud.delivery.outbox import MailFlusher
from cloud.jobs.queue import JobQueue
from cloud.settings import CloudSettings
from cloud.storage import Storage


@dataclass
class ApiContext:
    """The app's collaborators, reachable from routes through ``deps``."""

    settings: CloudSettings
    factory: sessionmaker[Db]
    queue: JobQueue
    link: BoothLink
    logins: Logins
    login_guard: LoginGuard
    kiosk_limit: RateLimiter
    events: Broadcaster
    templates: Jinja2Templates
    secure_cookies: bool
    storage: Storage
    mailer: Mailer
    mail: MailFlusher  # retries refused emails; woken by a re-send
    adder: DanceAdder  # runs dance adds in the background
