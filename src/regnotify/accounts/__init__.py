"""Accounts: users, organizations, teams, repositories, grants, API tokens, and permission checks."""

from regnotify.accounts.directory import (
    add_team_member,
    create_organization,
    create_repository,
    create_team,
    create_user,
    find_organization,
    find_repository,
    find_team,
    find_user,
    grant,
)
from regnotify.accounts.errors import AccountError, AlreadyExists, InvalidName, NotFound
from regnotify.accounts.names import split_repository
from regnotify.accounts.passwords import hash_password, verify_password
from regnotify.accounts.permissions import (
    Role,
    is_organization_admin,
    organization_admins,
    repository_admins,
    team_role,
    user_role,
)
from regnotify.accounts.tokens import IssuedToken, find_token, issue_token, revoke_token

__all__ = [
    "AccountError",
    "AlreadyExists",
    "InvalidName",
    "IssuedToken",
    "NotFound",
    "Role",
    "add_team_member",
    "create_organization",
    "create_repository",
    "create_team",
    "create_user",
    "find_organization",
    "find_repository",
    "find_team",
    "find_token",
    "find_user",
    "grant",
    "hash_password",
    "is_organization_admin",
    "issue_token",
    "organization_admins",
    "repository_admins",
    "revoke_token",
    "split_repository",
    "team_role",
    "user_role",
    "verify_password",
]
