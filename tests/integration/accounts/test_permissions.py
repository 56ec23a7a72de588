"""Effective repository roles: owners, grants, teams, organization admins, superusers, public repos."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from regnotify import accounts
from regnotify.accounts import AlreadyExists, InvalidName, NotFound, Role
from regnotify.db import Database


async def test_roles_by_every_path(database: Database) -> None:
    async with database.write() as s:
        owner = await accounts.create_user(s, "owner", password="correct horse")
        reader = await accounts.create_user(s, "reader")
        writer = await accounts.create_user(s, "writer")
        teamed = await accounts.create_user(s, "teamed")
        org_admin = await accounts.create_user(s, "boss")
        root = await accounts.create_user(s, "root", superuser=True)
        stranger = await accounts.create_user(s, "stranger")
        await accounts.create_organization(s, "acme", admins=[org_admin])
        personal = await accounts.create_repository(s, "owner/tool")
        app = await accounts.create_repository(s, "acme/app")
        other = await accounts.create_repository(s, "acme/other")
        public = await accounts.create_repository(s, "acme/site", visibility="public")
        builders = await accounts.create_team(s, "acme", "builders")
        await accounts.add_team_member(s, builders, teamed)
        await accounts.grant(s, app, Role.READ, user=reader)
        await accounts.grant(s, app, Role.WRITE, user=writer)
        await accounts.grant(s, app, Role.WRITE, team=builders)

    async with database.read() as s:
        assert await accounts.user_role(s, owner, personal) == Role.ADMIN
        assert await accounts.user_role(s, stranger, personal) == Role.NONE
        assert await accounts.user_role(s, reader, app) == Role.READ
        assert await accounts.user_role(s, writer, app) == Role.WRITE
        assert await accounts.user_role(s, teamed, app) == Role.WRITE
        assert await accounts.user_role(s, teamed, other) == Role.NONE
        assert await accounts.user_role(s, org_admin, app) == Role.ADMIN
        assert await accounts.user_role(s, org_admin, other) == Role.ADMIN
        assert await accounts.user_role(s, org_admin, personal) == Role.NONE
        assert await accounts.user_role(s, root, personal) == Role.ADMIN
        assert await accounts.user_role(s, None, app) == Role.NONE
        assert await accounts.user_role(s, None, public) == Role.READ
        assert await accounts.user_role(s, stranger, public) == Role.READ
        assert await accounts.team_role(s, builders, app) == Role.WRITE
        assert await accounts.team_role(s, builders, other) == Role.NONE


async def test_grant_replaces_an_earlier_role(database: Database) -> None:
    async with database.write() as s:
        user = await accounts.create_user(s, "ann")
        await accounts.create_organization(s, "acme")
        repo = await accounts.create_repository(s, "acme/app")
        await accounts.grant(s, repo, Role.ADMIN, user=user)
        await accounts.grant(s, repo, Role.READ, user=user)
    async with database.read() as s:
        assert await accounts.user_role(s, user, repo) == Role.READ


async def test_names_and_conflicts(database: Database) -> None:
    async with database.write() as s:
        await accounts.create_user(s, "ann")
        with pytest.raises(AlreadyExists):
            await accounts.create_organization(s, "ann")
        with pytest.raises(InvalidName):
            await accounts.create_user(s, "Not_Valid!")
        with pytest.raises(NotFound, match="create it first"):
            await accounts.create_repository(s, "nobody/app")
        repo = await accounts.create_repository(s, "ann/team/app")
        assert (repo.namespace, repo.name) == ("ann", "team/app")
        with pytest.raises(AlreadyExists):
            await accounts.create_repository(s, "ann/team/app")
        with pytest.raises(InvalidName, match="password too short"):
            await accounts.create_user(s, "bob", password="short")


async def test_passwords_and_tokens(database: Database) -> None:
    async with database.write() as s:
        user = await accounts.create_user(s, "ann", password="correct horse")
        issued = await accounts.issue_token(s, name="laptop", user=user)
        service = await accounts.issue_token(s, name="ci")
    assert accounts.verify_password(user.password_hash, "correct horse")
    assert not accounts.verify_password(user.password_hash, "wrong horse")
    assert not accounts.verify_password(None, "anything")
    async with database.read() as s:
        found = await accounts.find_token(s, issued.secret)
        assert found is not None and found[1] is not None and found[1].username == "ann"
        found_service = await accounts.find_token(s, service.secret)
        assert found_service is not None and found_service[1] is None
        assert found_service[0].kind == "service"
        assert await accounts.find_token(s, issued.secret + "x") is None
    async with database.write() as s:
        assert await accounts.revoke_token(s, issued.id)
        assert not await accounts.revoke_token(s, issued.id)
    async with database.read() as s:
        assert await accounts.find_token(s, issued.secret) is None
        stored = list((await s.execute(text("SELECT token_hash FROM api_tokens"))).scalars())
    assert issued.secret not in stored and all(len(h) == 64 for h in stored)
