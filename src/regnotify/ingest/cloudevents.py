"""CloudEvents 1.0 over HTTP in: reading the event (binary, structured or batched mode) and what each
event type means for notifications.

**Reading** (CloudEvents HTTP protocol binding): the ``Content-Type`` picks the mode. It starts with
``application/cloudevents-batch``: a JSON array of structured events. It starts with
``application/cloudevents``: structured, the body is the event as JSON (``data``, or
``data_base64``). Anything else: binary, every attribute in a ``ce-<name>`` header
(percent-encoded) and the body is ``data``, of the type ``Content-Type`` names; without any
``ce-*`` header, a JSON object holding ``specversion`` is taken as a structured event. An event needs
``specversion`` 1.0, ``id``, ``source`` and ``type``; a request with none readable is
``NotTheFormat`` (a 400). In a batch, one unreadable event is refused alone.

**Mapping**, by ``type``:

- ``harbor.*`` (Harbor's CloudEvents format): ``data`` is Harbor's ``event_data``, mapped as
  ``ingest/harbor.py`` maps its Default format.
- zot's types, matched by suffix (zot's prefix is configurable, ``typePrefix``):
  ``*.image.updated`` → a tag push of ``data.name:data.reference`` at ``data.digest`` (the tag →
  digest window); a ``reference`` that is a digest (an untagged manifest, a platform manifest of a
  multi-arch image, a referrer) is ignored, so a multi-arch image notifies once, with the index
  digest its tag names. ``*.image.scanned`` → ``scan_completed`` from ``data.summary``.
  ``*.image.deleted``, ``*.image.lint_failed``, ``*.repository.created`` → ignored.
- any other type → ignored (counted).

An event's id here is ``source`` and ``id`` together (``<source> <id>``, or its SHA-256 when that is
longer than the column): the spec makes that pair unique, and a sender resends an event with the
same pair. The registry host for ``docker_url`` is ``source``'s when it is an absolute URL (zot's
``source`` setting; its default ``zotregistry.dev`` names no host).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from regnotify.ingest import harbor
from regnotify.ingest.batch import NotTheFormat, SourceBatch, SourceEvent
from regnotify.ingest.pushes import PushToRecord
from regnotify.ingest.source_fields import (
    UNUSABLE_TEXT,
    bounded_id,
    count_at,
    host_of_url,
    is_digest,
    severity_name,
    text_at,
    unusable_text_at,
    valid_digest,
    valid_tag,
)

STRUCTURED = "application/cloudevents"
BATCHED = "application/cloudevents-batch"
REQUIRED = ("id", "source", "type")
MAX_BATCH = 1000
# zot's summary counts, by our severity names
ZOT_COUNTS = {
    "critical": "criticalCount",
    "high": "highCount",
    "medium": "mediumCount",
    "low": "lowCount",
    "unknown": "unknownCount",
}
IGNORED_ZOT_SUFFIXES = (".image.deleted", ".image.lint_failed", ".repository.created")


@dataclass(frozen=True)
class CloudEvent:
    """One CloudEvent: its required context attributes, ``data`` (parsed JSON, or None when the
    event has none or it is not JSON: ``data_is_json`` tells) and what was posted, for excerpts."""

    id: str
    source: str
    type: str
    time: str | None = None
    subject: str | None = None
    data: Any = None
    data_is_json: bool = True
    raw: Any = field(default=None, compare=False)

    @property
    def key(self) -> str:
        """The event's identity: ``source`` and ``id`` (the spec makes the pair unique)."""
        return bounded_id(f"{self.source} {self.id}", "cloudevent")


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_json_media_type(value: str) -> bool:
    """``application/json``, ``text/json`` or any ``+json`` type; no type at all means JSON too."""
    return not value or value in ("application/json", "text/json") or value.endswith("+json")


# Parses a JSON body (``what`` completes "send ..."), raising what the caller answers a bad one with.
JsonParser = Callable[[bytes, str], Any]


def parse_json(body: bytes, what: str) -> Any:
    """The default ``JsonParser``: NotTheFormat for a body that is not UTF-8 JSON."""
    try:
        return json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise NotTheFormat(f"the body is not JSON: send {what}") from None


