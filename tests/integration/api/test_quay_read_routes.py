"""Quay's read routes that Quay automation calls first: the signed-in user, organizations, repositories,
the entity search and robots. Shapes, and who learns what: nothing about another namespace leaks."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from regnotify import accounts
from regnotify.accounts import Role
from regnotify.api.avatars import PALETTE, avatar
from regnotify.db import Database

from .conftest import World
from .test_notifications_api import assert_quay_error

WHOAMI = "/api/v1/user/"
ORG = "/api/v1/organization"
REPO = "/api/v1/repository"
ENTITIES = "/api/v1/entities"

WHOAMI_KEYS = {
    "anonymous",
    "username",
    "avatar",
    "can_create_repo",
    "is_me",
    "verified",
    "email",
    "logins",
    "invoice_email",
    "invoice_email_address",
    "preferred_namespace",
    "tag_expiration_s",
    "prompts",
    "company",
    "family_name",
    "given_name",
    "location",
    "is_free_account",
    "has_password_set",
    "organizations",
    "super_user",
}
REPOSITORY_KEYS = {
    "namespace",
    "name",
    "kind",
    "description",
    "is_public",
    "is_organization",
    "is_starred",
    "status_token",
    "trust_enabled",
    "tag_expiration_s",
    "state",
    "is_free_account",
    "can_write",
    "can_admin",
}


@pytest.fixture
async def people(world: World, database: Database) -> World:
    """On top of ``world``: teams in ``acme`` (reader in ``devs``), another organization ``globex``
    with a private repository and a team, a user ``pat`` in both, and ``pubco`` with a public repository.

    acme's teams by id: owners (admin: org_admin), devs (reader, pat; read on app, write on other),
    ops (read on app), audit (nobody, nothing).
    """
    async with database.write() as s:
        reader = await accounts.find_user(s, "reader")
        assert reader is not None
        pat = await accounts.create_user(s, "pat", password="correct horse", email="pat@example.com")
        gadmin = await accounts.create_user(s, "gadmin")
        gmember = await accounts.create_user(s, "gmember")
        app = await accounts.find_repository(s, "acme/app")
        other = await accounts.find_repository(s, "acme/other")
        assert app is not None and other is not None
        devs = await accounts.create_team(s, "acme", "devs")
        ops = await accounts.create_team(s, "acme", "ops")
        await accounts.create_team(s, "acme", "audit")
        await accounts.add_team_member(s, devs, reader)
        await accounts.add_team_member(s, devs, pat)
        await accounts.grant(s, app, Role.READ, team=devs)
        await accounts.grant(s, other, Role.WRITE, team=devs)
        await accounts.grant(s, app, Role.READ, team=ops)
        await accounts.create_organization(s, "globex", admins=[gadmin])
        secret = await accounts.create_team(s, "globex", "secret-team")
        await accounts.add_team_member(s, secret, gmember)
        await accounts.add_team_member(s, secret, pat)
        await accounts.create_repository(s, "globex/private")
        await accounts.create_organization(s, "pubco")
        await accounts.create_repository(s, "pubco/public", visibility="public")
        await accounts.create_repository(s, "acme/team/app")
        await accounts.create_repository(s, "reader/own")
        for user in (pat, gadmin, gmember):
            world.tokens[user.username] = (await accounts.issue_token(s, name="t", user=user)).secret
    return world


async def get(client: httpx.AsyncClient, world: World, path: str, who: str) -> httpx.Response:
    return await client.get(path, headers=world.headers(who))


async def ok(client: httpx.AsyncClient, world: World, path: str, who: str) -> Any:
    response = await get(client, world, path, who)
    assert response.status_code == 200, (who, path, response.text)
    return response.json()


def names(results: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(entry["kind"], entry["name"]) for entry in results]


# --- avatars


def test_avatar_is_the_md5_of_the_name_with_a_palette_colour() -> None:
    for name, kind in (("acme", "org"), ("reader", "user"), ("devs", "team")):
        view = avatar(name, kind)  # type: ignore[arg-type]
        digest = hashlib.md5(name.encode(), usedforsecurity=False).hexdigest()
        assert view == {"name": name, "hash": digest, "color": view["color"], "kind": kind}
        assert view["color"] in PALETTE
    assert len(PALETTE) == 10 and len(set(PALETTE)) == 10
    assert avatar("acme", "org") == avatar("acme", "org")


# --- GET /user/


async def test_whoami_shape_for_a_team_member(client: httpx.AsyncClient, people: World) -> None:
    me = await ok(client, people, WHOAMI, "reader")
    assert set(me) == WHOAMI_KEYS
    assert me["username"] == "reader" and me["anonymous"] is False and me["is_me"] is True
    assert me["avatar"] == avatar("reader", "user")
    assert me["email"] is None and me["has_password_set"] is False and me["super_user"] is False
    assert (me["logins"], me["prompts"], me["can_create_repo"]) == ([], [], True)
    assert me["organizations"] == [
        {
            "name": "acme",
            "avatar": avatar("acme", "org"),
            "can_create_repo": False,
            "public": False,
            "is_org_admin": False,
            "preferred_namespace": False,
        }
    ]


async def test_whoami_lists_organizations_by_name_with_admin_flags(
    client: httpx.AsyncClient, people: World
) -> None:
    pat = await ok(client, people, WHOAMI, "pat")
    assert [o["name"] for o in pat["organizations"]] == ["acme", "globex"]
    assert pat["email"] == "pat@example.com" and pat["has_password_set"] is True
    assert not any(o["is_org_admin"] for o in pat["organizations"])
    admin = await ok(client, people, WHOAMI, "org_admin")
    assert [(o["name"], o["is_org_admin"], o["can_create_repo"]) for o in admin["organizations"]] == [
        ("acme", True, True)
    ]
    gadmin = await ok(client, people, WHOAMI, "gadmin")
    assert [o["name"] for o in gadmin["organizations"]] == ["globex"]


async def test_whoami_lists_no_organization_reached_only_through_grants(
    client: httpx.AsyncClient, people: World
) -> None:
    for who in ("writer", "noaccess", "other_admin"):
        assert (await ok(client, people, WHOAMI, who))["organizations"] == [], who
    superuser = await ok(client, people, WHOAMI, "superuser")
    assert superuser["super_user"] is True and superuser["organizations"] == []


async def test_whoami_without_trailing_slash(client: httpx.AsyncClient, people: World) -> None:
    assert (await ok(client, people, "/api/v1/user", "writer"))["username"] == "writer"


async def test_whoami_refuses_anonymous_service_and_revoked(client: httpx.AsyncClient, people: World) -> None:
    anonymous = await get(client, people, WHOAMI, "anonymous")
    assert_quay_error(anonymous, 401)
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert_quay_error(
        await get(client, people, WHOAMI, "service"), 403, "service tokens", "use a user's token"
    )
    assert_quay_error(await get(client, people, WHOAMI, "revoked"), 401)


# --- GET /organization/{orgname}


async def test_organization_for_an_admin_shows_every_team(client: httpx.AsyncClient, people: World) -> None:
    org = await ok(client, people, f"{ORG}/acme", "org_admin")
    assert set(org) == {"name", "email", "avatar", "is_admin", "is_member", "teams", "ordered_teams"}
    assert (org["name"], org["email"], org["is_admin"], org["is_member"]) == ("acme", "", True, True)
    assert org["avatar"] == avatar("acme", "org")
    assert org["ordered_teams"] == ["owners", "devs", "ops", "audit"]
    assert list(org["teams"]) == ["owners", "devs", "ops", "audit"]
    assert org["teams"]["devs"] == {
        "name": "devs",
        "description": "",
        "role": "member",
        "avatar": avatar("devs", "team"),
        "can_view": True,
        "repo_count": 2,
        "member_count": 2,
        "is_synced": False,
    }
    counts = {name: (t["role"], t["member_count"], t["repo_count"]) for name, t in org["teams"].items()}
    assert counts == {
        "owners": ("admin", 1, 0),
        "devs": ("member", 2, 2),
        "ops": ("member", 0, 1),
        "audit": ("member", 0, 0),
    }
    assert all(team["can_view"] for team in org["teams"].values())


async def test_organization_for_a_member_views_only_their_teams(
    client: httpx.AsyncClient, people: World
) -> None:
    org = await ok(client, people, f"{ORG}/acme", "reader")
    assert (org["is_admin"], org["is_member"]) == (False, True)
    assert org["ordered_teams"] == ["owners", "devs", "ops", "audit"]
    assert {name: team["can_view"] for name, team in org["teams"].items()} == {
        "owners": False,
        "devs": True,
        "ops": False,
        "audit": False,
    }


async def test_organization_for_a_superuser(client: httpx.AsyncClient, people: World) -> None:
    org = await ok(client, people, f"{ORG}/globex", "superuser")
    assert (org["is_admin"], org["is_member"]) == (True, False)
    assert org["ordered_teams"] == ["owners", "secret-team"]
    assert all(team["can_view"] for team in org["teams"].values())


@pytest.mark.parametrize("who", ["writer", "admin", "other_admin"])
async def test_organization_for_repository_readers_has_no_teams(
    client: httpx.AsyncClient, people: World, who: str
) -> None:
    org = await ok(client, people, f"{ORG}/acme", who)
    assert org == {
        "name": "acme",
        "email": "",
        "avatar": avatar("acme", "org"),
        "is_admin": False,
        "is_member": False,
    }


async def test_a_public_repository_shows_its_organization_without_teams(
    client: httpx.AsyncClient, people: World
) -> None:
    org = await ok(client, people, f"{ORG}/pubco", "noaccess")
    assert org["name"] == "pubco" and "teams" not in org and org["is_member"] is False


@pytest.mark.parametrize(
    ("who", "orgname"), [("noaccess", "acme"), ("reader", "globex"), ("gmember", "acme")]
)
async def test_a_hidden_organization_is_answered_like_a_missing_one(
    client: httpx.AsyncClient, people: World, who: str, orgname: str
) -> None:
    hidden = await get(client, people, f"{ORG}/{orgname}", who)
    missing = await get(client, people, f"{ORG}/ghost", who)
    assert_quay_error(hidden, 404, f"no organization {orgname}")
    assert_quay_error(missing, 404, "no organization ghost")
    assert hidden.json() == {
        key: value.replace("ghost", orgname) if isinstance(value, str) else value
        for key, value in missing.json().items()
    }
    assert "secret-team" not in hidden.text


async def test_organization_names_no_database_can_hold_are_missing(
    client: httpx.AsyncClient, people: World
) -> None:
    for name in ("ACME", "x" * 300, "acme..x"):
        assert_quay_error(await get(client, people, f"{ORG}/{name}", "superuser"), 404, "no organization")
    # a NUL is refused before any route, on every engine
    assert_quay_error(
        await get(client, people, f"{ORG}/a%00b", "superuser"), 400, "NUL characters are not allowed"
    )
    assert_quay_error(await get(client, people, f"{ORG}/ghost", "superuser"), 404, "no organization ghost")


async def test_organization_refuses_anonymous_and_service(client: httpx.AsyncClient, people: World) -> None:
    anonymous = await get(client, people, f"{ORG}/acme", "anonymous")
    assert_quay_error(anonymous, 401)
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert_quay_error(await get(client, people, f"{ORG}/acme", "service"), 403, "use a user's token")


# --- GET /repository/{repository}


async def test_repository_shape_and_the_callers_powers(client: httpx.AsyncClient, people: World) -> None:
    view = await ok(client, people, f"{REPO}/acme/app", "reader")
    assert set(view) == REPOSITORY_KEYS
    assert view == {
        "namespace": "acme",
        "name": "app",
        "kind": "image",
        "description": "",
        "is_public": False,
        "is_organization": True,
        "is_starred": False,
        "status_token": "",
        "trust_enabled": False,
        "tag_expiration_s": None,
        "state": "NORMAL",
        "is_free_account": True,
        "can_write": False,
        "can_admin": False,
    }
    powers = {
        who: (view["can_write"], view["can_admin"])
        for who in ("reader", "writer", "admin", "org_admin", "superuser")
        for view in [await ok(client, people, f"{REPO}/acme/app", who)]
    }
    assert powers == {
        "reader": (False, False),
        "writer": (True, False),
        "admin": (True, True),
        "org_admin": (True, True),
        "superuser": (True, True),
    }
    # reader's team devs holds write on acme/other
    other = await ok(client, people, f"{REPO}/acme/other", "reader")
    assert (other["can_write"], other["can_admin"]) == (True, False)


async def test_repository_of_a_user_and_nested_names(client: httpx.AsyncClient, people: World) -> None:
    own = await ok(client, people, f"{REPO}/reader/own", "reader")
    assert (own["namespace"], own["name"], own["is_organization"], own["can_admin"]) == (
        "reader",
        "own",
        False,
        True,
    )
    nested = await ok(client, people, f"{REPO}/acme/team/app", "org_admin")
    assert (nested["namespace"], nested["name"]) == ("acme", "team/app")


async def test_public_repository_for_anonymous_callers(client: httpx.AsyncClient, people: World) -> None:
    view = await ok(client, people, f"{REPO}/pubco/public", "anonymous")
    assert (view["is_public"], view["can_write"], view["can_admin"]) == (True, False, False)
    assert (await ok(client, people, f"{REPO}/pubco/public", "noaccess"))["is_public"] is True
    anonymous = await get(client, people, f"{REPO}/acme/app", "anonymous")
    assert_quay_error(anonymous, 401)
    assert anonymous.headers["www-authenticate"].startswith("Bearer")


async def test_repository_refusals(client: httpx.AsyncClient, people: World) -> None:
    for path in ("acme/app", "acme/ghost", "globex/private"):
        assert_quay_error(await get(client, people, f"{REPO}/{path}", "noaccess"), 403, "read permission")
    assert_quay_error(await get(client, people, f"{REPO}/globex/private", "pat"), 403)
    assert_quay_error(await get(client, people, f"{REPO}/acme/ghost", "superuser"), 404)
    assert_quay_error(await get(client, people, f"{REPO}/acme/app", "service"), 403, "use a user's token")
    assert_quay_error(await get(client, people, f"{REPO}/ACME/App", "superuser"), 400, "invalid repository")


async def test_repository_route_shadows_no_other_route(client: httpx.AsyncClient, people: World) -> None:
    events = await ok(client, people, f"{REPO}/acme/app/events", "reader")
    assert set(events) == {"events"}
    notifications = await ok(client, people, f"{REPO}/acme/app/notification/", "admin")
    assert set(notifications) == {"notifications"}
    logs = await ok(client, people, f"{REPO}/acme/app/notification/logs", "admin")
    assert "kind" not in logs and "can_admin" not in logs
    builds = await ok(client, people, f"{REPO}/acme/app/builds", "reader")
    assert "can_admin" not in builds
    email = await get(client, people, f"{REPO}/acme/app/authorizedemail/ops@example.com", "admin")
    assert email.status_code == 200 and "can_admin" not in email.json()
    assert (await client.put(f"{REPO}/acme/app", headers=people.headers("admin"))).status_code == 405


# --- GET /entities/{prefix}


def entities(prefix: str, namespace: str | None = None, **flags: str) -> str:
    query = {} if namespace is None else {"namespace": namespace}
    query.update(flags)
    return str(httpx.URL(f"{ENTITIES}/{quote(prefix, safe='')}", params=query))


async def search(client: httpx.AsyncClient, world: World, who: str, *args: Any, **flags: str) -> Any:
    return (await ok(client, world, entities(*args, **flags), who))["results"]


BOTH = {"includeTeams": "true", "includeOrgs": "true"}


async def test_entities_for_an_org_admin_lists_teams_then_users_then_the_org(
    client: httpx.AsyncClient, people: World
) -> None:
    results = await search(client, people, "org_admin", "a", "acme", **BOTH)
    assert results == [
        {"name": "audit", "kind": "team", "is_org_member": True, "avatar": avatar("audit", "team")},
        {
            "name": "admin",
            "kind": "user",
            "is_robot": False,
            "avatar": avatar("admin", "user"),
            "is_org_member": False,
        },
        {"name": "acme", "kind": "org", "is_org_member": True, "avatar": avatar("acme", "org")},
    ]
    results = await search(client, people, "org_admin", "o", "acme", **BOTH)
    assert names(results) == [
        ("team", "ops"),
        ("team", "owners"),
        ("user", "org_admin"),
        ("user", "other_admin"),
    ]  # acme does not start with "o"
    assert [r.get("is_org_member") for r in results] == [True, True, True, False]


async def test_entities_for_a_member_lists_teams_but_not_the_org(
    client: httpx.AsyncClient, people: World
) -> None:
    assert names(await search(client, people, "reader", "a", "acme", **BOTH)) == [
        ("team", "audit"),
        ("user", "admin"),
    ]
    results = await search(client, people, "gmember", "g", "globex", **BOTH)
    assert names(results) == [("user", "gadmin"), ("user", "gmember")]
    assert all(r["is_org_member"] is True for r in results)


async def test_entities_for_a_superuser_lists_any_organizations_teams(
    client: httpx.AsyncClient, people: World
) -> None:
    results = await search(client, people, "superuser", "s", "globex", **BOTH)
    assert names(results) == [("team", "secret-team"), ("user", "superuser")]
    assert results[1]["is_org_member"] is False
    assert names(await search(client, people, "superuser", "g", "globex", **BOTH)) == [
        ("user", "gadmin"),
        ("user", "gmember"),
        ("org", "globex"),
    ]


@pytest.mark.parametrize(
    ("who", "namespace"), [("writer", "acme"), ("reader", "globex"), ("noaccess", "acme")]
)
async def test_entities_tell_nothing_about_an_organization_the_caller_cannot_see(
    client: httpx.AsyncClient, people: World, who: str, namespace: str
) -> None:
    """Readers of its repositories, members of other organizations, outsiders: the answer is the
    one for a namespace that does not exist, without teams, the org or anyone's membership."""
    for prefix in ("a", "s", "o", "g"):
        seen = await search(client, people, who, prefix, namespace, **BOTH)
        assert seen == await search(client, people, who, prefix, "ghost", **BOTH)
        assert seen == await search(client, people, who, prefix)
        assert all(entry["kind"] == "user" and "is_org_member" not in entry for entry in seen)
    assert "secret-team" not in (await get(client, people, entities("s", namespace, **BOTH), who)).text


