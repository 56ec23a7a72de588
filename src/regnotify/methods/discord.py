"""The Discord method: a channel webhook URL on discord.com (beyond Quay)."""

from __future__ import annotations

import re
from typing import ClassVar

from regnotify.methods.chat import ChatWebhookMethod, default_port
from regnotify.methods.urls import HttpUrl

DISCORD_HOSTS = ("discord.com", "discordapp.com")
# /api/webhooks/{id}/{token}, also with an API version: /api/v10/webhooks/{id}/{token}
_WEBHOOK_PATH = re.compile(r"^/api/(?:v\d{1,3}/)?webhooks/[^/]+")


class DiscordMethod(ChatWebhookMethod):
    """Discord channel webhook (``https://discord.com/api/webhooks/<id>/<token>``)."""

    name: ClassVar[str] = "discord"
    title: ClassVar[str] = "Discord Notification"
    label: ClassVar[str] = "Discord"

    def service_url_problem(self, url: HttpUrl) -> str | None:
        if url.host.rstrip(".") not in DISCORD_HOSTS or not default_port(url):
            return "Discord url must be a Discord webhook: https://discord.com/api/webhooks/<id>/<token>"
        if not _WEBHOOK_PATH.match(url.path):
            return "Discord url path must start with /api/webhooks/: https://discord.com/api/webhooks/<id>/<token>"
        return None
