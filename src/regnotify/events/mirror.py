"""The three repository-mirror events: a mirror sync started, succeeded or failed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

from pydantic import StringConstraints

from regnotify.events.base import EventKind, Level
from regnotify.events.common import MAX_LONG_TEXT, EventData
from regnotify.events.reading import repository, text
from regnotify.events.rendering import render_html

HTML = """\
{% from "macros.html" import link %}
<p>Repository mirror sync {{ verb }} for repository {{ link(homepage, repository) }}\
{% if message %}: {{ message }}{% else %}.{% endif %}</p>
"""


class MirrorData(EventData):
    """``message``: what is mirrored ("'{external ref}' with tag pattern '{glob}'"), plus any error."""

    message: Annotated[str, StringConstraints(min_length=1, max_length=MAX_LONG_TEXT)]


class MirrorEvent(EventKind):
    """Shared behaviour of the mirror events; subclasses set the words and the level."""

    headline: ClassVar[str]  # "Repository Mirror started", used in the summary
    verb: ClassVar[str]  # "started", used in messages
    mirror_level: ClassVar[Level]
    model = MirrorData
    sample_data: ClassVar[dict[str, Any]] = {"message": "TEST NOTIFICATION"}

    def level(self, payload: Mapping[str, Any]) -> Level:
        return self.mirror_level

    def _summary(self, payload: Mapping[str, Any]) -> str:
        return f"{self.headline} for {text(payload, 'message')}"

    def html_message(self, payload: Mapping[str, Any]) -> str:
        return render_html(
            HTML,
            verb=self.verb,
            homepage=text(payload, "homepage"),
            repository=repository(payload),
            message=text(payload, "message"),
        )

    def text_message(self, payload: Mapping[str, Any]) -> str:
        message = text(payload, "message")
        lines = [
            f"Repository mirror sync {self.verb} for repository {repository(payload)}"
            + (f": {message}" if message else ".")
        ]
        homepage = text(payload, "homepage")
        if homepage:
            lines.append(f"Repository: {homepage}")
        return "\n".join(lines)


class MirrorSyncStarted(MirrorEvent):
    name: ClassVar[str] = "repo_mirror_sync_started"
    title: ClassVar[str] = "Repository Mirror Started"
    description: ClassVar[str] = "A repository mirror sync has started"
    headline: ClassVar[str] = "Repository Mirror started"
    verb: ClassVar[str] = "started"
    mirror_level: ClassVar[Level] = "info"


class MirrorSyncSuccess(MirrorEvent):
    name: ClassVar[str] = "repo_mirror_sync_success"
    title: ClassVar[str] = "Repository Mirror Success"
    description: ClassVar[str] = "A repository mirror sync completed successfully"
    headline: ClassVar[str] = "Repository Mirror success"
    verb: ClassVar[str] = "succeeded"
    mirror_level: ClassVar[Level] = "success"


class MirrorSyncFailed(MirrorEvent):
    name: ClassVar[str] = "repo_mirror_sync_failed"
    title: ClassVar[str] = "Repository Mirror Unsuccessful"
    description: ClassVar[str] = "A repository mirror sync failed"
    headline: ClassVar[str] = "Repository Mirror failed"
    verb: ClassVar[str] = "failed"
    mirror_level: ClassVar[Level] = "error"
