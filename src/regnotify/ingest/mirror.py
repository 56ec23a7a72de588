"""Repository mirror syncs a mirroring tool reports: started, success, failed → ``repo_mirror_sync_*``."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.config import Settings
from regnotify.db.models import Repository
from regnotify.events import get_event_kind
from regnotify.ingest.recording import Recorded, record_event, repository_ref

STATUS_EVENTS = {
    "started": "repo_mirror_sync_started",
    "success": "repo_mirror_sync_success",
    "failed": "repo_mirror_sync_failed",
}


def mirror_message(external_reference: str, tag_pattern: str | None, error: str | None) -> str:
    """Quay's message: "'<external reference>' with tag pattern '<glob>'", plus the error on failure."""
    message = f"'{external_reference}' with tag pattern '{tag_pattern or '*'}'"
    return f"{message}: {error}" if error else message


async def record_mirror_sync(
    session: AsyncSession,
    repository: Repository,
    status: str,
    *,
    external_reference: str,
    tag_pattern: str | None,
    error: str | None,
    settings: Settings,
    source: str,
) -> Recorded:
    kind = get_event_kind(STATUS_EVENTS[status])
    message = mirror_message(external_reference, tag_pattern, error if status == "failed" else None)
    payload = kind.build_payload(repository_ref(repository, settings), {"message": message})
    return await record_event(session, repository, kind, payload, source=source)
