"""What every route needs from the application: settings, database, secret box, resolver."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from regnotify.config import Settings
from regnotify.crypto import SecretBox
from regnotify.db import Database
from regnotify.methods.sending import MailClient
from regnotify.notifications import Resolver


@dataclass
class Services:
    settings: Settings
    db: Database
    box: SecretBox
    resolver: Resolver
    mail: MailClient


def services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]
