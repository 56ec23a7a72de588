"""Who is calling (bearer tokens) and what they may do on the repository in the path."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.accounts import Role, find_repository, find_token, split_repository, user_role
from regnotify.accounts.errors import InvalidName
from regnotify.accounts.tokens import describe_scope
from regnotify.api.context import Services, services
from regnotify.api.errors import ApiError
from regnotify.db.models import ApiToken, Repository, User
from regnotify.db.types import utcnow

TOKEN_USE_RESOLUTION = timedelta(minutes=1)
UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="regnotify"'}


@dataclass
class TokenUse:
    """When the token was last used, as far as this process knows (shared by cached principals)."""

    last_used_at: datetime | None


@dataclass(frozen=True)
class Principal:
    """The caller: a user, a service token (``service`` set), or anonymous (both None)."""

    user: User | None = None
    service: str | None = None
    token_id: int | None = None
    token_use: TokenUse | None = None
    namespaces: tuple[str, ...] | None = None  # a service token's scope; None: every namespace

    @property
    def is_anonymous(self) -> bool:
        return self.user is None and self.service is None

    def may_post_to(self, namespace: str) -> bool:
        """Whether a service token's scope holds ``namespace`` (always, for every other caller)."""
        return self.namespaces is None or namespace in self.namespaces

    def out_of_scope(self, namespace: str) -> str:
        """Why this service token may not post to ``namespace``."""
        return f"source token {self.service} may post to {describe_scope(self.namespaces)}, not {namespace}"

    @property
    def label(self) -> str:
        if self.user is not None:
            return f"user:{self.user.username}"
        if self.service is not None:
            return f"service:{self.service}"
        return "anonymous"


async def authenticate(request: Request, svc: Annotated[Services, Depends(services)]) -> Principal:
    """The caller of ``request``, from its bearer token (a dependency, or called directly)."""
    header = request.headers.get("authorization")
    if not header:
        return Principal()
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise ApiError(401, "use an Authorization: Bearer <token> header", headers=UNAUTHORIZED_HEADERS)
    return await token_principal(svc, credentials.strip())


async def token_principal(svc: Services, raw: str) -> Principal:
    """The holder of the token ``raw`` however it was sent (a header, or a webhook URL's path for a
    sender that sends no header); a 401 when it is not a valid token."""
    cached: Principal | None = svc.tokens.get(raw, svc.settings.token_cache_seconds)  # it holds Principals
    if cached is not None:
        return cached
    async with svc.db.read() as session:
        found = await find_token(session, raw)
    if found is None:
        raise ApiError(401, "invalid or revoked token", headers=UNAUTHORIZED_HEADERS)
    principal = token_holder(*found)
    svc.tokens.put(raw, principal)
    return principal


def token_holder(token: ApiToken, user: User | None) -> Principal:
    """Who holds ``token``: ``user``, or (for a service token, ``user`` None) the source it names."""
    return Principal(
        user=user,
        service=None if user else token.name,
        token_id=token.id,
        token_use=TokenUse(token.last_used_at),
        namespaces=None if user or token.namespaces is None else tuple(token.namespaces),
    )


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


def signed_in_user(principal: Principal) -> User:
    """The calling user: 401 for anonymous callers, 403 for service tokens, which are nobody."""
    if principal.user is None:
        if principal.service is not None:
            raise ApiError(403, "service tokens belong to no user account; use a user's token")
        raise ApiError(401, "authentication required: send a bearer token", headers=UNAUTHORIZED_HEADERS)
    return principal.user


async def mark_token_used(session: AsyncSession, principal: Principal) -> None:
    """Note when a token was last used, to the minute: a registry posting many events a second
    would otherwise rewrite (and lock) the same token row on every request."""
    if principal.token_id is None or principal.token_use is None:
        return
    now = utcnow()
    last = principal.token_use.last_used_at
    if last is None or now - last >= TOKEN_USE_RESOLUTION:
        used = update(ApiToken).where(ApiToken.id == principal.token_id).values(last_used_at=now)
        await session.execute(used)
        principal.token_use.last_used_at = now


async def repository_for(
    session: AsyncSession,
    principal: Principal,
    repository_path: str,
    need: Role,
    *,
    service_allowed: bool = False,
) -> Repository:
    """The repository named in the path, if the caller holds ``need`` on it.

    Anonymous callers get a 401. Callers without the role get a 403 whether or not the
    repository exists, so that private names do not leak; superusers get a 404 for a
    repository that does not exist. A service token gets a 403 outside its namespaces.
    """
    try:
        namespace, _ = split_repository(repository_path)
    except InvalidName as exc:
        raise ApiError(400, str(exc)) from None
    if principal.service is not None:
        if not service_allowed:
            raise ApiError(403, "service tokens may only post events; use a user's token here")
        if not principal.may_post_to(namespace):  # whether or not the repository exists
            raise ApiError(403, principal.out_of_scope(namespace))
    repository = await find_repository(session, repository_path)
    if principal.service is not None:
        if repository is None:
            raise ApiError(404, f"repository {repository_path} does not exist")
        return repository
    role = Role.NONE
    if repository is not None:
        role = await user_role(session, principal.user, repository)
    if role >= need and repository is not None:
        return repository
    if principal.is_anonymous:
        raise ApiError(401, "authentication required: send a bearer token", headers=UNAUTHORIZED_HEADERS)
    if principal.user is not None and principal.user.is_superuser:
        raise ApiError(404, f"repository {repository_path} does not exist")
    raise ApiError(403, f"{need.name.lower()} permission on repository {repository_path} is required")
