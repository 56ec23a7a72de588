"""API bearer tokens: generated once, stored as SHA-256, looked up by hash, revocable; and the
webhook secret a source's sender signs with (GitHub), stored sealed with the secret key."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.accounts.errors import InvalidName, NotFound
from regnotify.accounts.names import check_namespace
from regnotify.db.models import ApiToken, User
from regnotify.db.types import utcnow
from regnotify.runtime.crypto import SecretBox

TOKEN_PREFIX = "rnt_"  # noqa: S105 (a prefix, not a secret)
# A webhook secret given by hand: long enough to resist guessing, short enough for any sender's form.
MIN_WEBHOOK_SECRET = 16
MAX_WEBHOOK_SECRET = 255


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_webhook_secret() -> str:
    """A secret for a sender's HMAC signatures: 256 random bits, in hex (any sender's form takes it)."""
    return secrets.token_hex(32)


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
    """Revoke a live token; a source's webhook secret goes with it (nothing verifies with it again)."""
    result = await session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow(), webhook_secret=None)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def find_source(session: AsyncSession, source_id: int) -> ApiToken | None:
    """The live source (service token) numbered ``source_id``, or None (unknown, revoked, a user's)."""
    return await session.scalar(
        select(ApiToken).where(
            ApiToken.id == source_id, ApiToken.kind == "service", ApiToken.revoked_at.is_(None)
        )
    )


def check_webhook_secret(secret: str) -> str:
    """``secret`` if a sender can sign with it: printable ASCII without spaces at either end."""
    if secret != secret.strip() or not secret.isascii() or not secret.isprintable():
        raise InvalidName("a webhook secret is printable ASCII, without spaces at either end")
    if not MIN_WEBHOOK_SECRET <= len(secret) <= MAX_WEBHOOK_SECRET:
        raise InvalidName(
            f"a webhook secret has {MIN_WEBHOOK_SECRET} to {MAX_WEBHOOK_SECRET} characters, not {len(secret)}"
        )
    return secret


async def set_webhook_secret(
    session: AsyncSession, source_id: int, box: SecretBox, secret: str | None = None
) -> str:
    """Give the source a new webhook secret (``secret``, or a generated one) and return it; only its
    sealed form is stored. The secret it had before stops verifying at once."""
    source = await find_source(session, source_id)
    if source is None:
        raise NotFound(f"no live source {source_id} (the number source create printed)")
    plaintext = new_webhook_secret() if secret is None else check_webhook_secret(secret)
    source.webhook_secret = box.seal(plaintext)
    await session.flush()
    return plaintext


def open_webhook_secret(source: ApiToken, box: SecretBox) -> str | None:
    """The source's webhook secret in clear, or None when it has none. ValueError when no configured
    secret key opens it (the key it was sealed with was dropped)."""
    return None if source.webhook_secret is None else box.open(source.webhook_secret)