def read_request(
    content_type: str | None, headers: Mapping[str, str], body: bytes, *, parse: JsonParser = parse_json
) -> list[CloudEvent | str]:
    """The events of one request: each a CloudEvent, or (in a batch) why that one is unreadable.
    NotTheFormat when the request holds no readable event at all; ``parse`` reads JSON bodies."""
    kind = media_type(content_type)
    if kind.startswith(BATCHED):
        parsed = parse(body, "a JSON array of CloudEvents (batched mode)")
        if not isinstance(parsed, list):
            raise NotTheFormat("a batched CloudEvents body must be a JSON array of events")
        if len(parsed) > MAX_BATCH:
            raise NotTheFormat(f"the batch holds {len(parsed)} events; send at most {MAX_BATCH}")
        events: list[CloudEvent | str] = []
        for item in parsed:
            try:
                events.append(structured(item))
            except NotTheFormat as exc:
                events.append(str(exc))
        return events
    if kind.startswith(STRUCTURED):
        return [structured(parse(body, "a CloudEvent as JSON (structured mode)"))]
    return [binary(headers, body, kind, parse=parse)]


def read_batch(
    content_type: str | None,
    headers: Mapping[str, str],
    body: bytes,
    *,
    source: str,
    parse: JsonParser = parse_json,
) -> SourceBatch:
    """A request's CloudEvents sorted into a batch (``source``: what its events are stored under)."""
    batch = SourceBatch(source)
    for event in read_request(content_type, headers, body, parse=parse):
        if isinstance(event, str):
            batch.reject(None, event, None)
        else:
            add_event(batch, event)
    return batch


def _attributes(event: Mapping[str, Any], mode: str) -> dict[str, str]:
    if event.get("specversion") != "1.0":
        raise NotTheFormat(f"not a CloudEvents 1.0 event ({mode}): specversion must be 1.0")
    found = {name: text_at(dict(event), name) for name in REQUIRED}
    missing = [name for name, value in found.items() if value is None]
    if missing:
        raise NotTheFormat(
            f"a CloudEvent ({mode}) needs the attributes id, source and type: {', '.join(missing)} missing"
        )
    return {name: value for name, value in found.items() if value is not None}


def structured(event: Any) -> CloudEvent:
    """An event in structured mode (the JSON event format); NotTheFormat when it is not one."""
    if not isinstance(event, dict):
        raise NotTheFormat("a CloudEvent in structured mode must be a JSON object")
    attributes = _attributes(event, "structured mode")
    content = media_type(text_at(event, "datacontenttype"))
    data: Any = event.get("data")
    data_is_json = is_json_media_type(content)
    if "data" not in event and "data_base64" in event:  # binary data, base64-encoded
        data, data_is_json = _decoded(event.get("data_base64"), data_is_json)
    return CloudEvent(
        attributes["id"],
        attributes["source"],
        attributes["type"],
        time=text_at(event, "time"),
        subject=text_at(event, "subject"),
        data=data,
        data_is_json=data_is_json,
        raw=event,
    )


def _decoded(encoded: Any, is_json: bool) -> tuple[Any, bool]:
    """``data_base64``'s data, parsed when its type is JSON: (data, whether it is JSON)."""
    try:
        decoded = base64.b64decode(encoded if isinstance(encoded, str) else "", validate=True)
        return (json.loads(decoded.decode("utf-8")), True) if is_json else (None, False)
    except (binascii.Error, UnicodeDecodeError, ValueError, RecursionError):
        return None, False


def binary(
    headers: Mapping[str, str], body: bytes, content: str, *, parse: JsonParser = parse_json
) -> CloudEvent:
    """An event in binary mode: attributes in ``ce-*`` headers, ``body`` its data."""
    attributes = {
        name.lower()[3:]: unquote(value)
        for name, value in headers.items()
        if name.lower().startswith("ce-") and len(name) > 3
    }
    if not attributes:
        # no ce-* header: a structured event sent as plain JSON (senders do that) is taken as one
        parsed = parse(body, "a CloudEvent") if body and is_json_media_type(content) else None
        if isinstance(parsed, dict) and "specversion" in parsed:
            return structured(parsed)
        raise NotTheFormat(
            "not a CloudEvent: send binary mode (ce-specversion, ce-id, ce-source and ce-type headers, "
            "the data as the body) or structured mode (Content-Type: application/cloudevents+json)"
        )
    checked = _attributes(attributes, "binary mode")
    data: Any = None
    data_is_json = is_json_media_type(content)
    if body and data_is_json:
        data = parse(body, "the event's data as JSON (the Content-Type says JSON)")
    elif body:
        data_is_json = False
    excerpt = {
        "attributes": attributes,
        "data": data if data_is_json else f"({len(body)} bytes of {content})",
    }
    return CloudEvent(
        checked["id"],
        checked["source"],
        checked["type"],
        time=attributes.get("time"),
        subject=attributes.get("subject"),
        data=data,
        data_is_json=data_is_json,
        raw=excerpt,
    )


