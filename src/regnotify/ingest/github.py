"""GitHub webhook deliveries of the ``package`` (and legacy ``registry_package``) event: which are tag
pushes to the GitHub Container Registry (ghcr.io), and why the rest are not.

GitHub posts one event per request, named by the ``X-GitHub-Event`` header, with a unique
``X-GitHub-Delivery`` id (the external id: a redelivery of it notifies once). A container package's
version published (or updated) with a tag is a tag push of ``<owner>/<package>`` (lower-case, as
GHCR names it) at ``package_version.name``, the manifest digest. GitHub fires once per manifest: a
multi-arch push gives one event for each platform's manifest, without a tag, and one for the index
carrying the tag, so only the index notifies, with the index digest. Other events and actions,
packages of other ecosystems (npm, Maven, ...) and versions without a tag are ignored. Parsing
never raises on any JSON value, and passes on no text a database cannot store.
"""

from __future__ import annotations

from typing import Any

from regnotify.events.reading import is_unicode_text
from regnotify.ingest.batch import SourceBatch
from regnotify.ingest.distribution import DIGEST_RE, TAG_RE
from regnotify.ingest.pushes import PushToRecord

PACKAGE_EVENTS = ("package", "registry_package")  # the payload's key is the event's name
PUSH_ACTIONS = frozenset({"published", "updated"})
# Webhooks say CONTAINER, the REST API container; docker is the old docker.pkg.github.com registry.
CONTAINER_TYPES = frozenset({"container", "docker"})
GHCR_HOST = "ghcr.io"
MAX_DELIVERY_ID = 255


def _text(mapping: Any, key: str) -> str | None:
    value = mapping.get(key) if isinstance(mapping, dict) else None
    return value if isinstance(value, str) and value else None


def _storable(value: str) -> bool:
    """Text PostgreSQL and UTF-8 can store: no NUL character, no lone surrogate."""
    return "\x00" not in value and is_unicode_text(value)


def delivery_id(header: str | None) -> str | None:
    """The ``X-GitHub-Delivery`` id when it can be stored as an event id, else None."""
    if header is None or not header or len(header) > MAX_DELIVERY_ID or not _storable(header):
        return None
    return header


def is_container(package: dict[str, Any]) -> bool:
    """Whether the package is a container image (GitHub's sample payloads mix the fields: an
    ``npm`` package_type with a ``docker`` ecosystem; either one saying so is enough)."""
    kinds = {(_text(package, key) or "").lower() for key in ("package_type", "ecosystem")}
    return bool(kinds & CONTAINER_TYPES)


def _digest(version: dict[str, Any]) -> str | None:
    for key in ("name", "version"):  # both hold the manifest digest for a container
        value = _text(version, key)
        if value is not None and len(value) <= 255 and DIGEST_RE.match(value):
            return value
    return None


def read_delivery(event: str | None, delivery: str | None, body: Any, *, source: str) -> SourceBatch:
    """What one GitHub delivery (``X-GitHub-Event`` ``event``, ``X-GitHub-Delivery`` ``delivery``,
    ``body`` the parsed JSON) means for notifications; ``source`` labels what it stores."""
    batch = SourceBatch(source)
    if event not in PACKAGE_EVENTS:
        batch.ignore()  # another event (push, issues, ...) sent to this hook
        return batch
    event_id = delivery_id(delivery)
    if not isinstance(body, dict):
        batch.reject(event_id, f"a {event} delivery must be a JSON object", body)
        return batch
    if _text(body, "action") not in PUSH_ACTIONS:
        batch.ignore()
        return batch
    package = body.get(event)
    if not isinstance(package, dict):
        batch.reject(event_id, f"a {event} event without its {event!r} object", body)
        return batch
    if not is_container(package):
        batch.ignore()  # an npm, Maven, RubyGems, NuGet package
        return batch
    version = package.get("package_version")
    metadata = version.get("container_metadata") if isinstance(version, dict) else None
    tag_object = metadata.get("tag") if isinstance(metadata, dict) else None
    tag = _text(tag_object, "name")
    if tag is None:
        batch.ignore()  # a platform manifest of a multi-arch image, or a push by digest
        return batch
    owner = _text(package.get("owner"), "login")
    name = _text(package, "name")
    if owner is None or name is None:
        batch.reject(event_id, "a package without its owner's login or its name", package)
        return batch
    repository = f"{owner}/{name}".lower()  # GHCR's names are lower-case
    if not _storable(repository):
        batch.reject(
            event_id, "the package's owner or name holds a NUL character or a lone surrogate", package
        )
        return batch
    if not TAG_RE.match(tag):
        batch.reject(event_id, f"invalid tag {tag[:130]!r}", package)
        return batch
    digest = _digest(version) if isinstance(version, dict) else None
    if digest is None:
        batch.reject(
            event_id, "a tagged package version without a manifest digest (package_version.name)", package
        )
        return batch
    batch.add_push(
        PushToRecord(repository, tag, digest, source, external_id=event_id, registry_host=GHCR_HOST), package
    )
    return batch
