"""Tag pushes from any source: the repository appears on its first event, and a tag → digest
pair seen again within the window notifies once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify import accounts
from regnotify.config import Settings
from regnotify.db.group_commit import batch_memo
from regnotify.db.models import Repository, TagPush
from regnotify.db.types import utcnow
from regnotify.db.upsert import insert_unless_present
from regnotify.events import get_event_kind
from regnotify.ingest.recording import Recorded, record_event, repository_ref


async def ensure_repository(session: AsyncSession, full_name: str) -> Repository:
    """The repository, created on first sight. A namespace nobody owns yet becomes an organization
    with no members: only superusers administer it until they grant access."""
    memo = batch_memo(session)
    if memo is not None and ("repository", full_name) in memo:
        return memo["repository", full_name]  # type: ignore[no-any-return]
    found = await accounts.find_repository(session, full_name)
    if found is not None:
        if memo is not None:
            memo["repository", full_name] = found
        return found
    namespace, _ = accounts.split_repository(full_name)
    try:
        async with session.begin_nested():
            if not await accounts.find_user(session, namespace) and not await accounts.find_organization(
                session, namespace
            ):
                await accounts.create_organization(session, namespace)
            return await accounts.create_repository(session, full_name)
    except (IntegrityError, accounts.AlreadyExists):  # another request created it meanwhile
        found = await accounts.find_repository(session, full_name)
        if found is None:
            raise
        return found


async def _window_allows(
    session: AsyncSession, repository: Repository, tag: str, digest: str, window: float
) -> bool:
    """Record tag → digest and say whether it should notify (not the same pair within the window).

    The tag's row is locked while this transaction decides, so concurrent pushes of one tag are
    judged one after the other; the first push of a tag inserts its row unless a concurrent one
    just did, and is then judged against that one."""
    now = utcnow()
    locked = (
        select(TagPush).where(TagPush.repository_id == repository.id, TagPush.tag == tag).with_for_update()
    )
    row = await session.scalar(locked)
    if row is None:
        inserted = await session.scalar(
            insert_unless_present(session, TagPush, ["repository_id", "tag"])
            .values(repository_id=repository.id, tag=tag, digest=digest, notified_at=now)
            .returning(TagPush.id)
        )
        if inserted is not None:
            return True
        row = await session.scalar(locked.execution_options(populate_existing=True))
        if row is None:  # the row that beat ours is gone again (its repository deleted): notify
            return True
    if row.digest == digest and now - row.notified_at < timedelta(seconds=window):
        return False
    row.digest, row.notified_at = digest, now
    return True


async def record_tag_push(
    session: AsyncSession,
    repository: Repository,
    tag: str,
    digest: str,
    *,
    settings: Settings,
    source: str,
    external_id: str | None = None,
    registry_host: str | None = None,
) -> Recorded | None:
    """A ``repo_push`` for one tag, or None when the same digest was notified within the window."""
    if not await _window_allows(session, repository, tag, digest, settings.push_window_seconds):
        return None
    kind = get_event_kind("repo_push")
    ref = repository_ref(repository, settings, registry_host=registry_host)
    payload = kind.build_payload(ref, {"updated_tags": {tag: digest}})
    return await record_event(session, repository, kind, payload, source=source, external_id=external_id)
