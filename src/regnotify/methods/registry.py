"""The catalogue of notification methods, keyed by name, and lookup by name."""

from __future__ import annotations

from regnotify.methods.base import NotificationMethod, UnknownMethodError
from regnotify.methods.discord import DiscordMethod
from regnotify.methods.email import EmailMethod
from regnotify.methods.flowdock import FlowdockMethod
from regnotify.methods.hipchat import HipChatMethod
from regnotify.methods.msteams import MSTeamsMethod
from regnotify.methods.quay_notification import QuayNotificationMethod
from regnotify.methods.slack import SlackMethod
from regnotify.methods.webhook import WebhookMethod

METHODS: dict[str, NotificationMethod] = {
    method.name: method
    for method in (
        QuayNotificationMethod(),
        EmailMethod(),
        WebhookMethod(),
        SlackMethod(),
        HipChatMethod(),
        FlowdockMethod(),
        MSTeamsMethod(),
        DiscordMethod(),
    )
}


def get_method(name: object) -> NotificationMethod:
    """The method called ``name``; UnknownMethodError listing the valid names otherwise."""
    method = METHODS.get(name) if isinstance(name, str) else None
    if method is None:
        shown = repr(name) if len(repr(name)) <= 60 else repr(name)[:59] + "…"
        raise UnknownMethodError(f"Unknown method {shown}; valid methods: {', '.join(METHODS)}")
    return method
