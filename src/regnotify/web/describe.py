"""Short texts for the notifications table: an event's filter, a method's target (secrets masked)."""

from __future__ import annotations

from typing import Any

from regnotify.events import EVENT_KINDS
from regnotify.events.filters import level_index
from regnotify.events.priorities import PRIORITIES
from regnotify.methods import METHODS


def event_title(event: str) -> str:
    kind = EVENT_KINDS.get(event)
    return kind.title if kind is not None else event


def method_title(method: str) -> str:
    found = METHODS.get(method)
    return found.title if found is not None else method


def filter_text(event_config: dict[str, Any]) -> str:
    """``tags v*, latest; High or more severe``; empty when the notification has no filter."""
    parts = []
    patterns = event_config.get("tag-patterns")
    if isinstance(patterns, list) and patterns:
        parts.append("tags " + ", ".join(str(p) for p in patterns))
    level = level_index(event_config.get("level"))
    if level is not None:
        parts.append(f"{PRIORITIES[level]} or more severe")
    regex = event_config.get("ref-regex")
    if isinstance(regex, str) and regex:
        parts.append(f"ref matches {regex}")
    days = event_config.get("days")
    if days is not None:
        parts.append(f"expiring within {days} days")
    return "; ".join(parts)


def target_text(method: str, masked_config: dict[str, Any]) -> str:
    """Where the notification goes, from its *masked* config: never a secret in full."""
    if method == "quay_notification":
        target = masked_config.get("target") or {}
        return f"{target.get('kind', '?')} {target.get('name', '?')}"
    if method == "email":
        return str(masked_config.get("email", ""))
    if method == "hipchat":
        return f"room {masked_config.get('room_id', '?')}"
    if method == "flowdock":
        return f"token {masked_config.get('flow_api_token', '')}"
    shown = str(masked_config.get("url", ""))
    if method == "webhook" and masked_config.get("secret"):
        shown += " (signed)"
    return shown


def notification_label(title: str | None, method: str, event: str) -> str:
    """The title, or ``Webhook POST on Repository Push`` for an untitled notification."""
    return title or f"{method_title(method)} on {event_title(event)}"


def event_summary(event: str, payload: dict[str, Any]) -> str:
    """The event kind's one-line summary of a stored payload; empty when it cannot say."""
    kind = EVENT_KINDS.get(event)
    if kind is None:
        return ""
    try:
        return kind.summary(payload)
    except Exception:  # an odd stored payload must not break the page
        return ""
