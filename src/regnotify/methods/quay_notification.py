"""The in-app method (Quay's ``quay_notification``): config is a target user, team or organization.

Unlike Quay, a target must be able to read the repository, so no notice leaks a private
repository's details to someone who could not see it (reference section 6, "Privacy").
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from regnotify.methods.base import (
    MethodConfigError,
    NotificationMethod,
    ValidationContext,
    describe,
    has_control_or_space,
    type_name,
)
from regnotify.methods.sending import Outgoing, Senders, SendResult

TARGET_KINDS = ("user", "team", "org")
MAX_NAME_LENGTH = 255


def _target_name(value: object) -> str:
    if value is None or value == "":
        raise MethodConfigError("Missing target name")
    if not isinstance(value, str):
        raise MethodConfigError(f"target name must be a string, not {type_name(value)}")
    name = value.strip()
    if not name:
        raise MethodConfigError("Missing target name")
    if len(name) > MAX_NAME_LENGTH:
        raise MethodConfigError(f"target name is too long: at most {MAX_NAME_LENGTH} characters")
    if has_control_or_space(name):
        raise MethodConfigError(f"target name {describe(name)} must not contain spaces or control characters")
    return name


class QuayNotificationMethod(NotificationMethod):
    """In-app notices for a user, the members of a team, or an organization."""

    name: ClassVar[str] = "quay_notification"
    title: ClassVar[str] = "Quay Notification"
    allowed_keys: ClassVar[tuple[str, ...]] = ("target",)
    secret_fields: ClassVar[tuple[str, ...]] = ()

    async def _validate(self, config: dict[str, Any], ctx: ValidationContext) -> dict[str, Any]:
        target = config.get("target")
        if target is None or target == {} or target == "":
            raise MethodConfigError("Missing target")
        if not isinstance(target, dict):
            raise MethodConfigError(
                f'target must be an object like {{"kind": "user", "name": "alice"}}, not {type_name(target)}'
            )
        # Quay's UI sends display keys too (is_robot, avatar, is_org): accepted and dropped.
        kind = target.get("kind")
        if kind is None or kind == "":
            raise MethodConfigError("Missing target kind: use user, team or org")
        if not isinstance(kind, str) or kind not in TARGET_KINDS:
            raise MethodConfigError(f"Unknown target kind {describe(kind)}: use user, team or org")
        name = _target_name(target.get("name"))
        if kind == "user":
            await self._check_user(name, target, ctx)
        elif kind == "team":
            await self._check_team(name, ctx)
        else:
            await self._check_org(name, ctx)
        return {"target": {"kind": kind, "name": name}}

    async def _check_user(self, name: str, target: dict[str, Any], ctx: ValidationContext) -> None:
        if target.get("is_robot") is True or "+" in name:
            raise MethodConfigError(f"{name} is a robot account; robots cannot receive notifications")
        allowed = await ctx.user_can_read(name)
        if allowed is None:
            raise MethodConfigError(f"Unknown user {name}")
        if allowed is not True:
            raise MethodConfigError(
                f"user {name} cannot read repository {ctx.repository}; grant read access first"
            )

    async def _check_team(self, name: str, ctx: ValidationContext) -> None:
        allowed = await ctx.team_can_read(name)
        if allowed is None:
            if not await ctx.namespace_is_organization():
                raise MethodConfigError(
                    f"{ctx.namespace} is not an organization, so it has no teams; use a user target"
                )
            raise MethodConfigError(f"Unknown team {name} in organization {ctx.namespace}")
        if allowed is not True:
            raise MethodConfigError(
                f"team {name} cannot read repository {ctx.repository}; grant the team read access first"
            )

    async def _check_org(self, name: str, ctx: ValidationContext) -> None:
        if name != ctx.namespace:
            raise MethodConfigError(
                f"organization target {name} must be this repository's namespace ({ctx.namespace})"
            )
        if not await ctx.namespace_is_organization():
            raise MethodConfigError(f"{ctx.namespace} is not an organization; use a user or team target")

    async def send(self, config: dict[str, Any], outgoing: Outgoing, senders: Senders) -> SendResult:
        """Write in-app notices for the target (only to users who can read the repository)."""
        target = config.get("target") or {}
        kind, name = str(target.get("kind", "")), str(target.get("name", ""))
        started = time.monotonic()
        count = await senders.inbox.notify(target_kind=kind, target_name=name, outgoing=outgoing)
        return SendResult(
            ok=True,
            response_excerpt=f"{count} in-app notice(s) for {kind} {name}",
            request={"target": {"kind": kind, "name": name}},
            duration_ms=(time.monotonic() - started) * 1000,
        )