@pytest.mark.parametrize(
    ("value", "teams"),
    [
        ("true", True),
        ("True", True),
        ("1", True),
        ("yes", True),
        ("false", False),
        ("False", False),
        ("FALSE", False),
        ("0", False),
        ("", False),
        (None, False),
    ],
)
async def test_entities_read_flags_as_quay_does(
    client: httpx.AsyncClient, people: World, value: str | None, teams: bool
) -> None:
    flags = {} if value is None else {"includeTeams": value, "includeOrgs": value}
    found = names(await search(client, people, "org_admin", "a", "acme", **flags))
    expected = [("team", "audit"), ("user", "admin"), ("org", "acme")] if teams else [("user", "admin")]
    assert found == expected


async def test_entities_prefix_is_normalised_and_its_wildcards_are_literal(
    client: httpx.AsyncClient, people: World, database: Database
) -> None:
    async with database.write() as s:
        await accounts.create_user(s, "orgxadmin")
        for number in range(12):
            await accounts.create_user(s, f"bulk{number:02d}")
    assert names(await search(client, people, "writer", "R E")) == [("user", "reader")]
    assert names(await search(client, people, "writer", "READ")) == [("user", "reader")]
    assert names(await search(client, people, "writer", "org_")) == [("user", "org_admin")]
    assert names(await search(client, people, "writer", "orgx")) == [("user", "orgxadmin")]
    for prefix in ("%", "a%", "\\", "*", "ä"):
        assert await search(client, people, "writer", prefix) == [], prefix
    for url in (entities("a\x00"), entities("reader", "a\x00b", **BOTH)):
        assert_quay_error(await get(client, people, url, "writer"), 400, "NUL characters are not allowed")
    bulk = await search(client, people, "writer", "bulk")
    assert [r["name"] for r in bulk] == [f"bulk{n:02d}" for n in range(10)]


