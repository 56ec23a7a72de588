"""Helpers for delivery tests: Outgoing values from the real event catalogue, Settings, Senders."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regnotify.config import Settings
from regnotify.events import RepositoryRef, get_event_kind
from regnotify.methods.sending import Message, Outgoing
from regnotify.outbound.http import GuardedHttpClient

REPO = RepositoryRef("acme", "app", "registry.test", "https://regnotify.test")


def message_with(event: str, payload: dict[str, Any], changes: dict[str, Any]) -> Message:
    """The event's message, with the parts named in ``changes`` (taken out of it) replaced."""
    message = Message(event, payload)
    for part in ("summary", "level", "html", "text"):
        if part in changes:
            setattr(message, part, changes.pop(part))
    return message


def make_outgoing(event: str = "repo_push", **changes: Any) -> Outgoing:
    kind = get_event_kind(event)
    payload = kind.sample_payload(REPO)
    values: dict[str, Any] = {
        "delivery_id": f"msg_{uuid.uuid4().hex}",
        "attempt": 1,
        "event": event,
        "payload": payload,
        "message": message_with(event, payload, changes),
        "repository": REPO.full_name,
        "namespace": REPO.namespace,
        "notification_uuid": str(uuid.uuid4()),
        "notification_title": "CI hook",
    }
    values.update(changes)
    return Outgoing(**values)


def make_settings(tmp_path: Path, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "outbound_allowed_networks": ["127.0.0.1/32"],
        "http_connect_timeout": 2.0,
        "http_total_timeout": 3.0,
    }
    values.update(changes)
    return Settings(**values)


@dataclass
class TestSenders:
    """What a method's send may use; only ``http`` and ``settings`` matter for HTTP methods."""

    __test__ = False

    settings: Settings
    http: GuardedHttpClient
    mail: Any = None
    inbox: Any = None
