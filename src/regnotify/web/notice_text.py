"""What the bell shows for one in-app notice: a sentence and links into the pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from regnotify.db.models import InboxItem
from regnotify.events import EVENT_KINDS
from regnotify.events.reading import strings, text
from regnotify.web.describe import event_title, notification_label

DISABLED_KIND = "notification_disabled"  # written by the delivery worker when a notification gives up
MAX_TAG_LINKS = 5


@dataclass(frozen=True)
class Link:
    label: str
    href: str


@dataclass(frozen=True)
class NoticeView:
    id: str
    sentence: str
    created: datetime
    level: str
    links: list[Link] = field(default_factory=list)


def repository_href(repository: str, **query: str) -> str:
    href = "/repository/" + quote(repository, safe="/")
    if query:
        href += "?" + "&".join(f"{key}={quote(value, safe='')}" for key, value in query.items())
    return href


def _sentence(kind: str, metadata: dict[str, Any]) -> str:
    if kind == DISABLED_KIND:
        title = notification_label(text(metadata, "title"), text(metadata, "method"), text(metadata, "event"))
        reason = text(metadata, "reason") or f"{text(metadata, 'number_of_failures')} failed attempts"
        return f"Notification “{title}” on {text(metadata, 'repository')} was disabled ({reason})."
    summary = text(metadata, "summary")
    if summary:
        return summary
    event = EVENT_KINDS.get(kind)
    if event is not None:
        try:
            return event.summary(metadata)
        except Exception:  # an odd stored payload must not break every page's bell
            return event.title
    return event_title(kind)


def _links(kind: str, metadata: dict[str, Any]) -> list[Link]:
    repository = text(metadata, "repository")
    if not repository:
        return []
    links = [Link(repository, repository_href(repository))]
    if kind == DISABLED_KIND:
        uuid = text(metadata, "notification_uuid")
        if uuid:
            links.append(Link("history", f"{repository_href(repository)}/notification/{quote(uuid)}/history"))
        return links
    build_id = text(metadata, "build_id")
    if build_id:
        builds = repository_href(repository, tab="builds")
        links.append(Link(f"build {build_id[:7]}", f"{builds}#build-{build_id}"))
    tags = strings(metadata, "updated_tags") or strings(metadata, "tags") or strings(metadata, "docker_tags")
    for tag in tags[:MAX_TAG_LINKS]:
        links.append(Link(f"tag {tag}", repository_href(repository, tag=tag)))
    return links


def notice_view(item: InboxItem) -> NoticeView:
    metadata = item.item_metadata if isinstance(item.item_metadata, dict) else {}
    level = text(metadata, "level") or ("error" if item.kind == DISABLED_KIND else "info")
    sentence = _sentence(item.kind, metadata)
    return NoticeView(item.uuid, sentence, item.created_at, level, _links(item.kind, metadata))
