"""Building the Senders a worker hands to methods: guarded HTTP, mail, and the in-app inbox."""

from __future__ import annotations

from dataclasses import dataclass

from regnotify.accounts import find_repository
from regnotify.config import Settings
from regnotify.db import Database
from regnotify.delivery.inbox import DatabaseInbox
from regnotify.methods.sending import MailClient
from regnotify.notifications.email_addresses import is_authorized
from regnotify.outbound.addresses import Resolver, system_resolver
from regnotify.outbound.http import GuardedHttpClient
from regnotify.outbound.mail import mail_client


@dataclass
class WorkerSenders:
    settings: Settings
    http: GuardedHttpClient
    mail: MailClient
    inbox: DatabaseInbox
    db: Database

    async def email_is_authorized(self, repository: str, email: str) -> bool:
        async with self.db.read() as session:
            found = await find_repository(session, repository)
            return found is not None and await is_authorized(session, found.id, email)

    async def close(self) -> None:
        await self.http.close()


def build_senders(settings: Settings, db: Database, resolver: Resolver = system_resolver) -> WorkerSenders:
    return WorkerSenders(
        settings=settings,
        http=GuardedHttpClient(settings, resolver=resolver),
        mail=mail_client(settings),
        inbox=DatabaseInbox(db),
        db=db,
    )
