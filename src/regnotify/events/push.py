"""repo_push: one or more tags were pushed to the repository."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

from pydantic import Field

from regnotify.events.base import EventKind, Level, PayloadStyle
from regnotify.events.common import MAX_ITEMS, EventData, NonEmptyText, TagName
from regnotify.events.filters import TagPatternsFilter
from regnotify.events.reading import field, repository, strings, text
from regnotify.events.rendering import render_html

MAX_LISTED = 50

HTML = """\
{% from "macros.html" import link, tags %}
<p>Repository {{ link(homepage, repository) }} was updated: {{ tag_names | length }} \
tag{{ "s" if tag_names | length != 1 }} pushed: {{ tags(tag_names) }}.</p>
"""


class RepoPushData(EventData):
    """The tags that now point at new manifests: tag name -> manifest digest (the input shape,
    whatever the payload style; see ``RepoPush.styled``). The digest is null when the source does
    not say (Docker Hub's webhooks name no digest): never one made up."""

    updated_tags: Annotated[dict[TagName, NonEmptyText | None], Field(min_length=1, max_length=MAX_ITEMS)]


class RepoPush(EventKind):
    name: ClassVar[str] = "repo_push"
    title: ClassVar[str] = "Repository Push"
    description: ClassVar[str] = "A successful push of one or more images was made to the repository"
    model = RepoPushData
    filters = (TagPatternsFilter("updated_tags"),)
    sample_data: ClassVar[dict[str, Any]] = {
        "updated_tags": {"latest": "b750fe79269d2ec9a3c593ef05b4332b1d1a02a62b4accb2c21d589ff2f5f2dc"}
    }

    def styled(self, fields: dict[str, Any], style: PayloadStyle) -> dict[str, Any]:
        """``updated_tags`` as the list of its tag names (in the order given) when the style says
        ``list``, as Quay's servers send it; else the documented map of tag -> digest."""
        updated = fields.get("updated_tags")
        if style.updated_tags == "list" and isinstance(updated, Mapping):
            return {**fields, "updated_tags": list(updated)}
        return fields

    def level(self, payload: Mapping[str, Any]) -> Level:
        return "primary"

    def _summary(self, payload: Mapping[str, Any]) -> str:
        return f"Repository {repository(payload)} updated"

    def html_message(self, payload: Mapping[str, Any]) -> str:
        return render_html(
            HTML,
            homepage=text(payload, "homepage"),
            repository=repository(payload),
            tag_names=strings(payload, "updated_tags"),
        )

    def text_message(self, payload: Mapping[str, Any]) -> str:
        lines = [f"Repository {repository(payload)} was updated.", "Tags pushed:"]
        updated = field(payload, "updated_tags")  # a list (the list style) names no digests
        tags = strings(payload, "updated_tags")
        for tag in tags[:MAX_LISTED]:
            digest = text(updated, tag)
            lines.append(f"  {tag}: {digest}" if digest else f"  {tag}")
        if len(tags) > MAX_LISTED:
            lines.append(f"  (and {len(tags) - MAX_LISTED} more)")
        homepage = text(payload, "homepage")
        if homepage:
            lines.append(f"Repository: {homepage}")
        return "\n".join(lines)
