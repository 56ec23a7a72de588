"""The administration commands: users, organizations, teams, repositories, permissions, tokens
and event sources (with the settings to paste into each kind of sender, and GitHub's webhook
secret), each written in one transaction on the configured database."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Annotated, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify import accounts
from regnotify.accounts import AccountError, Role
from regnotify.accounts.tokens import describe_scope, set_webhook_secret
from regnotify.app import NotMigrated, open_database
from regnotify.cli.source_settings import NewSource, sender_settings
from regnotify.config import Settings
from regnotify.db.models import User
from regnotify.runtime.crypto import secret_box

T = TypeVar("T")

user_app = typer.Typer(help="Users.", no_args_is_help=True)
org_app = typer.Typer(help="Organizations.", no_args_is_help=True)
team_app = typer.Typer(help="Teams of an organization.", no_args_is_help=True)
repo_app = typer.Typer(help="Repositories.", no_args_is_help=True)
permission_app = typer.Typer(help="Repository permissions.", no_args_is_help=True)
token_app = typer.Typer(help="API bearer tokens.", no_args_is_help=True)
source_app = typer.Typer(help="Event sources: registries and CI jobs.", no_args_is_help=True)


def fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one write transaction on the configured database; errors exit with a message."""

    async def run() -> T:
        db = await open_database(Settings())
        try:
            async with db.write() as session:
                return await work(session)
        finally:
            await db.dispose()

    try:
        return asyncio.run(run())
    except (AccountError, NotMigrated) as exc:
        fail(str(exc))
        raise AssertionError("unreachable") from exc


async def _user(session: AsyncSession, username: str) -> User:
    user = await accounts.find_user(session, username)
    if user is None:
        raise accounts.NotFound(f"no user named {username!r}")
    return user


@user_app.command("create")
def user_create(
    username: str,
    email: Annotated[str | None, typer.Option(help="E-mail address")] = None,
    superuser: Annotated[bool, typer.Option("--superuser", help="Administer everything")] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input")
    ] = False,
    no_password: Annotated[
        bool, typer.Option("--no-password", help="No password: the user signs in with tokens only")
    ] = False,
) -> None:
    """Create a user (and so a namespace of the same name)."""
    password: str | None = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif not no_password:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def work(session: AsyncSession) -> None:
        await accounts.create_user(session, username, password=password, email=email, superuser=superuser)

    in_transaction(work)
    typer.echo(f"created {'superuser' if superuser else 'user'} {username}")


@org_app.command("create")
def org_create(
    name: str,
    admin: Annotated[list[str] | None, typer.Option(help="User to put in the owners (admin) team")] = None,
) -> None:
    """Create an organization; --admin users form its ``owners`` team."""

    async def work(session: AsyncSession) -> None:
        admins = [await _user(session, username) for username in admin or []]
        await accounts.create_organization(session, name, admins=admins)

    in_transaction(work)
    typer.echo(f"created organization {name}")


@team_app.command("create")
def team_create(
    org: str,
    team: str,
    role: Annotated[
        str, typer.Option(help="member, or admin to administer the whole organization")
    ] = "member",
) -> None:
    """Create a team in an organization."""

    async def work(session: AsyncSession) -> None:
        await accounts.create_team(session, org, team, role=role)

    in_transaction(work)
    typer.echo(f"created team {org}/{team} ({role})")


@team_app.command("add-member")
def team_add_member(org: str, team: str, username: str) -> None:
    """Add a user to a team."""

    async def work(session: AsyncSession) -> None:
        found = await accounts.find_team(session, org, team)
        if found is None:
            raise accounts.NotFound(f"no team {team!r} in organization {org!r}")
        await accounts.add_team_member(session, found, await _user(session, username))

    in_transaction(work)
    typer.echo(f"added {username} to {org}/{team}")


@repo_app.command("create")
def repo_create(
    repository: Annotated[str, typer.Argument(help="namespace/name")],
    public: Annotated[bool, typer.Option("--public", help="Anyone may read it")] = False,
) -> None:
    """Create a repository under an existing user's or organization's namespace."""

    async def work(session: AsyncSession) -> None:
        await accounts.create_repository(session, repository, visibility="public" if public else "private")

    in_transaction(work)
    typer.echo(f"created repository {repository}")


@permission_app.command("grant")
def permission_grant(
    repository: Annotated[str, typer.Argument(help="namespace/name")],
    role: Annotated[str, typer.Argument(help="read, write or admin")],
    user: Annotated[str | None, typer.Option(help="Grant to this user")] = None,
    team: Annotated[
        str | None, typer.Option(help="Grant to this team of the repository's organization")
    ] = None,
) -> None:
    """Give a user or a team read, write or admin on a repository."""
    if (user is None) == (team is None):
        fail("give exactly one of --user or --team")

    async def work(session: AsyncSession) -> None:
        try:
            parsed = Role.parse(role)
        except ValueError as exc:
            raise accounts.InvalidName(str(exc)) from None
        repo = await accounts.find_repository(session, repository)
        if repo is None:
            raise accounts.NotFound(f"no repository {repository}")
        if user is not None:
            await accounts.grant(session, repo, parsed, user=await _user(session, user))
        else:
            found = await accounts.find_team(session, repo.namespace, team or "")
            if found is None:
                raise accounts.NotFound(f"no team {team!r} in organization {repo.namespace!r}")
            await accounts.grant(session, repo, parsed, team=found)

    in_transaction(work)
    typer.echo(f"granted {role} on {repository} to {'user ' + user if user else 'team ' + str(team)}")


