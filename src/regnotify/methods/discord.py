"""The Discord method: a channel webhook URL on discord.com (beyond Quay).

Embed titles and descriptions are Discord markdown, and event text (build names, tags, commit
messages, vulnerability descriptions) comes from whoever pushes or builds: ``discord_escape``
backslash-escapes every markdown character in it, so ``[Urgent](https://evil.example/login)`` shows
as typed instead of as a disguised link. Bare URLs stay as they are: Discord links them as typed,
showing their real target (our own link to the repository page among them), and an escape inside
one would become part of the link. ``allowed_mentions`` is empty, so nothing can ping anyone.
"""

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


# Discord markdown: escapes (\), bold/italic (* _), strike (~), code (`), spoilers (|), quotes (>),
# headers and subtext (#), masked links ([text](url)), and <...> (mentions, channels, timestamps,
# autolinks). Discord shows "\x" as "x" for any x that is not a letter, digit or space.
DISCORD_SPECIALS = frozenset("\\*_~`|<>[]()#")
# A word starting with http(s)://, which Discord links as typed: up to whitespace (JavaScript's
# \s, which counts U+FEFF too). A "<" ends Discord's link early (taking a backslash before it into
# the link), and it needs two characters after "://": such words are escaped whole instead.
_URL_WORD = re.compile(r"https?://[^\s\ufeff]*")
_LINKED_AS_TYPED = re.compile(r"https?://[^\s\ufeff<]{2,}")


def _escape_all(text: str, specials: frozenset[str] = DISCORD_SPECIALS) -> str:
    return "".join("\\" + ch if ch in specials else ch for ch in text)


def discord_escape(text: str) -> str:
    """``text`` for Discord markdown: every markup character escaped, bare URLs left whole."""
    out: list[str] = []
    end = 0
    for match in _URL_WORD.finditer(text):
        out.append(_escape_all(text[end : match.start()]))
        word = match.group()
        if _LINKED_AS_TYPED.fullmatch(word):
            out.append(word)
        else:  # also escape ":" so that Discord links no part of it
            out.append(_escape_all(word, DISCORD_SPECIALS | {":"}))
        end = match.end()
    out.append(_escape_all(text[end:]))
    return "".join(out)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def discord_message(outgoing: Outgoing) -> dict[str, Any]:
    """One embed with the event text escaped; the embed links to the repository (or build) page.

    ``allowed_mentions`` is empty so nothing in event text can ping anyone.
    """
    embed: dict[str, Any] = {
        "title": clip(discord_escape(outgoing.summary), MAX_TITLE),
        "description": clip(discord_escape(outgoing.text), MAX_DESCRIPTION),
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