def add_event(batch: SourceBatch, event: CloudEvent) -> None:
    """Sort one CloudEvent into ``batch`` by its type."""
    event_type = event.type
    if event_type.startswith("harbor."):
        harbor_type = harbor.CLOUDEVENT_TYPES.get(event_type)
        if harbor_type is None:
            batch.ignore()
        else:
            harbor.add_event(batch, harbor_type, event.data, event_id=event.key, raw=event.raw)
    elif event_type.endswith(".image.updated"):
        _zot_image(batch, event, _zot_push)
    elif event_type.endswith(".image.scanned"):
        _zot_image(batch, event, _zot_scan)
    else:  # zot's deletes, lint failures and new repositories, and every type of other senders
        batch.ignore()


# One zot image event (the event, the repository's name, its data object) into the batch.
ZotHandler = Callable[[SourceBatch, CloudEvent, str, dict[str, Any]], None]


def _zot_image(batch: SourceBatch, event: CloudEvent, handle: ZotHandler) -> None:
    data = event.data
    if not event.data_is_json or not isinstance(data, dict):
        batch.reject(event.key, f"a {event.type} event whose data is not a JSON object", event.raw)
        return
    name = text_at(data, "name")
    for key in ("name", "reference"):
        if unusable_text_at(data, key):
            batch.reject(event.key, f"data.{key} {UNUSABLE_TEXT}", event.raw)
            return
    if name is None:
        batch.reject(event.key, f"a {event.type} event without the repository's name (data.name)", event.raw)
        return
    handle(batch, event, name, data)


def _zot_push(batch: SourceBatch, event: CloudEvent, repository: str, data: dict[str, Any]) -> None:
    reference = text_at(data, "reference")
    if reference is None or is_digest(reference):
        batch.ignore()  # an untagged manifest: a platform manifest of an index, a referrer, a push by digest
        return
    digest = text_at(data, "digest")
    if not valid_tag(reference):
        batch.reject(event.key, f"invalid tag {reference[:130]!r}", event.raw)
    elif digest is None or not valid_digest(digest):
        batch.reject(event.key, f"invalid digest {(digest or '(none)')[:80]!r}", event.raw)
    else:
        push = PushToRecord(
            repository,
            reference,
            digest,
            batch.source,
            external_id=event.key,
            registry_host=host_of_url(event.source),
        )
        batch.add_push(push, event.raw)


def _zot_scan(batch: SourceBatch, event: CloudEvent, repository: str, data: dict[str, Any]) -> None:
    summary = data.get("summary")
    if not isinstance(summary, dict):
        batch.reject(event.key, f"a {event.type} event without its summary", event.raw)
        return
    counts = {name: count_at(summary, key) or 0 for name, key in ZOT_COUNTS.items()}
    reference = text_at(data, "reference")
    digest = text_at(data, "digest")
    total = count_at(summary, "count")
    fields = {
        "tags": [reference]
        if reference is not None and not is_digest(reference) and valid_tag(reference)
        else [],
        "digest": digest if digest is not None and valid_digest(digest) else None,
        "scanner": None,  # zot does not say which scanner (or version) it ran
        "counts": counts,
        "total": total if total is not None else sum(counts.values()),
        "fixable": count_at(summary, "fixableCount"),
        "highest_severity": severity_name(text_at(summary, "maxSeverity"), counts),
    }
    batch.add_event(
        SourceEvent(
            repository,
            "scan_completed",
            fields,
            external_id=event.key,
            registry_host=host_of_url(event.source),
            raw=event.raw,
        )
    )
