"""Harbor's webhooks: what each of its event types means for notifications.

Harbor posts one event per request, in its *Default* format (``{type, occur_at, operator,
event_data}``, ``read_default``) or as a CloudEvent (``ingest/cloudevents.py`` reads the envelope and
hands ``data``, which is the same ``event_data``, to ``add_event`` with the type mapped back through
``CLOUDEVENT_TYPES``). The mapping:

- ``PUSH_ARTIFACT`` → a tag push (``repo_push`` through the tag → digest window) of
  ``resources[].tag`` at ``resources[].digest``. Harbor puts the *digest* in ``tag`` when there is no
  tag: pushes by digest, robot pushes, proxy-cache fills and the platform manifests of a multi-arch
  image. Those are ignored; the image index's own event carries the tag, so a multi-arch image
  notifies once, with the index digest.
- ``SCANNING_COMPLETED`` → ``scan_completed`` from the vulnerability report's overview
  (``scan_overview``: severity, summary counts, fixable, scanner). An SBOM scan (no vulnerability
  overview) is ignored.
- ``SCANNING_FAILED`` / ``SCANNING_STOPPED`` → ``scan_failed`` with status ``failed`` / ``stopped``
  (Harbor gives no reason).
- ``REPLICATION`` → ``repo_mirror_sync_success`` (job status ``Success``), ``_failed`` (``Error``,
  ``Stopped``) or ``_started`` (``Running``, when the event names its repository) for the
  repository on this Harbor's side, with Quay's message ("'<remote>/<repository>' with tag
  pattern '<tags>'"). Harbor names the repository only in ``successful_artifact`` /
  ``failed_artifact``, so a status change that lists neither (usually ``Running``) and the waiting
  states (``Pending``, ``Scheduled``) are ignored.
- ``PULL_ARTIFACT``, ``DELETE_ARTIFACT``, ``QUOTA_EXCEED``, ``QUOTA_WARNING``, ``TAG_RETENTION`` and
  any type not listed → ignored (counted): no kind of ours fits.

The Default format has no event id; ``read_default`` derives one from the whole body
(``harbor:<sha256 of its canonical JSON>``): Harbor formats an event once and resends the same
body on a retry, so a retry is recognised, while a later push of the same tag (a new ``occur_at``)
is a new event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from regnotify.ingest.batch import NotTheFormat, SourceBatch, SourceEvent
from regnotify.ingest.mirror import mirror_message
from regnotify.ingest.pushes import PushToRecord
from regnotify.ingest.source_fields import (
    UNUSABLE_TEXT,
    count_at,
    derived_id,
    host_of_reference,
    host_of_url,
    is_digest,
    severity_name,
    text_at,
    unusable_text_at,
    valid_digest,
    valid_tag,
)

# Harbor's CloudEvents types, by the Default format's names (src/pkg/notifier/formats/cloudevents.go).
CLOUDEVENT_TYPES = {
    "harbor.artifact.pushed": "PUSH_ARTIFACT",
    "harbor.artifact.pulled": "PULL_ARTIFACT",
    "harbor.artifact.deleted": "DELETE_ARTIFACT",
    "harbor.scan.completed": "SCANNING_COMPLETED",
    "harbor.scan.failed": "SCANNING_FAILED",
    "harbor.scan.stopped": "SCANNING_STOPPED",
    "harbor.quota.exceeded": "QUOTA_EXCEED",
    "harbor.quota.warned": "QUOTA_WARNING",
    "harbor.replication.status.changed": "REPLICATION",
    "harbor.tag_retention.finished": "TAG_RETENTION",
}
MAPPED_TYPES = frozenset(
    {"PUSH_ARTIFACT", "SCANNING_COMPLETED", "SCANNING_FAILED", "SCANNING_STOPPED", "REPLICATION"}
)
SCAN_FAILURES = {"SCANNING_FAILED": "failed", "SCANNING_STOPPED": "stopped"}
REPLICATION_EVENTS = {
    "running": "repo_mirror_sync_started",
    "success": "repo_mirror_sync_success",
    "error": "repo_mirror_sync_failed",
    "stopped": "repo_mirror_sync_failed",
}
SEVERITIES = ("critical", "high", "medium", "low", "negligible", "unknown")
# One resource of an artifact event (repository, resource, event id, the event as posted) into the batch.
ResourceHandler = Callable[[SourceBatch, str, dict[str, Any], str | None, Any], None]
DEFAULT_FORMAT = "a Harbor webhook payload (Default format: {type, occur_at, operator, event_data})"


def read_default(body: Any, *, source: str) -> SourceBatch:
    """A Harbor *Default*-format payload: one event. NotTheFormat when it is not one at all."""
    if not isinstance(body, dict) or not isinstance(body.get("type"), str) or "event_data" not in body:
        raise NotTheFormat(f"the body is JSON but not {DEFAULT_FORMAT}")
    batch = SourceBatch(source)
    add_event(batch, body["type"], body["event_data"], event_id=derived_id("harbor", body), raw=body)
    return batch


def add_event(batch: SourceBatch, event_type: str, data: Any, *, event_id: str | None, raw: Any) -> None:
    """Sort one Harbor event (``data``: its ``event_data``) into ``batch``; ``event_id`` is its id at
    the source (derived for the Default format)."""
    kind = event_type.strip().upper()
    if kind in MAPPED_TYPES and not isinstance(data, dict):
        batch.reject(event_id, f"a Harbor {kind} event without its event_data object", raw)
        return
    if kind == "PUSH_ARTIFACT":
        _artifact_event(batch, data, event_id, raw, _push)
    elif kind == "SCANNING_COMPLETED":
        _artifact_event(batch, data, event_id, raw, _scan_completed)
    elif kind in SCAN_FAILURES:
        _artifact_event(batch, data, event_id, raw, _scan_failed(SCAN_FAILURES[kind]))
    elif kind == "REPLICATION":
        _replication(batch, data, event_id, raw)
    else:  # pulls, deletes, quota, tag retention, and types Harbor adds later
        batch.ignore()


def repository_of(data: dict[str, Any]) -> str | None:
    """``event_data.repository``'s full name (``project/name``; the name may hold ``/``)."""
    full_name = text_at(data, "repository", "repo_full_name")
    if full_name is not None:
        return full_name
    namespace, name = text_at(data, "repository", "namespace"), text_at(data, "repository", "name")
    return f"{namespace}/{name}" if namespace and name else None


