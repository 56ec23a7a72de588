"""The HipChat method (a dead service, kept for Quay compatibility): a room and a notification token."""

from __future__ import annotations

from typing import Any, ClassVar

from regnotify.config import Settings
from regnotify.methods.base import (
    MethodConfigError,
    NotificationMethod,
    ValidationContext,
    check_token,
    type_name,
    url_destination,
)
from regnotify.methods.http_send import post_json
from regnotify.methods.path_segment import NotOneSegment, check_segment, path_segment
from regnotify.methods.sending import Outgoing, Senders, SendResult

MAX_ROOM_LENGTH = 100
COLORS = {"info": "gray", "warning": "yellow", "error": "red", "success": "green", "primary": "purple"}


def hipchat_url(base_url: str, room: str) -> str:
    """``{base}/v2/room/{room}/notification``; the token goes in a header, never in the URL (or logs).

    The room is percent-encoded as one path segment; NotOneSegment (a ValueError) for ``.`` or ``..``.
    """
    return f"{base_url.rstrip('/')}/v2/room/{path_segment(room, 'hipchat room_id')}/notification"


def hipchat_message(outgoing: Outgoing) -> dict[str, Any]:
    return {
        "color": COLORS.get(outgoing.level, "gray"),
        "message": outgoing.html,
        "notify": outgoing.level == "error",
        "message_format": "html",
    }


def normalize_room(value: object) -> str:
    """A room id as a string of digits, or a room name: one URL path segment, percent-encoded at send."""
    if value is None or value == "":
        raise MethodConfigError("Missing room_id: the hipchat method needs a room id or name")
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise MethodConfigError(f"room_id must be a number or a string, not {type_name(value)}")
    if isinstance(value, int):
        if value < 0:
            raise MethodConfigError("room_id must not be negative")
        room = str(value)
    else:
        if len(value) > 4 * MAX_ROOM_LENGTH:
            raise MethodConfigError(f"room_id is too long: at most {MAX_ROOM_LENGTH} characters")
        room = value.strip()
    if not room:
        raise MethodConfigError("Missing room_id: the hipchat method needs a room id or name")
    if len(room) > MAX_ROOM_LENGTH:
        raise MethodConfigError(f"room_id is too long: at most {MAX_ROOM_LENGTH} characters")
    if any(ch < " " or ch == "\x7f" or not ch.isprintable() for ch in room):
        raise MethodConfigError("room_id must not contain control characters")
    return check_segment(room, "room_id", "one room number or name")


class HipChatMethod(NotificationMethod):
    """HipChat room notification."""

    name: ClassVar[str] = "hipchat"
    title: ClassVar[str] = "HipChat Room Notification"
    allowed_keys: ClassVar[tuple[str, ...]] = ("notification_token", "room_id")
    secret_fields: ClassVar[tuple[str, ...]] = ("notification_token",)

    async def _validate(self, config: dict[str, Any], ctx: ValidationContext) -> dict[str, Any]:
        token = check_token(config.get("notification_token"), "notification_token", self.name)
        room = normalize_room(config.get("room_id"))
        return {"notification_token": token, "room_id": room}

    def destination(self, config: dict[str, Any], settings: Settings) -> str | None:
        return url_destination(settings.hipchat_base_url)

    async def send(self, config: dict[str, Any], outgoing: Outgoing, senders: Senders) -> SendResult:
        token = config.get("notification_token")
        room = config.get("room_id")
        if not isinstance(token, str) or not token or room is None or room == "":
            error = "hipchat config needs notification_token and room_id"
            return SendResult(ok=False, error=error, permanent=True)
        try:
            url = hipchat_url(senders.settings.hipchat_base_url, str(room))
        except NotOneSegment as exc:  # stored before validation refused it: never climb out of the base
            return SendResult(ok=False, error=str(exc), permanent=True)
        headers = {"Authorization": f"Bearer {token}"}
        return await post_json(senders, url, hipchat_message(outgoing), headers=headers)