async def test_entities_prefix_length_limit(client: httpx.AsyncClient, people: World) -> None:
    assert await search(client, people, "writer", "a" * 255) == []
    assert_quay_error(await get(client, people, entities("a" * 256), "writer"), 400, "255 characters")


async def test_entities_refuse_anonymous_and_service(client: httpx.AsyncClient, people: World) -> None:
    anonymous = await get(client, people, entities("a", "acme", **BOTH), "anonymous")
    assert_quay_error(anonymous, 401)
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    service = await get(client, people, entities("a", "acme", **BOTH), "service")
    assert_quay_error(service, 403, "use a user's token")


# --- robots


async def test_there_are_no_robots(client: httpx.AsyncClient, people: World) -> None:
    assert_quay_error(
        await get(client, people, "/api/v1/user/robots/builder", "reader"),
        404,
        "no robot account reader+builder: regnotify has no robot accounts",
    )
    hidden = await get(client, people, f"{ORG}/globex/robots/builder", "reader")
    assert_quay_error(hidden, 404, "no robot account globex+builder: regnotify has no robot accounts")
    missing = await get(client, people, f"{ORG}/ghost/robots/builder", "reader")
    assert_quay_error(missing, 404, "no robot account ghost+builder")
    own = await get(client, people, f"{ORG}/acme/robots/builder", "org_admin")
    assert_quay_error(own, 404, "no robot account acme+builder")
    for path in ("/api/v1/user/robots/builder", f"{ORG}/acme/robots/builder"):
        anonymous = await get(client, people, path, "anonymous")
        assert_quay_error(anonymous, 401)
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        assert_quay_error(await get(client, people, path, "service"), 403, "use a user's token")
        assert_quay_error(await get(client, people, path, "revoked"), 401)
