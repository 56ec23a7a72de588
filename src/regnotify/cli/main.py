"""The ``regnotify`` command: serve, migrate, and the administration commands an operator needs."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify import accounts
from regnotify.accounts import AccountError, Role
from regnotify.accounts.tokens import describe_scope
from regnotify.app import NotMigrated, open_database
from regnotify.config import Settings
from regnotify.db.models import User
from regnotify.runtime.heap import freeze_startup_objects
from regnotify.runtime.logs import configure_logging, uvicorn_log_config

T = TypeVar("T")

app = typer.Typer(
    help="Quay-style repository notifications for any container registry.", no_args_is_help=True
)
user_app = typer.Typer(help="Users.", no_args_is_help=True)
org_app = typer.Typer(help="Organizations.", no_args_is_help=True)
team_app = typer.Typer(help="Teams of an organization.", no_args_is_help=True)
repo_app = typer.Typer(help="Repositories.", no_args_is_help=True)
permission_app = typer.Typer(help="Repository permissions.", no_args_is_help=True)
token_app = typer.Typer(help="API bearer tokens.", no_args_is_help=True)
source_app = typer.Typer(help="Event sources: registries and CI jobs.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(org_app, name="org")
app.add_typer(team_app, name="team")
app.add_typer(repo_app, name="repo")
app.add_typer(permission_app, name="permission")
app.add_typer(token_app, name="token")
app.add_typer(source_app, name="source")


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


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (REGNOTIFY_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (REGNOTIFY_PORT)")] = None,
    worker: Annotated[
        bool,
        typer.Option(
            "--worker/--no-worker",
            help="Run a delivery worker in this process too; --no-worker when workers run on their own",
        ),
    ] = True,
) -> None:
    """Run the API (and, unless --no-worker, one delivery worker) on one port."""
    import uvicorn

    from regnotify.app import create_app

    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = Settings(**overrides)  # type: ignore[arg-type]
    configure_logging(settings)

    async def storage_ready() -> None:
        await (await open_database(settings)).dispose()

    try:
        asyncio.run(storage_ready())  # migrates the embedded default; refuses an old PostgreSQL schema
    except NotMigrated as exc:
        fail(str(exc))
    storage = "SQLite at " + str(settings.data_dir) if settings.is_embedded else "PostgreSQL"
    typer.echo(
        f"regnotify on {settings.base_url} (storage: {storage})\n"
        f"  pages for a browser: {settings.base_url}/ (sign in as a user made with "
        "regnotify user create NAME --password-stdin)\n"
        f"  API docs: {settings.base_url}/docs\n"
        f"  a registry's notifications endpoint: {settings.base_url}/api/v1/registry/events "
        "(token: regnotify source create NAME --namespace NS)\n"
        f"  events from CI jobs: POST {settings.base_url}/api/v1/repository/<namespace>/<name>/events"
    )
    options = server_options(settings)
    application = create_app(settings, worker=worker)
    freeze_startup_objects()
    uvicorn.run(application, **options)


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for ``serve``. Forwarded headers (X-Forwarded-For, -Proto) count only on
    connections from ``trusted_proxies``; with none (the default) uvicorn ignores them, so the
    client address, which the sign-in throttle counts by, is the connection's own."""
    trusted = list(settings.trusted_proxies)
    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": "info",
        "log_config": uvicorn_log_config(settings),
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted,
    }


@app.command()
def worker(
    concurrency: Annotated[
        int | None, typer.Option(help="Sends in flight at once (REGNOTIFY_WORKER_CONCURRENCY)")
    ] = None,
) -> None:
    """Run a delivery worker until SIGTERM; run as many as you like beside the API processes."""
    from regnotify.jobs.running import run_until_signalled
    from regnotify.runtime.crypto import secret_box

    overrides = {"worker_concurrency": concurrency} if concurrency else {}
    settings = Settings(**overrides)  # type: ignore[arg-type]
    configure_logging(settings)

    if settings.worker_metrics_port:
        from regnotify.runtime.metrics import serve_worker_metrics

        serve_worker_metrics(settings.worker_metrics_port, settings.worker_metrics_host)

    async def run() -> None:
        from regnotify.runtime.loop_monitor import LoopMonitor

        db = await open_database(settings)
        try:
            async with LoopMonitor(settings.loop_lag_warning_ms):
                await run_until_signalled(db, settings, secret_box(settings))
        finally:
            await db.dispose()

    freeze_startup_objects()
    try:
        asyncio.run(run())
    except NotMigrated as exc:
        fail(str(exc))


@app.command()
def migrate() -> None:
    """Bring the database schema to the newest revision."""
    from regnotify.db import Database
    from regnotify.db import migrate as run_migrations

    async def run() -> None:
        settings = Settings()
        db = Database(settings.sqlalchemy_url)
        try:
            await run_migrations(db.engine)
        finally:
            await db.dispose()

    asyncio.run(run())
    typer.echo("database is at the newest revision")


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


@source_app.command("create")
def source_create(
    name: str, namespace: NamespaceOption = None, all_namespaces: AllNamespacesOption = False
) -> None:
    """Create a source token for a registry (or CI job) and print it once. Say where it may post:
    --namespace NS (repeat it), or --all-namespaces."""
    scope = source_scope(namespace, all_namespaces)

    async def work(session: AsyncSession) -> accounts.IssuedToken:
        return await accounts.issue_token(session, name=name, namespaces=scope)

    issued = in_transaction(work)
    typer.echo(issued.secret)
    typer.echo(
        f"source {name} (token {issued.id}) may post to {describe_scope(issued.namespaces)}: shown once; "
        "put it in the registry's endpoint headers as Authorization: [Bearer <token>]",
        err=True,
    )


@token_app.command("revoke")
def token_revoke(token_id: int) -> None:
    """Revoke a token by the number printed when it was created."""

    async def work(session: AsyncSession) -> bool:
        return await accounts.revoke_token(session, token_id)

    if not in_transaction(work):
        fail(f"no live token {token_id}")
    typer.echo(f"revoked token {token_id}")


from regnotify.cli.keys import keys_app  # noqa: E402
from regnotify.cli.sources import build_app, emit, vulns_app  # noqa: E402

app.command("emit")(emit)
app.add_typer(build_app, name="build")
app.add_typer(vulns_app, name="vulns")
app.add_typer(keys_app, name="secret-key")

if __name__ == "__main__":
    app()
