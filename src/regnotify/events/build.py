"""The five Dockerfile build events: queued, started, succeeded, failed, cancelled.

Their homepage points at the build (``.../build?current=<build_id>``); build_success also carries
the repository's visibility. All of them take the ``ref-regex`` filter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar
from urllib.parse import quote

from pydantic import Field

from regnotify.events.base import EventKind, Level, RepositoryRef
from regnotify.events.common import (
    MAX_ITEMS,
    SAMPLE_TRIGGER_METADATA,
    EventData,
    LongText,
    NonEmptyText,
    Text,
    TextList,
    TriggerMetadata,
)
from regnotify.events.filters import RefRegexFilter
from regnotify.events.reading import build_id7, first_line, repository, strings, tag_list, text
from regnotify.events.rendering import render_html

SAMPLE_BUILD_ID = "build_uuid"
SAMPLE_HOMEPAGE_BUILD = "some-fake-build"

DigestList = Annotated[list[NonEmptyText], Field(max_length=MAX_ITEMS)]

HTML = """\
{% from "macros.html" import link, tags %}
<p>Build {{ link(homepage, "[" ~ build_id7 ~ "]") }}{% if build_name %} ({{ build_name }}){% endif %} \
{{ verb }} for repository {{ repository }}\
{% if manual_user %}, started manually by {{ manual_user }}{% endif %}.</p>
{% if docker_tags %}<p>Tags: {{ tags(docker_tags) }}</p>{% endif %}
{% if commit or ref %}
<p>Commit {{ link(commit_url, commit[:7] or "(unknown)") }}{% if ref %} on <code>{{ ref }}</code>{% endif %}\
{% if commit_message %}: {{ commit_message }}{% endif %}\
{% if author %} by {{ link(author_url, author) }}{% endif %}</p>
{% endif %}
{% if error_message %}<p>Error: <code>{{ error_message }}</code></p>{% endif %}
"""


class BuildQueuedData(EventData):
    is_manual: bool
    build_id: NonEmptyText
    docker_tags: TextList
    manual_user: Text | None = None
    build_name: Text | None = None
    trigger_kind: Text | None = None
    trigger_id: Text | None = None
    trigger_metadata: TriggerMetadata | None = None


class BuildData(EventData):
    build_id: NonEmptyText
    docker_tags: TextList
    build_name: Text | None = None
    trigger_kind: Text | None = None
    trigger_id: Text | None = None
    trigger_metadata: TriggerMetadata | None = None
    image_id: Text | None = None
    manifest_digests: DigestList | None = None


class BuildFailureData(EventData):
    build_id: NonEmptyText
    docker_tags: TextList
    error_message: LongText
    build_name: Text | None = None
    trigger_kind: Text | None = None
    trigger_id: Text | None = None
    trigger_metadata: TriggerMetadata | None = None
    image_id: Text | None = None
    manifest_digests: DigestList | None = None


SAMPLE_BUILD: dict[str, Any] = {
    "build_id": SAMPLE_BUILD_ID,
    "docker_tags": ["latest", "foo", "bar"],
    "trigger_kind": "github",
    "trigger_id": "some-id-here",
    "trigger_metadata": SAMPLE_TRIGGER_METADATA,
}


class BuildEvent(EventKind):
    """Shared behaviour of the build events; subclasses set the words and the level."""

    headline: ClassVar[str]  # "Build queued", used in the summary
    verb: ClassVar[str]  # "was queued", used in messages
    build_level: ClassVar[Level] = "info"
    model: ClassVar[type[EventData]] = BuildData
    filters = (RefRegexFilter(),)
    sample_data: ClassVar[dict[str, Any]] = SAMPLE_BUILD

    def build_homepage(self, repo: RepositoryRef, build_id: str) -> str:
        return f"{repo.homepage}/build?current={quote(build_id, safe='')}"

    def envelope(self, repo: RepositoryRef, fields: Mapping[str, Any]) -> dict[str, Any]:
        common = self.common_fields(repo)
        common["homepage"] = self.build_homepage(repo, str(fields.get("build_id", "")))
        return common

    def sample_envelope(self, repo: RepositoryRef) -> dict[str, Any]:
        # Quay's sample data says build_id "build_uuid" but links "?current=some-fake-build".
        common = self.common_fields(repo)
        common["homepage"] = self.build_homepage(repo, SAMPLE_HOMEPAGE_BUILD)
        return common

    def level(self, payload: Mapping[str, Any]) -> Level:
        return self.build_level

    def _summary(self, payload: Mapping[str, Any]) -> str:
        return f"{self.headline} for repository {repository(payload)} [{build_id7(payload)}]"

    def _details(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        author = text(payload, "trigger_metadata", "commit_info", "author", "username")
        return {
            "homepage": text(payload, "homepage"),
            "repository": repository(payload),
            "build_id7": build_id7(payload),
            "build_name": text(payload, "build_name"),
            "verb": self.verb,
            "manual_user": text(payload, "manual_user"),
            "docker_tags": strings(payload, "docker_tags"),
            "ref": text(payload, "trigger_metadata", "ref"),
            "commit": text(payload, "trigger_metadata", "commit"),
            "commit_url": text(payload, "trigger_metadata", "commit_info", "url"),
            "commit_message": first_line(text(payload, "trigger_metadata", "commit_info", "message")),
            "author": author,
            "author_url": text(payload, "trigger_metadata", "commit_info", "author", "url"),
            "error_message": text(payload, "error_message"),
        }

    def html_message(self, payload: Mapping[str, Any]) -> str:
        return render_html(HTML, **self._details(payload))

    def text_message(self, payload: Mapping[str, Any]) -> str:
        d = self._details(payload)
        name = f" ({d['build_name']})" if d["build_name"] else ""
        manual = f", started manually by {d['manual_user']}" if d["manual_user"] else ""
        lines = [f"Build [{d['build_id7']}]{name} {self.verb} for repository {d['repository']}{manual}."]
        if d["docker_tags"]:
            lines.append(f"Tags: {tag_list(d['docker_tags'])}")
        if d["commit"] or d["ref"]:
            commit = f"Commit {d['commit'][:7] or '(unknown)'}"
            commit += f" on {d['ref']}" if d["ref"] else ""
            commit += f": {d['commit_message']}" if d["commit_message"] else ""
            commit += f" by {d['author']}" if d["author"] else ""
            lines.append(commit)
        if d["error_message"]:
            lines.append(f"Error: {d['error_message']}")
        if d["homepage"]:
            lines.append(f"Build: {d['homepage']}")
        return "\n".join(lines)


class BuildQueued(BuildEvent):
    name: ClassVar[str] = "build_queued"
    title: ClassVar[str] = "Dockerfile Build Queued"
    description: ClassVar[str] = "A Dockerfile build has been queued into the build system"
    headline: ClassVar[str] = "Build queued"
    verb: ClassVar[str] = "was queued"
    model = BuildQueuedData
    sample_data: ClassVar[dict[str, Any]] = {"is_manual": False, **SAMPLE_BUILD}


class BuildStart(BuildEvent):
    name: ClassVar[str] = "build_start"
    title: ClassVar[str] = "Dockerfile Build Started"
    description: ClassVar[str] = "A Dockerfile build has been started by the build system"
    headline: ClassVar[str] = "Build started"
    verb: ClassVar[str] = "has started"


class BuildSuccess(BuildEvent):
    name: ClassVar[str] = "build_success"
    title: ClassVar[str] = "Dockerfile Build Successfully Completed"
    description: ClassVar[str] = "A Dockerfile build has been successfully completed by the build system"
    headline: ClassVar[str] = "Build succeeded"
    verb: ClassVar[str] = "completed successfully"
    build_level: ClassVar[Level] = "success"
    envelope_keys: ClassVar[tuple[str, ...]] = (*EventKind.envelope_keys, "visibility")

    def envelope(self, repo: RepositoryRef, fields: Mapping[str, Any]) -> dict[str, Any]:
        return {**super().envelope(repo, fields), "visibility": repo.visibility}

    def sample_envelope(self, repo: RepositoryRef) -> dict[str, Any]:
        # Quay's sample shows a public repository whatever the repository is.
        return {**super().sample_envelope(repo), "visibility": "public"}


class BuildFailure(BuildEvent):
    name: ClassVar[str] = "build_failure"
    title: ClassVar[str] = "Dockerfile Build Failed"
    description: ClassVar[str] = "A Dockerfile build has failed"
    headline: ClassVar[str] = "Build failure"
    verb: ClassVar[str] = "failed"
    build_level: ClassVar[Level] = "error"
    model = BuildFailureData
    sample_data: ClassVar[dict[str, Any]] = {
        "build_id": SAMPLE_BUILD_ID,
        "docker_tags": ["latest", "foo", "bar"],
        "error_message": "This is the reason the build failed",
        "trigger_kind": "github",
        "trigger_id": "some-id-here",
        "trigger_metadata": SAMPLE_TRIGGER_METADATA,
    }


class BuildCancelled(BuildEvent):
    name: ClassVar[str] = "build_cancelled"
    title: ClassVar[str] = "Dockerfile Build Cancelled"
    description: ClassVar[str] = "A Dockerfile build was cancelled"
    headline: ClassVar[str] = "Build cancelled"
    verb: ClassVar[str] = "was cancelled"
