"""The Flowdock method (a dead service, kept for Quay compatibility): a flow API token."""

from __future__ import annotations

from typing import Any, ClassVar

from regnotify.methods.base import NotificationMethod, ValidationContext, check_token


class FlowdockMethod(NotificationMethod):
    """Flowdock team inbox message."""

    name: ClassVar[str] = "flowdock"
    title: ClassVar[str] = "Flowdock Team Notification"
    allowed_keys: ClassVar[tuple[str, ...]] = ("flow_api_token",)
    secret_fields: ClassVar[tuple[str, ...]] = ("flow_api_token",)

    async def _validate(self, config: dict[str, Any], ctx: ValidationContext) -> dict[str, Any]:
        return {"flow_api_token": check_token(config.get("flow_api_token"), "flow_api_token", self.name)}
