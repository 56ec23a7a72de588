"""The Discord method: a channel webhook URL on discord.com (beyond Quay)."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from regnotify.methods.chat import ChatWebhookMethod, default_port
from regnotify.methods.http_send import homepage_of, post_json
from regnotify.methods.sending import Outgoing, Senders, SendResult
from regnotify.methods.urls import HttpUrl

USERNAME = "regnotify"
MAX_TITLE = 256
MAX_DESCRIPTION = 4096
COLORS = {"error": 0xE53E3E, "warning": 0xDD6B20, "success": 0x38A169, "primary": 0x38A169, "info": 0x3182CE}


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def discord_message(outgoing: Outgoing) -> dict[str, Any]:
    """One embed; ``allowed_mentions`` is empty so nothing in event text can ping anyone."""
    embed: dict[str, Any] = {
        "title": clip(outgoing.summary, MAX_TITLE),
        "description": clip(outgoing.text, MAX_DESCRIPTION),
        "color": COLORS.get(outgoing.level, COLORS["info"]),
    }
    homepage = homepage_of(outgoing.payload)
    if homepage is not None:
        embed["url"] = homepage
    return {"username": USERNAME, "embeds": [embed], "allowed_mentions": {"parse": []}}


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

    async def send(self, config: dict[str, Any], outgoing: Outgoing, senders: Senders) -> SendResult:
        url = config.get("url")
        if not isinstance(url, str) or not url:
            return SendResult(ok=False, error="discord config has no url", permanent=True)
        return await post_json(senders, url, discord_message(outgoing))
