"""The create-notification form: its fields, turned into an event config and a method config, and
server validation messages placed next to the field they concern."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from regnotify.events import EVENT_KINDS
from regnotify.events.priorities import PRIORITIES
from regnotify.methods import METHODS
from regnotify.methods.cloudevents import FORMAT_BINARY, FORMAT_QUAY, FORMAT_STRUCTURED

FIELDS = (
    "title",
    "event",
    "tag_patterns",
    "level",
    "ref_regex",
    "days",
    "method",
    "target_kind",
    "target_name",
    "email",
    "webhook_url",
    "template",
    "sign",
    "webhook_format",
    "chat_url",
    "hipchat_room_id",
    "hipchat_token",
    "flowdock_token",
)
MAX_FIELD_LENGTH = 20_000
CHAT_METHODS = ("slack", "msteams", "discord")
# Which form field holds each event-config key.
FILTER_FIELDS = {"tag-patterns": "tag_patterns", "level": "level", "ref-regex": "ref_regex", "days": "days"}
# Which events each filter field applies to (the form shows a field only for those).
FILTER_EVENTS = {
    form_field: [kind.name for kind in EVENT_KINDS.values() if key in kind.config_keys]
    for key, form_field in FILTER_FIELDS.items()
}
LEVEL_CHOICES = [(str(index), name) for index, name in enumerate(PRIORITIES)]
TARGET_KINDS = (("user", "User"), ("team", "Team"), ("org", "Organization admins"))
WEBHOOK_FORMATS = (
    (FORMAT_QUAY, "Quay payload"),
    (FORMAT_STRUCTURED, "CloudEvents, structured (application/cloudevents+json)"),
    (FORMAT_BINARY, "CloudEvents, binary (ce-* headers)"),
)


def split_patterns(text: str) -> list[str]:
    return [pattern for pattern in re.split(r"[,\s]+", text) if pattern]


@dataclass
class NotificationForm:
    """What was typed, field by field (always strings), and the errors found for each field."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_form(cls, form: Mapping[str, Any]) -> NotificationForm:
        values = {}
        for name in FIELDS:
            value = form.get(name)
            values[name] = value[:MAX_FIELD_LENGTH] if isinstance(value, str) else ""
        return cls(values)

    def get(self, name: str) -> str:
        return self.values.get(name, "")

    @property
    def event(self) -> str:
        return self.get("event")

    @property
    def method(self) -> str:
        return self.get("method")

    def event_config(self) -> dict[str, Any]:
        """The filter of the chosen event, from the fields it takes; blank fields mean no filter."""
        kind = EVENT_KINDS.get(self.event)
        if kind is None:
            return {}
        config: dict[str, Any] = {}
        for key in kind.config_keys:
            raw = self.get(FILTER_FIELDS[key]).strip()
            if not raw:
                continue
            config[key] = split_patterns(raw) if key == "tag-patterns" else raw
        return config

    def config(self) -> dict[str, Any]:
        """The chosen method's config, from the fields it takes."""
        method = self.method
        if method == "quay_notification":
            return {"target": {"kind": self.get("target_kind"), "name": self.get("target_name").strip()}}
        if method == "email":
            return {"email": self.get("email").strip()}
        if method == "webhook":
            config: dict[str, Any] = {"url": self.get("webhook_url").strip()}
            if self.get("template").strip():
                config["template"] = self.get("template")
            if self.get("sign"):
                config["secret"] = True
            if self.get("webhook_format") not in ("", FORMAT_QUAY):
                config["format"] = self.get("webhook_format")
            return config
        if method in CHAT_METHODS:
            return {"url": self.get("chat_url").strip()}
        if method == "hipchat":
            return {
                "room_id": self.get("hipchat_room_id").strip(),
                "notification_token": self.get("hipchat_token"),
            }
        if method == "flowdock":
            return {"flow_api_token": self.get("flowdock_token")}
        return {}

    def event_error(self, message: str) -> None:
        """Place an error from checking the event or its filter."""
        lowered = message.lower()
        for key, form_field in FILTER_FIELDS.items():
            if lowered.startswith(key) or f"{key} " in lowered:
                self.errors[form_field] = message
                return
        self.errors["event"] = message

    def limit_error(self, message: str) -> None:
        """Place the per-repository cap's refusal on the first field, right below the form's alert."""
        self.errors["event"] = message

    def method_error(self, message: str) -> None:
        """Place an error from ``validate_notification``: the title, or one of the method's fields."""
        self.errors[_method_field(self.method, message)] = message


def _method_field(method: str, message: str) -> str:
    lowered = message.lower()
    if lowered.startswith("title"):
        return "title"
    if method not in METHODS:
        return "method"
    if method == "webhook":
        if "template" in lowered:
            return "template"
        if "webhook format" in lowered:
            return "webhook_format"
        return "sign" if "secret" in lowered else "webhook_url"
    if method in CHAT_METHODS:
        return "chat_url"
    if method == "email":
        return "email"
    if method == "quay_notification":
        return "target_kind" if "target kind" in lowered else "target_name"
    if method == "hipchat":
        return "hipchat_room_id" if "room_id" in lowered else "hipchat_token"
    return "flowdock_token"