NamespaceOption = Annotated[
    list[str] | None,
    typer.Option(
        "--namespace",
        help="A namespace the source may post to (repeat for several); its events elsewhere are refused",
    ),
]
AllNamespacesOption = Annotated[
    bool,
    typer.Option(
        "--all-namespaces",
        help="The source may post to every namespace, and create new ones (SOURCE_MAX_NEW_NAMESPACES)",
    ),
]


def source_scope(namespace: list[str] | None, all_namespaces: bool) -> list[str] | None:
    """The namespaces a source token may post to (None: every one); exactly one option is required."""
    if bool(namespace) == all_namespaces:
        fail("say where the source may post: give --namespace NS (repeat it) or --all-namespaces, not both")
    return None if all_namespaces else namespace


@token_app.command("create")
def token_create(
    user: Annotated[str | None, typer.Option(help="The user the token acts as")] = None,
    service: Annotated[
        str | None, typer.Option(help="Name of a service token, which may only post events")
    ] = None,
    name: Annotated[str, typer.Option(help="A label for the token")] = "cli",
    namespace: NamespaceOption = None,
    all_namespaces: AllNamespacesOption = False,
) -> None:
    """Create a bearer token and print it once; only its hash is kept. A service token needs
    --namespace (repeatable) or --all-namespaces, as ``source create``."""
    if (user is None) == (service is None):
        fail("give exactly one of --user or --service")
    if user is not None and (namespace or all_namespaces):
        fail("--namespace and --all-namespaces are for --service tokens; a user's acts with the user's roles")
    scope = None if user is not None else source_scope(namespace, all_namespaces)

    async def work(session: AsyncSession) -> accounts.IssuedToken:
        if user is not None:
            return await accounts.issue_token(session, name=name, user=await _user(session, user))
        return await accounts.issue_token(session, name=service or name, namespaces=scope)

    issued = in_transaction(work)
    typer.echo(issued.secret)
    scope_note = "" if user is not None else f"; it may post to {describe_scope(issued.namespaces)}"
    typer.echo(f"token {issued.id} ({issued.kind}): shown once, store it now{scope_note}", err=True)


class SourceKind(StrEnum):
    """The sender a source is made for: what ``source create`` prints to paste into it."""

    distribution = "distribution"
    harbor = "harbor"
    zot = "zot"
    cloudevents = "cloudevents"
    dockerhub = "dockerhub"
    github = "github"


@source_app.command("create")
def source_create(
    name: str,
    namespace: NamespaceOption = None,
    all_namespaces: AllNamespacesOption = False,
    kind: Annotated[
        SourceKind,
        typer.Option(
            help="The sender, for the settings printed to paste into it; github also makes the webhook "
            "secret GitHub signs with"
        ),
    ] = SourceKind.distribution,
) -> None:
    """Create a source token for a registry (or CI job) and print it once, then (on standard error)
    the settings to paste into the sender. Say where it may post: --namespace NS (repeat it), or
    --all-namespaces."""
    scope = source_scope(namespace, all_namespaces)
    settings = Settings()
    box = secret_box(settings) if kind is SourceKind.github else None

    async def work(session: AsyncSession) -> tuple[accounts.IssuedToken, str | None]:
        issued = await accounts.issue_token(session, name=name, namespaces=scope)
        secret = None if box is None else await set_webhook_secret(session, issued.id, box)
        return issued, secret

    issued, secret = in_transaction(work)
    typer.echo(issued.secret)
    where = f"source {name} (token {issued.id}) may post to {describe_scope(issued.namespaces)}: shown once; "
    if kind is SourceKind.distribution:
        where += "put it in the registry's endpoint headers as Authorization: [Bearer <token>]"
    else:
        where += "paste the settings below into the sender"
    typer.echo(where, err=True)
    source = NewSource(settings.base_url, issued.secret, issued.id, webhook_secret=secret)
    typer.echo("\n" + sender_settings(kind.value, source), err=True)


@source_app.command("github-secret")
def source_github_secret(
    source_id: Annotated[int, typer.Argument(help="The source's number, printed by source create")],
    secret_stdin: Annotated[
        bool,
        typer.Option(
            "--secret-stdin", help="Read the secret from standard input (e.g. one GitHub already has)"
        ),
    ] = False,
) -> None:
    """Give a source a new GitHub webhook secret and print it once (a generated one, or set the one
    read with --secret-stdin). GitHub's deliveries signed with the old secret are refused from now
    on: paste the new one into the webhook's Secret field."""
    given = sys.stdin.readline().rstrip("\n") if secret_stdin else None
    settings = Settings()
    box = secret_box(settings)

    async def work(session: AsyncSession) -> str:
        return await set_webhook_secret(session, source_id, box, given)

    secret = in_transaction(work)
    url = f"{settings.base_url}/api/v1/sources/github/{source_id}"
    if given is None:
        typer.echo(secret)
        typer.echo(
            f"source {source_id}: its new GitHub webhook secret, shown once; paste it into the Secret "
            f"field of the webhook whose Payload URL is {url}",
            err=True,
        )
    else:
        typer.echo(
            f"source {source_id}: GitHub webhook secret set; the webhook's Payload URL is {url}", err=True
        )


@token_app.command("revoke")
def token_revoke(token_id: int) -> None:
    """Revoke a token by the number printed when it was created."""

    async def work(session: AsyncSession) -> bool:
        return await accounts.revoke_token(session, token_id)

    if not in_transaction(work):
        fail(f"no live token {token_id}")
    typer.echo(f"revoked token {token_id}")
