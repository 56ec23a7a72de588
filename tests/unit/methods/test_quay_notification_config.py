"""quay_notification targets: users, teams and the organization must exist and be able to read the repo."""

from __future__ import annotations

from typing import Any

import pytest

from regnotify.methods import METHODS, MethodConfigError

from .method_fakes import FakeContext, MakeContext

METHOD = METHODS["quay_notification"]


async def test_user_who_can_read_is_accepted(ctx: FakeContext) -> None:
    stored = await METHOD.validate({"target": {"kind": "user", "name": "alice"}}, ctx)
    assert stored == {"target": {"kind": "user", "name": "alice"}}


async def test_quay_ui_display_keys_are_dropped(ctx: FakeContext) -> None:
    target = {
        "name": " alice ",
        "kind": "user",
        "is_robot": False,
        "avatar": {"hash": "abc"},
        "is_org": False,
    }
    stored = await METHOD.validate({"target": target}, ctx)
    assert stored == {"target": {"kind": "user", "name": "alice"}}


async def test_unknown_user(ctx: FakeContext) -> None:
    with pytest.raises(MethodConfigError, match=r"^Unknown user mallory$"):
        await METHOD.validate({"target": {"kind": "user", "name": "mallory"}}, ctx)


async def test_user_without_read_access(ctx: FakeContext) -> None:
    with pytest.raises(MethodConfigError) as info:
        await METHOD.validate({"target": {"kind": "user", "name": "bob"}}, ctx)
    assert str(info.value) == "user bob cannot read repository acme/app; grant read access first"


@pytest.mark.parametrize(
    "target", [{"kind": "user", "name": "acme+bot"}, {"kind": "user", "name": "alice", "is_robot": True}]
)
async def test_robots_are_refused(target: dict[str, Any], ctx: FakeContext) -> None:
    with pytest.raises(MethodConfigError, match="robot"):
        await METHOD.validate({"target": target}, ctx)


async def test_team_that_can_read(ctx: FakeContext) -> None:
    stored = await METHOD.validate({"target": {"kind": "team", "name": "devs"}}, ctx)
    assert stored == {"target": {"kind": "team", "name": "devs"}}


async def test_unknown_team(ctx: FakeContext) -> None:
    with pytest.raises(MethodConfigError) as info:
        await METHOD.validate({"target": {"kind": "team", "name": "ghosts"}}, ctx)
    assert str(info.value) == "Unknown team ghosts in organization acme"


async def test_team_without_read_access(ctx: FakeContext) -> None:
    with pytest.raises(MethodConfigError, match="team outsiders cannot read repository acme/app"):
        await METHOD.validate({"target": {"kind": "team", "name": "outsiders"}}, ctx)


async def test_team_in_a_user_namespace(make_ctx: MakeContext) -> None:
    ctx = make_ctx(namespace="alice", repository="alice/app", is_org=False, teams={"devs": True})
    with pytest.raises(MethodConfigError, match="alice is not an organization"):
        await METHOD.validate({"target": {"kind": "team", "name": "devs"}}, ctx)


async def test_org_target_is_the_namespace(ctx: FakeContext) -> None:
    stored = await METHOD.validate({"target": {"kind": "org", "name": "acme", "is_org": True}}, ctx)
    assert stored == {"target": {"kind": "org", "name": "acme"}}


async def test_org_target_must_match_namespace(ctx: FakeContext) -> None:
    with pytest.raises(MethodConfigError) as info:
        await METHOD.validate({"target": {"kind": "org", "name": "other"}}, ctx)
    assert "other" in str(info.value)
    assert "namespace (acme)" in str(info.value)


async def test_org_target_needs_an_organization(make_ctx: MakeContext) -> None:
    ctx = make_ctx(namespace="alice", repository="alice/app", is_org=False)
    with pytest.raises(MethodConfigError, match="alice is not an organization"):
        await METHOD.validate({"target": {"kind": "org", "name": "alice"}}, ctx)


@pytest.mark.parametrize("config", [{}, None, {"target": None}, {"target": {}}, {"target": ""}])
async def test_missing_target(config: Any, ctx: FakeContext) -> None:
    with pytest.raises(MethodConfigError, match=r"^Missing target$"):
        await METHOD.validate(config, ctx)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("alice", "target must be an object"),
        (["user", "alice"], "target must be an object"),
        ({"name": "alice"}, "Missing target kind"),
        ({"kind": "robot", "name": "x"}, "Unknown target kind 'robot'"),
        ({"kind": "USER", "name": "alice"}, "Unknown target kind"),
        ({"kind": 1, "name": "alice"}, "Unknown target kind 1"),
        ({"kind": ["user"], "name": "alice"}, "Unknown target kind"),
        ({"kind": "user"}, "Missing target name"),
        ({"kind": "user", "name": "  "}, "Missing target name"),
        ({"kind": "user", "name": 5}, "target name must be a string"),
        ({"kind": "user", "name": "a" * 256}, "too long"),
        ({"kind": "user", "name": "al ice"}, "spaces"),
        ({"kind": "user", "name": "al\x00ice"}, "control"),
    ],
)
async def test_bad_targets(target: Any, message: str, ctx: FakeContext) -> None:
    with pytest.raises(MethodConfigError, match=message):
        await METHOD.validate({"target": target}, ctx)


async def test_no_secrets_so_mask_and_seal_change_nothing(ctx: FakeContext) -> None:
    stored = await METHOD.validate({"target": {"kind": "team", "name": "devs"}}, ctx)
    assert METHOD.mask(stored) == stored