def _artifact_event(
    batch: SourceBatch, data: dict[str, Any], event_id: str | None, raw: Any, handle: ResourceHandler
) -> None:
    """Each resource of an artifact event (Harbor sends exactly one) through ``handle``."""
    resources = data.get("resources")
    if any(unusable_text_at(data, "repository", key) for key in ("repo_full_name", "namespace", "name")):
        batch.reject(event_id, f"the repository's name {UNUSABLE_TEXT}", raw)
        return
    repository = repository_of(data)
    if not isinstance(resources, list) or not resources or repository is None:
        batch.reject(event_id, "a Harbor artifact event without its repository or resources", raw)
        return
    for index, resource in enumerate(resources):
        one_id = event_id if len(resources) == 1 or event_id is None else f"{event_id}/{index}"
        if not isinstance(resource, dict):
            batch.reject(one_id, "a Harbor resource must be a JSON object", raw)
            continue
        handle(batch, repository, resource, one_id, raw)


def _tag(resource: dict[str, Any]) -> str | None:
    """The resource's tag when it is one (not the digest Harbor puts there when there is none)."""
    tag = text_at(resource, "tag")
    return None if tag is None or is_digest(tag) else tag


def _push(
    batch: SourceBatch, repository: str, resource: dict[str, Any], event_id: str | None, raw: Any
) -> None:
    raw_tag = text_at(resource, "tag")
    if unusable_text_at(resource, "tag"):
        batch.reject(event_id, f"the tag {UNUSABLE_TEXT}", raw)
        return
    if raw_tag is None or is_digest(raw_tag):
        batch.ignore()  # pushed by digest: a robot, a proxy-cache fill, a platform manifest of an index
        return
    digest = text_at(resource, "digest")
    if not valid_tag(raw_tag):
        batch.reject(event_id, f"invalid tag {raw_tag[:130]!r}", raw)
    elif digest is None or not valid_digest(digest):
        batch.reject(event_id, f"invalid digest {(digest or '(none)')[:80]!r}", raw)
    else:
        host = host_of_reference(text_at(resource, "resource_url"))
        batch.add_push(
            PushToRecord(repository, raw_tag, digest, batch.source, external_id=event_id, registry_host=host),
            raw,
        )


def _vulnerability_overview(resource: dict[str, Any]) -> dict[str, Any] | None:
    """The vulnerability report's overview in ``scan_overview`` (keyed by the report's media type)."""
    overview = resource.get("scan_overview")
    if not isinstance(overview, dict):
        return None
    for media_type, report in overview.items():
        if isinstance(report, dict) and "vulnerability" in str(media_type).lower():
            return report
    reports = [report for report in overview.values() if isinstance(report, dict)]
    return reports[0] if len(reports) == 1 and "summary" in reports[0] else None


def _scanner(report: dict[str, Any] | None) -> dict[str, str | None] | None:
    scanner = report.get("scanner") if report is not None else None
    if not isinstance(scanner, dict):
        return None
    return {part: text_at(scanner, part) for part in ("name", "vendor", "version")}


def _image(resource: dict[str, Any]) -> dict[str, Any]:
    digest = text_at(resource, "digest")
    tag = _tag(resource)
    return {
        "tags": [tag] if tag is not None and valid_tag(tag) else [],
        "digest": digest if digest is not None and valid_digest(digest) else None,
    }


