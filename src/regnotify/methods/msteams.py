"""The Microsoft Teams method: an incoming-webhook or Workflows URL (beyond Quay)."""

from __future__ import annotations

from typing import ClassVar

from regnotify.methods.chat import ChatWebhookMethod, default_port
from regnotify.methods.urls import HttpUrl

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
