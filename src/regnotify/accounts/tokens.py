"""API bearer tokens: generated once, stored as SHA-256, looked up by hash, revocable."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.accounts.errors import InvalidName
from regnotify.accounts.names import check_namespace
from regnotify.db.models import ApiToken, User
from regnotify.db.types import utcnow

TOKEN_PREFIX = "rnt_"  # noqa: S105 (a prefix, not a secret)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class IssuedToken:
    """A freshly created token. ``secret`` exists only here: it is never stored or shown again."""

    id: int
    name: str
    kind: str
    secret: str
    namespaces: tuple[str, ...] | None = None  # a service token's scope; None: every namespace


def describe_scope(namespaces: Sequence[str] | None) -> str:
    """Where a service token may post, in words: for the CLI and for refusals."""
    if namespaces is None:
        return "every namespace"
    if len(namespaces) == 1:
        return f"namespace {namespaces[0]} only"
    return f"namespaces {', '.join(namespaces)} only"


async def issue_token(
    session: AsyncSession,
    *,
    name: str,
    user: User | None = None,
    namespaces: Sequence[str] | None = None,
) -> IssuedToken:
    """A user token when ``user`` is given, else a service token: it posts events to repositories
    of ``namespaces`` only (valid namespace names, existing or not), or to every namespace when None."""
    scope: tuple[str, ...] | None = None
    if namespaces is not None:
        if user is not None:
            raise InvalidName("namespaces scope service tokens; a user's token acts with the user's roles")
        scope = tuple(sorted({check_namespace(namespace) for namespace in namespaces}))
        if not scope:
            raise InvalidName("give at least one namespace, or none for every namespace")
    raw = new_token()
    token = ApiToken(
        kind="user" if user else "service",
        user_id=user.id if user else None,
        name=name,
        token_hash=hash_token(raw),
    )
    if scope is not None:
        token.namespaces = list(scope)
    session.add(token)
    await session.flush()
    return IssuedToken(id=token.id, name=name, kind=token.kind, secret=raw, namespaces=scope)


async def find_token(session: AsyncSession, raw: str) -> tuple[ApiToken, User | None] | None:
    """The live token matching ``raw`` and its user, or None when unknown or revoked."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    row = (
        await session.execute(
            select(ApiToken, User)
            .outerjoin(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_hash == hash_token(raw), ApiToken.revoked_at.is_(None))
        )
    ).first()
    if row is None:
        return None
    return row[0], row[1]


async def revoke_token(session: AsyncSession, token_id: int) -> bool:
    result = await session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