def _scan_completed(
    batch: SourceBatch, repository: str, resource: dict[str, Any], event_id: str | None, raw: Any
) -> None:
    report = _vulnerability_overview(resource)
    if report is None:
        if isinstance(resource.get("sbom_overview"), dict):
            batch.ignore()  # an SBOM scan: no vulnerability counts to tell
        else:
            batch.reject(event_id, "a SCANNING_COMPLETED resource without a vulnerability scan_overview", raw)
        return
    by_severity = (
        report.get("summary", {}).get("summary") if isinstance(report.get("summary"), dict) else None
    )
    counts = {name: 0 for name in SEVERITIES}
    if isinstance(by_severity, dict):
        for name, value in by_severity.items():
            if isinstance(name, str) and name.lower() in counts and isinstance(value, int):
                counts[name.lower()] = value
    total = count_at(report, "summary", "total")
    data = {
        **_image(resource),
        "scanner": _scanner(report),
        "counts": counts,
        "total": total if total is not None else sum(counts.values()),
        "fixable": count_at(report, "summary", "fixable"),
        "highest_severity": severity_name(text_at(report, "severity"), counts),
    }
    _add_scan(batch, "scan_completed", repository, resource, data, event_id, raw)


def _add_scan(
    batch: SourceBatch,
    kind: str,
    repository: str,
    resource: dict[str, Any],
    data: dict[str, Any],
    event_id: str | None,
    raw: Any,
) -> None:
    """A scan's event, for the registry host the scanned resource names."""
    batch.add_event(
        SourceEvent(
            repository,
            kind,
            data,
            external_id=event_id,
            registry_host=host_of_reference(text_at(resource, "resource_url")),
            raw=raw,
        )
    )


def _scan_failed(status: str) -> ResourceHandler:
    def handle(
        batch: SourceBatch, repository: str, resource: dict[str, Any], event_id: str | None, raw: Any
    ) -> None:
        data = {**_image(resource), "scanner": _scanner(_vulnerability_overview(resource)), "status": status}
        _add_scan(batch, "scan_failed", repository, resource, data, event_id, raw)

    return handle


def _replication(batch: SourceBatch, data: dict[str, Any], event_id: str | None, raw: Any) -> None:
    replication = data.get("replication")
    if not isinstance(replication, dict):
        batch.reject(event_id, "a Harbor REPLICATION event without its replication object", raw)
        return
    status = (text_at(replication, "job_status") or "").lower()
    kind = REPLICATION_EVENTS.get(status)
    artifacts = [
        artifact
        for key in ("successful_artifact", "failed_artifact")
        if isinstance(replication.get(key), list)
        for artifact in replication[key]
        if isinstance(artifact, dict) and text_at(artifact, "name_tag")
    ]
    if kind is None or not artifacts:
        batch.ignore()  # waiting (Pending, Scheduled), or a status change that names no repository
        return
    local, remote = _sides(replication)
    namespace = text_at(local, "namespace")
    if namespace is None:
        batch.reject(event_id, "a Harbor REPLICATION event without the namespace on Harbor's side", raw)
        return
    for index, artifact in enumerate(artifacts):
        one_id = event_id if len(artifacts) == 1 or event_id is None else f"{event_id}/{index}"
        name, tags = _name_and_tags(text_at(artifact, "name_tag") or "")
        if not name:
            batch.reject(one_id, "a replicated artifact whose name_tag names no repository", raw)
            continue
        remote_host = host_of_url(text_at(remote, "endpoint")) or text_at(remote, "endpoint") or "remote"
        remote_namespace = text_at(remote, "namespace")
        remote_path = f"{remote_namespace}/{name}" if remote_namespace else name
        error = None
        if kind == "repo_mirror_sync_failed":
            error = text_at(artifact, "fail_reason") or f"the replication job ended with status {status}"
        batch.add_event(
            SourceEvent(
                f"{namespace}/{name}",
                kind,
                {"message": mirror_message(f"{remote_host}/{remote_path}", tags, error)},
                external_id=one_id,
                registry_host=host_of_url(text_at(local, "endpoint")),
                raw=raw,
            )
        )


def _sides(replication: dict[str, Any]) -> tuple[Any, Any]:
    """(Harbor's side, the remote registry's side) of a replication: the remote one is named
    (``registry_name``), Harbor's own is not; a pull (remote → Harbor) when neither tells."""
    source, destination = replication.get("src_resource"), replication.get("dest_resource")
    remote_is_destination = isinstance(destination, dict) and text_at(destination, "registry_name")
    if remote_is_destination and isinstance(source, dict) and not text_at(source, "registry_name"):
        return source, destination
    return destination, source


def _name_and_tags(name_tag: str) -> tuple[str, str | None]:
    """``alpine [1 item(s) in total]``, ``alpine:[v1,v2]``, ``alpine:v1`` → the repository name
    and the tags (as Quay's tag pattern) when the text gives them."""
    head = name_tag.split(" ", 1)[0]
    name, _, tags = head.partition(":")
    tags = tags.strip("[]")
    return name.strip(), tags or None
