"""The sending contract: what a method's ``send`` is given (Outgoing, Senders) and returns (SendResult).

The worker builds one ``Outgoing`` per attempt from a delivery row and its event, opens the
notification's config, and calls ``method.send(config, outgoing, senders)``. A method never
touches the queue: it reports what happened and the worker decides about retries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

from regnotify.events import get_event_kind

if TYPE_CHECKING:
    from regnotify.config import Settings

# json.dumps with these arguments builds this very encoder on every call; one shared encoder (it
# keeps no state between calls) gives the same bytes without that.
_JSON_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def encode_json(document: Any) -> bytes:
    """Compact UTF-8 JSON, the bytes that are sent (and signed): ``json.dumps(document,
    ensure_ascii=False, separators=(",", ":"))`` encoded as UTF-8."""
    return _JSON_ENCODER.encode(document).encode("utf-8")


class Message:
    """What an event reads as for people, each part rendered on first use: a webhook reads none of
    them (only ``json_body``, the payload's JSON), a chat method some, e-mail all. One event's
    message serves every notification it fans out to."""

    def __init__(self, event: str, payload: dict[str, Any]) -> None:
        self.kind = get_event_kind(event)
        self.payload = payload

    @cached_property
    def summary(self) -> str:
        return self.kind.summary(self.payload)

    @cached_property
    def level(self) -> str:  # info | warning | error | primary | success
        return self.kind.level(self.payload)

    @cached_property
    def html(self) -> str:  # escaped HTML message
        return self.kind.html_message(self.payload)

    @cached_property
    def text(self) -> str:  # plain-text message
        return self.kind.text_message(self.payload)

    @cached_property
    def json_body(self) -> bytes:  # the payload as a webhook sends it (``encode_json``)
        return encode_json(self.payload)


@dataclass(frozen=True)
class Outgoing:
    """One attempt to deliver one event for one notification."""

    delivery_id: str  # stable across retries and redeliveries (the Standard Webhooks ``webhook-id``)
    attempt: int  # 1 for the first try
    event: str  # event kind, e.g. "repo_push"
    payload: dict[str, Any]  # the event payload exactly as stored (Quay's shape)
    message: Message
    repository: str  # "ns/name"
    namespace: str
    notification_uuid: str
    notification_title: str | None
    is_test: bool = False
    occurred_at: datetime | None = None  # when the event was recorded; None when not known

    @property
    def summary(self) -> str:
        return self.message.summary

    @property
    def level(self) -> str:
        return self.message.level

    @property
    def html(self) -> str:
        return self.message.html

    @property
    def text(self) -> str:
        return self.message.text

    @property
    def json_body(self) -> bytes:
        """``encode_json(payload)``, taken from the message (encoded once per event) when the message
        is of this very payload: the same object, or an equal one (each claim may decode the stored
        event anew, always to the same types; comparing costs a tenth of encoding). Otherwise this
        payload is encoded."""
        message = self.message
        if message.payload is self.payload or message.payload == self.payload:
            return message.json_body
        return encode_json(self.payload)


@dataclass
class SendResult:
    """What one attempt came to. ``ok`` is the only thing that counts as success."""

    ok: bool
    status_code: int | None = None
    response_excerpt: str | None = None  # first 4 KiB of the response body, decoded leniently
    error: str | None = None  # why it failed, for the attempt log; never contains a secret
    retry_after: float | None = None  # seconds the receiver asked us to wait (429/503 Retry-After)
    gone: bool = False  # the receiver said 410 Gone: disable the notification now
    permanent: bool = False  # retrying cannot help (e.g. the address is no longer authorized)
    unreachable: bool = False  # no answer at all (timed out, refused, reset): counts against the destination
    request: dict[str, Any] = field(default_factory=dict)  # method, url (masked), headers, body excerpt
    duration_ms: float = 0.0


class HttpResponse(Protocol):
    """Read-only to methods, so a frozen dataclass (``regnotify.outbound.http.HttpResult``) is one."""

    @property
    def status(self) -> int: ...
    @property
    def headers(self) -> Any: ...
    @property
    def body_excerpt(self) -> str: ...
    @property
    def duration_ms(self) -> float: ...


class HttpClient(Protocol):
    """Outbound HTTP with the SSRF guard at connect time, no redirects, timeouts and pooling."""

    async def post(
        self, url: str, *, body: bytes, headers: dict[str, str], client_cert: bool = False
    ) -> HttpResponse: ...


class MailClient(Protocol):
    async def send(self, *, to: str, subject: str, text: str, html: str, headers: dict[str, str]) -> str:
        """Send one message; returns a short description of where it went (for the attempt log)."""
        ...


class InboxWriter(Protocol):
    async def notify(self, *, target_kind: str, target_name: str, outgoing: Outgoing) -> int:
        """Write in-app notices for a user, a team's readers or an org's admins; returns how many."""
        ...


class Senders(Protocol):
    """Everything sending may use, built once per worker process (read-only to methods, so an
    implementation may hold more specific types)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def http(self) -> HttpClient: ...
    @property
    def mail(self) -> MailClient: ...
    @property
    def inbox(self) -> InboxWriter: ...

    async def email_is_authorized(self, repository: str, email: str) -> bool:
        """Whether ``email`` is (still) confirmed for ``repository`` ("ns/name")."""
        ...
