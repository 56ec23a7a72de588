"""The Slack method: an incoming-webhook URL on hooks.slack.com (checked on the server, unlike Quay)."""

from __future__ import annotations

from typing import ClassVar

from regnotify.methods.chat import ChatWebhookMethod, default_port
from regnotify.methods.urls import HttpUrl

SLACK_HOST = "hooks.slack.com"


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
