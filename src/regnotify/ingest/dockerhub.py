"""Docker Hub's repository webhooks: one POST per push, ``{callback_url, push_data, repository}``.

Docker Hub sends pushes only, with no event type, no event id and **no digest** (docker/roadmap#440).
A push becomes a tag push of ``repository.repo_name:push_data.tag`` whose digest is unknown: its
``repo_push`` payload says ``"updated_tags": {"<tag>": null}``, never a made-up digest, and
``docker_url`` is ``docker.io/<namespace>/<name>`` (unless the operator set ``REGNOTIFY_REGISTRY_HOST``).

Deduplicating without a digest:

- the event id is derived from the repository, the tag and ``push_data.pushed_at``
  (``dockerhub:<sha256>``), so a delivery Docker Hub sends again is stored once;
- the tag → digest window keeps "digest unknown" as the tag's digest, so the same tag pushed again
  within ``REGNOTIFY_PUSH_WINDOW_SECONDS`` is a duplicate. Docker Hub posts once per manifest of a
  multi-arch push (six deliveries for one ``buildx`` push, docker/hub-feedback#2148), all naming
  the tag, so without a digest that is the only way such a push notifies once; the price is that a
  real second push of the tag inside the window does not notify either.

A body without ``push_data`` and ``repository`` objects is not Docker Hub's (``NotTheFormat``).
"""

from __future__ import annotations

from typing import Any

from regnotify.ingest.batch import NotTheFormat, SourceBatch
from regnotify.ingest.pushes import PushToRecord
from regnotify.ingest.source_fields import (
    UNUSABLE_TEXT,
    derived_id,
    is_digest,
    text_at,
    unusable_text_at,
    valid_tag,
)

DOCKER_HUB_HOST = "docker.io"
FORMAT = "a Docker Hub webhook payload ({callback_url, push_data, repository})"


def repository_of(body: dict[str, Any]) -> str | None:
    """``repository.repo_name`` (``namespace/name``), else ``namespace`` and ``name``."""
    full_name = text_at(body, "repository", "repo_name")
    if full_name is not None and "/" in full_name:
        return full_name
    namespace, name = text_at(body, "repository", "namespace"), text_at(body, "repository", "name")
    return f"{namespace}/{name}" if namespace and name else None


def _seconds(value: Any) -> int | None:
    """``pushed_at``: Unix seconds, an integer (or, in some deliveries, a float such as 1.417566161e+09)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:  # NaN
        return None
    try:
        return int(value)
    except (OverflowError, ValueError):  # infinity
        return None


def read_push(body: Any, *, source: str) -> SourceBatch:
    """One Docker Hub delivery: a push of one tag. NotTheFormat when the body is not Docker Hub's."""
    if not isinstance(body, dict) or not isinstance(body.get("push_data"), dict):
        raise NotTheFormat(f"the body is JSON but not {FORMAT}")
    if not isinstance(body.get("repository"), dict):
        raise NotTheFormat(f"the body is JSON but not {FORMAT}: it has no repository object")
    batch = SourceBatch(source)
    repository = repository_of(body)
    tag = text_at(body, "push_data", "tag")
    pushed_at = _seconds(body["push_data"].get("pushed_at"))
    event_id = derived_id("dockerhub", [repository, tag, pushed_at]) if pushed_at is not None else None
    unusable = [
        name
        for name, path in (("tag", ("push_data", "tag")), ("repository's name", ("repository", "repo_name")))
        if unusable_text_at(body, *path)
    ]
    if unusable:
        batch.reject(event_id, f"the {unusable[0]} {UNUSABLE_TEXT}", body)
    elif repository is None:
        batch.reject(event_id, "a Docker Hub push without repository.repo_name", body)
    elif tag is None or is_digest(tag):
        batch.ignore()  # nothing to notify about without a tag
    elif not valid_tag(tag):
        batch.reject(event_id, f"invalid tag {tag[:130]!r}", body)
    else:
        push = PushToRecord(
            repository, tag, None, source, external_id=event_id, registry_host=DOCKER_HUB_HOST
        )
        batch.add_push(push, body)
    return batch
