"""What the worker prepares per delivery: the outgoing message and the opened config, with their caches."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import Fernet

from regnotify.delivery.preparing import CACHE_SIZE, EventMessages, OpenedConfigs, build_outgoing
from regnotify.delivery.queue import Claimed, ClaimedEvent, ClaimedNotification, ClaimedRepository
from regnotify.events import RepositoryRef, get_event_kind
from regnotify.methods import get_method
from regnotify.runtime.crypto import SecretBox

REPOSITORY = ClaimedRepository(7, "acme", "web")
REF = RepositoryRef("acme", "web", "registry.test", "https://regnotify.test")
WEBHOOK = get_method("webhook")


def claimed(
    event_id: int, payload: dict[str, Any], config: dict[str, Any], notification_id: int = 1
) -> Claimed:
    return Claimed(
        delivery_id=event_id * 100 + notification_id,
        delivery_uuid=f"uuid-{event_id}-{notification_id}",
        lease_token="w:token",
        attempts=2,
        is_test=False,
        event=ClaimedEvent(event_id, "repo_push", payload),
        notification=ClaimedNotification(
            notification_id, "n-uuid", "CI hook", "repo_push", "webhook", config
        ),
        repository=REPOSITORY,
    )


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(Fernet.generate_key().decode())


def push_payload(tag: str) -> dict[str, Any]:
    return get_event_kind("repo_push").sample_payload(REF) | {"updated_tags": [tag]}


def test_outgoing_carries_the_delivery_and_the_rendered_event() -> None:
    item = claimed(1, push_payload("v1"), {})
    outgoing = build_outgoing(item)
    kind = get_event_kind("repo_push")
    assert (outgoing.delivery_id, outgoing.attempt, outgoing.event) == ("uuid-1-1", 3, "repo_push")
    assert outgoing.payload is item.event.payload
    assert outgoing.summary == kind.summary(item.event.payload)
    assert outgoing.html == kind.html_message(item.event.payload)
    assert (outgoing.repository, outgoing.namespace, outgoing.notification_title) == (
        "acme/web",
        "acme",
        "CI hook",
    )


def test_an_event_is_rendered_once_for_all_its_notifications() -> None:
    messages = EventMessages()
    first = messages.get(claimed(1, push_payload("v1"), {}, notification_id=1))
    assert messages.get(claimed(1, push_payload("v1"), {}, notification_id=2)) is first
    assert first.text is first.text  # rendered once, then kept
    other = messages.get(claimed(2, push_payload("v2"), {}))
    assert other is not first and "v2" in other.text


def test_an_event_id_given_to_a_new_event_gets_its_own_message() -> None:
    """SQLite may give a deleted event's id to a new one: the payload, not the id alone, decides."""
    messages = EventMessages()
    first = messages.get(claimed(1, push_payload("v1"), {}))
    again = messages.get(claimed(1, push_payload("v9"), {}))
    assert again is not first and "v9" in again.text


def test_a_message_renders_only_the_parts_read() -> None:
    message = EventMessages().get(claimed(1, push_payload("v1"), {}))
    assert message.summary
    assert set(vars(message)) == {"kind", "payload", "summary"}  # no HTML, text or level yet


def test_old_events_leave_the_cache() -> None:
    messages = EventMessages(size=2)
    first = messages.get(claimed(1, push_payload("v1"), {}))
    messages.get(claimed(2, push_payload("v2"), {}))
    messages.get(claimed(3, push_payload("v3"), {}))
    assert messages.get(claimed(1, push_payload("v1"), {})) is not first
    assert CACHE_SIZE >= 100


def test_an_opened_config_is_reused_until_the_sealed_config_changes(box: SecretBox) -> None:
    opened = OpenedConfigs(box)
    sealed = WEBHOOK.seal({"url": "https://hooks.example.com/a", "secret": "whsec_" + "A" * 32}, box)
    notification = claimed(1, {}, sealed).notification
    config = opened.get(notification, WEBHOOK)
    assert config == {"url": "https://hooks.example.com/a", "secret": "whsec_" + "A" * 32}
    assert opened.get(claimed(2, {}, dict(sealed)).notification, WEBHOOK) is config

    resealed = WEBHOOK.seal({"url": "https://hooks.example.com/b"}, box)  # an admin edited it
    changed = opened.get(claimed(3, {}, resealed).notification, WEBHOOK)
    assert changed == {"url": "https://hooks.example.com/b"}


def test_a_config_sealed_with_another_key_does_not_open(box: SecretBox) -> None:
    other = SecretBox(Fernet.generate_key().decode())
    sealed = WEBHOOK.seal({"url": "https://hooks.example.com/a"}, other)
    with pytest.raises(ValueError):
        OpenedConfigs(box).get(claimed(1, {}, sealed).notification, WEBHOOK)
