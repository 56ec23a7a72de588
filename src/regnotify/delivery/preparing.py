"""Turning a claimed delivery into what a method sends: the event's message and the opened config.

An event fans out to many notifications and a notification sends many events, so the worker keeps
the last few of each instead of rendering and decrypting per delivery: messages by event id, checked
against the claimed payload (SQLite may give a deleted event's id to a new one), each part rendered
when a method first reads it; opened configs by notification id for as long as the sealed config
read at claim time is the same (any edit reseals it, so it compares unequal).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from regnotify.delivery.queue import Claimed, ClaimedNotification
from regnotify.methods import NotificationMethod
from regnotify.methods.sending import Message, Outgoing
from regnotify.runtime.crypto import SecretBox

CACHE_SIZE = 1024
Key = TypeVar("Key")
Value = TypeVar("Value")


def build_outgoing(claimed: Claimed, message: Message | None = None) -> Outgoing:
    return Outgoing(
        delivery_id=claimed.delivery_uuid,
        attempt=claimed.attempts + 1,
        event=claimed.event.kind,
        payload=claimed.event.payload,
        message=message or Message(claimed.event.kind, claimed.event.payload),
        repository=claimed.repository.full_name,
        namespace=claimed.repository.namespace,
        notification_uuid=claimed.notification.uuid,
        notification_title=claimed.notification.title,
        is_test=claimed.is_test,
        occurred_at=claimed.event.received_at,
    )


class _Recent(Generic[Key, Value]):
    """The last ``size`` values by key, least recently stored dropped first."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[Key, Value] = OrderedDict()

    def get_or_make(self, key: Key, make: Callable[[], Value], valid: Callable[[Value], bool]) -> Value:
        found = self._items.get(key)
        if found is not None and valid(found):
            return found
        value = self._items[key] = make()
        self._items.move_to_end(key)
        if len(self._items) > self.size:
            self._items.popitem(last=False)
        return value


class EventMessages:
    """Messages of recent events."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._recent: _Recent[int, Message] = _Recent(size)

    def get(self, claimed: Claimed) -> Message:
        payload = claimed.event.payload  # the same object while the stored payload is the same
        return self._recent.get_or_make(
            claimed.event.id,
            lambda: Message(claimed.event.kind, payload),
            lambda found: found.payload is payload or found.payload == payload,
        )


class OpenedConfigs:
    """Notification configs with their secrets opened."""

    def __init__(self, box: SecretBox, size: int = CACHE_SIZE) -> None:
        self.box = box
        self._recent: _Recent[int, tuple[dict[str, Any], dict[str, Any]]] = _Recent(size)

    def get(self, notification: ClaimedNotification, method: NotificationMethod) -> dict[str, Any]:
        """The opened config (methods only read it); ValueError when a secret does not open."""
        sealed = notification.config
        _sealed, opened = self._recent.get_or_make(
            notification.id,
            lambda: (sealed, method.unseal(sealed, self.box)),
            lambda found: found[0] == sealed,
        )
        return opened
