"""The Flowdock method (a dead service, kept for Quay compatibility): a flow API token."""

from __future__ import annotations

from email.utils import parseaddr
from typing import Any, ClassVar

from regnotify.config import Settings
from regnotify.methods.base import NotificationMethod, ValidationContext, check_token, url_destination
from regnotify.methods.http_send import homepage_of, post_json
from regnotify.methods.path_segment import NotOneSegment, check_segment, path_segment
from regnotify.methods.sending import Outgoing, Senders, SendResult

SOURCE = "regnotify"
DEFAULT_FROM = "regnotify@localhost"
_PROJECT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_ ")


def flowdock_url(base_url: str, token: str) -> str:
    """The team inbox endpoint; the token is in the path (Flowdock's API), so summaries mask it.

    The token is percent-encoded as one path segment; NotOneSegment (a ValueError) for ``.`` or ``..``.
    """
    return f"{base_url.rstrip('/')}/v1/messages/team_inbox/{path_segment(token, 'flowdock flow_api_token')}"


def project_name(namespace: str, repository: str) -> str:
    """``"ns repo"`` with only ASCII letters, digits, spaces and underscores, as Flowdock requires."""
    name = repository.split("/", 1)[-1]
    return "".join(ch for ch in f"{namespace} {name}" if ch in _PROJECT_CHARS)


def from_address(mail_from: str) -> str:
    address = parseaddr(mail_from)[1]
    return address if "@" in address else DEFAULT_FROM


def flowdock_message(outgoing: Outgoing, mail_from: str) -> dict[str, Any]:
    return {
        "source": SOURCE,
        "from_address": from_address(mail_from),
        "subject": outgoing.summary,
        "content": outgoing.html,
        "from_name": outgoing.namespace,
        "project": project_name(outgoing.namespace, outgoing.repository),
        "tags": ["#" + outgoing.event],
        "link": homepage_of(outgoing.payload),
    }


class FlowdockMethod(NotificationMethod):
    """Flowdock team inbox message."""

    name: ClassVar[str] = "flowdock"
    title: ClassVar[str] = "Flowdock Team Notification"
    allowed_keys: ClassVar[tuple[str, ...]] = ("flow_api_token",)
    secret_fields: ClassVar[tuple[str, ...]] = ("flow_api_token",)

    async def _validate(self, config: dict[str, Any], ctx: ValidationContext) -> dict[str, Any]:
        token = check_token(config.get("flow_api_token"), "flow_api_token", self.name)
        return {"flow_api_token": check_segment(token, "flow_api_token", "the flow's API token")}

    def destination(self, config: dict[str, Any], settings: Settings) -> str | None:
        return url_destination(settings.flowdock_base_url)

    async def send(self, config: dict[str, Any], outgoing: Outgoing, senders: Senders) -> SendResult:
        token = config.get("flow_api_token")
        if not isinstance(token, str) or not token:
            return SendResult(ok=False, error="flowdock config has no flow_api_token", permanent=True)
        settings = senders.settings
        try:
            url = flowdock_url(settings.flowdock_base_url, token)
        except NotOneSegment as exc:  # stored before validation refused it: never climb out of the base
            return SendResult(ok=False, error=str(exc), permanent=True)
        return await post_json(senders, url, flowdock_message(outgoing, settings.mail_from))
