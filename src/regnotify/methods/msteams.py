"""The Microsoft Teams method: an incoming-webhook or Workflows URL (beyond Quay).

An Adaptive Card's TextBlock is markdown (``[text](url)`` is a link), and event text comes from
whoever pushes or builds; Teams has no reliable escape for it. So event text goes only into
TextRun elements of RichTextBlocks, which Adaptive Cards render as plain text (no markdown). The
one link, to the repository (or build) page, is our own ``Action.OpenUrl``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from regnotify.methods.chat import ChatWebhookMethod, default_port
from regnotify.methods.http_send import homepage_of, post_json
from regnotify.methods.sending import Outgoing, Senders, SendResult
from regnotify.methods.urls import HttpUrl

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
COLORS = {"error": "attention", "warning": "warning", "success": "good", "primary": "good", "info": "default"}


def text_block(text: str, **style: str) -> dict[str, Any]:
    """A RichTextBlock with one TextRun: ``text`` shown as it is, never read as markdown."""
    return {"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": text, **style}]}


def teams_message(outgoing: Outgoing) -> dict[str, Any]:
    """An Adaptive Card message, the shape Teams incoming webhooks and Workflows triggers accept.

    The summary, then one block per line of the plain-text message (a TextRun has no line breaks).
    """
    body = [text_block(outgoing.summary, weight="bolder", color=COLORS.get(outgoing.level, "default"))]
    body += [text_block(line) for line in outgoing.text.split("\n") if line.strip()]
    card: dict[str, Any] = {"$schema": CARD_SCHEMA, "type": "AdaptiveCard", "version": "1.4", "body": body}
    homepage = homepage_of(outgoing.payload)
    if homepage is not None:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "View repository", "url": homepage}]
    return {
        "type": "message",
        "attachments": [{"contentType": CARD_CONTENT_TYPE, "contentUrl": None, "content": card}],
    }


# Teams incoming webhooks (*.webhook.office.com) and Power Automate Workflows triggers.
TEAMS_HOST_SUFFIXES = (".webhook.office.com", ".logic.azure.com", ".powerplatform.com")


class MSTeamsMethod(ChatWebhookMethod):
    """Microsoft Teams incoming webhook or Workflows HTTP trigger."""

    name: ClassVar[str] = "msteams"
    title: ClassVar[str] = "Microsoft Teams Notification"
    label: ClassVar[str] = "Microsoft Teams"

    def service_url_problem(self, url: HttpUrl) -> str | None:
        host = url.host.rstrip(".")
        if not host.endswith(TEAMS_HOST_SUFFIXES) or not default_port(url):
            return (
                "Microsoft Teams url must be a Teams incoming webhook "
                "(https://<tenant>.webhook.office.com/...) or a Workflows URL "
                "(https://...logic.azure.com/... or https://...powerplatform.com/...)"
            )
        if url.path in ("", "/"):
            return "Microsoft Teams url needs the webhook path, not just the host"
        return None

    async def send(self, config: dict[str, Any], outgoing: Outgoing, senders: Senders) -> SendResult:
        url = config.get("url")
        if not isinstance(url, str) or not url:
            return SendResult(ok=False, error="msteams config has no url", permanent=True)
        return await post_json(senders, url, teams_message(outgoing))
