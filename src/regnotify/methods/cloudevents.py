"""CloudEvents 1.0 out: one webhook delivery as a CloudEvent over HTTP, structured or binary mode.

A webhook's ``format`` picks the shape of what it sends: ``quay`` (the bare payload, the default),
``cloudevents`` (structured mode: the whole event is the JSON body, ``application/cloudevents+json``)
or ``cloudevents-binary`` (binary mode: the attributes travel as ``ce-*`` headers, the body is the data).

The attributes (CloudEvents 1.0, HTTP protocol binding):
- ``specversion``: ``1.0``;
- ``id``: the delivery id, the same on every retry and redelivery (and the ``webhook-id`` header);
- ``source``: the repository's page, ``<public base URL>/repository/<namespace>/<name>`` (the
  payload's ``homepage`` for every kind but builds, whose ``homepage`` is the build's page);
- ``type``: ``io.regnotify.<event kind>``, e.g. ``io.regnotify.repo_push``;
- ``subject``: the tag the event is about, when it names one: the first of ``updated_tags``
  (repo_push), ``docker_tags`` (builds) or ``tags`` (the other kinds that list tags); absent otherwise;
- ``time``: when regnotify recorded the event (RFC 3339, UTC); absent when that is not known;
- ``datacontenttype``: ``application/json`` (in binary mode, the ``Content-Type`` header);
- ``data``: the body the ``quay`` format would send: the payload, or the notification's rendered
  template (a template always renders to JSON).

The data bytes are the same in both modes, and in structured mode they are spliced into the envelope
as they are, so a receiver sees exactly what the template or the payload produced.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from regnotify.methods.http_send import encode_json
from regnotify.methods.sending import Outgoing

FORMAT_QUAY = "quay"
FORMAT_STRUCTURED = "cloudevents"
FORMAT_BINARY = "cloudevents-binary"
FORMATS = (FORMAT_QUAY, FORMAT_STRUCTURED, FORMAT_BINARY)

SPEC_VERSION = "1.0"
TYPE_PREFIX = "io.regnotify."
DATA_CONTENT_TYPE = "application/json"
STRUCTURED_CONTENT_TYPE = "application/cloudevents+json"
HEADER_PREFIX = "ce-"
# Payload fields that list the tags an event is about, in the order they are looked for.
TAG_FIELDS = ("updated_tags", "docker_tags", "tags")
# What a ce-* header value may hold unencoded: printable ASCII but '"' and '%' (HTTP binding 3.1.3.2).
HEADER_SAFE = "".join(chr(code) for code in range(0x21, 0x7F) if chr(code) not in '"%')


@dataclass(frozen=True)
class CloudEventRequest:
    """What to POST: the body (exactly these bytes are signed) and the headers that go with it."""

    body: bytes
    headers: dict[str, str]


def event_type(event: str) -> str:
    """``io.regnotify.repo_push`` for ``repo_push``."""
    return TYPE_PREFIX + event


def repository_source(base_url: str, repository: str) -> str:
    """The repository's page, as every payload's ``homepage`` names it (builds aside)."""
    return f"{base_url.rstrip('/')}/repository/{repository}"


def first_tag(payload: Mapping[str, Any]) -> str | None:
    """The first tag the payload names (``updated_tags`` may be a map of tag to digest or a list)."""
    for name in TAG_FIELDS:
        tags = payload.get(name)
        if isinstance(tags, Mapping | list):
            for tag in tags:
                if isinstance(tag, str) and tag:
                    return tag
    return None


def rfc3339(when: datetime) -> str:
    """``2024-05-01T12:00:00.123456Z``: UTC, with a ``Z``; a naive value is taken to be UTC."""
    utc = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return utc.isoformat().replace("+00:00", "Z")


def attributes(outgoing: Outgoing, base_url: str) -> dict[str, str]:
    """The context attributes of the CloudEvent for this delivery, in the order they are sent."""
    values = {
        "specversion": SPEC_VERSION,
        "id": outgoing.delivery_id,
        "source": repository_source(base_url, outgoing.repository),
        "type": event_type(outgoing.event),
    }
    subject = first_tag(outgoing.payload)
    if subject is not None:
        values["subject"] = subject
    if outgoing.occurred_at is not None:
        values["time"] = rfc3339(outgoing.occurred_at)
    values["datacontenttype"] = DATA_CONTENT_TYPE
    return values


def header_value(value: str) -> str:
    """A ce-* header value, percent-encoded where the HTTP binding says it must be (UTF-8)."""
    return quote(value, safe=HEADER_SAFE)


def structured(attrs: Mapping[str, str], data: bytes) -> CloudEventRequest:
    """Structured mode: the attributes and ``data`` (JSON bytes, spliced in unchanged) as one document."""
    envelope = encode_json(dict(attrs))
    body = envelope[:-1] + b',"data":' + data + b"}"
    return CloudEventRequest(body, {"Content-Type": STRUCTURED_CONTENT_TYPE})


def binary(attrs: Mapping[str, str], data: bytes) -> CloudEventRequest:
    """Binary mode: the attributes as ``ce-*`` headers (``datacontenttype`` as ``Content-Type``), the
    data as the body."""
    headers = {"Content-Type": attrs.get("datacontenttype", DATA_CONTENT_TYPE)}
    for name, value in attrs.items():
        if name != "datacontenttype":
            headers[HEADER_PREFIX + name] = header_value(value)
    return CloudEventRequest(data, headers)


def cloud_event_request(fmt: str, outgoing: Outgoing, base_url: str, data: bytes) -> CloudEventRequest:
    """The request for ``fmt`` (``cloudevents`` or ``cloudevents-binary``) carrying ``data``."""
    attrs = attributes(outgoing, base_url)
    if fmt == FORMAT_STRUCTURED:
        return structured(attrs, data)
    if fmt == FORMAT_BINARY:
        return binary(attrs, data)
    raise ValueError(f"not a CloudEvents format: {fmt!r}; use {FORMAT_STRUCTURED} or {FORMAT_BINARY}")
