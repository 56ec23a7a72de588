"""What every route needs from the application: settings, database, secret box, resolver, mail, the
tokens this process checked recently, and the group commit of the registry receiver."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from regnotify.api.token_cache import TokenCache
from regnotify.config import Settings
from regnotify.db import Database
from regnotify.db.group_commit import GroupCommit
from regnotify.methods.sending import MailClient
from regnotify.outbound.addresses import Resolver
from regnotify.runtime.crypto import SecretBox


@dataclass
class Services:
    settings: Settings
    db: Database
    box: SecretBox
    resolver: Resolver
    mail: MailClient
    tokens: TokenCache[Any] = field(default_factory=TokenCache)  # principals by bearer token
    group_commit: GroupCommit = field(init=False)  # shared write transactions for busy routes

    def __post_init__(self) -> None:
        self.group_commit = GroupCommit(self.db)


async def services(request: Request) -> Services:
    """The application's services (async, so FastAPI calls it inline instead of in a thread)."""
    return request.app.state.services  # type: ignore[no-any-return]
