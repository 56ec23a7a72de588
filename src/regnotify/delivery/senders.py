"""Building the Senders a worker hands to methods: guarded HTTP, mail, and the in-app inbox."""

from __future__ import annotations

from dataclasses import dataclass

from regnotify.config import Settings
from regnotify.db import Database
from regnotify.delivery.http import GuardedHttpClient
from regnotify.delivery.inbox import DatabaseInbox
from regnotify.delivery.mail import mail_client
from regnotify.methods.sending import MailClient
from regnotify.notifications import Resolver, system_resolver


@dataclass
class WorkerSenders:
    settings: Settings
    http: GuardedHttpClient
    mail: MailClient
    inbox: DatabaseInbox

    async def close(self) -> None:
        await self.http.close()


def build_senders(settings: Settings, db: Database, resolver: Resolver = system_resolver) -> WorkerSenders:
    return WorkerSenders(
        settings=settings,
        http=GuardedHttpClient(settings, resolver=resolver),
        mail=mail_client(settings),
        inbox=DatabaseInbox(db),
    )
