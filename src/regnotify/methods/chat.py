"""Shared base for chat services fed by an incoming-webhook URL (Slack, Microsoft Teams, Discord).

Config is ``{"url": ...}``. The URL must be https and point at the service's own hosts, unless its
host is one of the operator's ``chat_allowed_hosts`` (then http is allowed too, for local
receivers). Every URL then passes the same SSRF check as a webhook. The whole URL is the secret.
"""

from __future__ import annotations

from typing import Any, ClassVar

from regnotify.methods.base import MethodConfigError, NotificationMethod, ValidationContext
from regnotify.methods.urls import HttpUrl, ensure_public, host_matches, mask_url, parse_http_url


class ChatWebhookMethod(NotificationMethod):
    """A chat service's incoming webhook. Subclasses set ``label`` and ``service_url_problem``."""

    label: ClassVar[str]
    allowed_keys: ClassVar[tuple[str, ...]] = ("url",)
    secret_fields: ClassVar[tuple[str, ...]] = ("url",)

    def service_url_problem(self, url: HttpUrl) -> str | None:
        """Why an https URL is not one of the service's webhook URLs, or None when it is."""
        raise NotImplementedError

    async def _validate(self, config: dict[str, Any], ctx: ValidationContext) -> dict[str, Any]:
        url = parse_http_url(config.get("url"), self.label)
        if not host_matches(url, ctx.settings.chat_allowed_hosts):
            if url.scheme != "https":
                raise MethodConfigError(f"{self.label} url must start with https://")
            problem = self.service_url_problem(url)
            if problem is not None:
                raise MethodConfigError(problem)
        await ensure_public(url, ctx, self.label)
        return {"url": url.url}

    def mask_value(self, key: str, value: object) -> str:
        return mask_url(value)


def default_port(url: HttpUrl) -> bool:
    return url.port in (None, 443)
