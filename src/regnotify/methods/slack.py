"""The Slack method: an incoming-webhook URL on hooks.slack.com (checked on the server, unlike Quay)."""

from __future__ import annotations

from typing import Any, ClassVar

from regnotify.methods.chat import ChatWebhookMethod, default_port
from regnotify.methods.http_send import post_json
from regnotify.methods.sending import Outgoing, Senders, SendResult
from regnotify.methods.slack_markup import html_to_mrkdwn, slack_escape
from regnotify.methods.urls import HttpUrl

SLACK_HOST = "hooks.slack.com"
USERNAME = "regnotify"
# Quay's mapping, except info: Quay's white (#ffffff) is invisible on Slack's light theme.
COLORS = {"info": "#3b82f6", "warning": "warning", "error": "danger", "success": "good", "primary": "good"}


def slack_message(outgoing: Outgoing) -> dict[str, Any]:
    """Quay's Slack message shape: summary text plus one attachment with the message in mrkdwn."""
    summary = slack_escape(outgoing.summary)
    return {
        "text": summary,
        "username": USERNAME,
        "attachments": [
            {
                "fallback": summary,
                "text": html_to_mrkdwn(outgoing.html),
                "color": COLORS.get(outgoing.level, COLORS["info"]),
                "mrkdwn_in": ["text"],
            }
        ],
    }


class SlackMethod(ChatWebhookMethod):
    """Slack incoming webhook (``https://hooks.slack.com/services/...``)."""

    name: ClassVar[str] = "slack"
    title: ClassVar[str] = "Slack Notification"
    label: ClassVar[str] = "Slack"

    def service_url_problem(self, url: HttpUrl) -> str | None:
        if url.host.rstrip(".") != SLACK_HOST or not default_port(url):
            return f"Slack url must be a Slack incoming webhook: https://{SLACK_HOST}/services/..."
        if url.path in ("", "/"):
            return f"Slack url needs the webhook path: https://{SLACK_HOST}/services/..."
        return None

    async def send(self, config: dict[str, Any], outgoing: Outgoing, senders: Senders) -> SendResult:
        url = config.get("url")
        if not isinstance(url, str) or not url:
            return SendResult(ok=False, error="slack config has no url", permanent=True)
        return await post_json(senders, url, slack_message(outgoing))
