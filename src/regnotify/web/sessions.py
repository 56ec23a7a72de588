"""Browser sessions kept server-side: the cookie carries a random token, the table its SHA-256.

Signing out deletes the row, so a copied cookie stops working at once. Sessions last
``SESSION_LIFETIME`` from sign-in; expired rows are removed whenever someone signs in.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.db.models import User, WebSession
from regnotify.db.types import utcnow

COOKIE_NAME = "regnotify_session"
SESSION_LIFETIME = timedelta(hours=12)
MAX_TOKEN_LENGTH = 100


@dataclass(frozen=True)
class StartedSession:
    """A new session: ``token`` goes into the cookie and exists nowhere else."""

    token: str
    csrf_token: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def start_session(session: AsyncSession, user: User) -> StartedSession:
    now = utcnow()
    await session.execute(delete(WebSession).where(WebSession.expires_at <= now))
    token = secrets.token_urlsafe(32)
    csrf_token = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            token_hash=_hash(token),
            user_id=user.id,
            csrf_token=csrf_token,
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    await session.flush()
    return StartedSession(token, csrf_token)


async def find_session(session: AsyncSession, token: str | None) -> tuple[WebSession, User] | None:
    """The live session the cookie's token belongs to, and its user."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    row = (
        await session.execute(
            select(WebSession, User)
            .join(User, User.id == WebSession.user_id)
            .where(WebSession.token_hash == _hash(token), WebSession.expires_at > utcnow())
        )
    ).first()
    return (row[0], row[1]) if row is not None else None


async def end_session(session: AsyncSession, token: str | None) -> None:
    if token and len(token) <= MAX_TOKEN_LENGTH:
        await session.execute(delete(WebSession).where(WebSession.token_hash == _hash(token)))
