"""CloudEvents in: the three HTTP modes (on the spec's own examples), zot's event types matched by
suffix (on zot's documented data), and Harbor's CloudEvents mapped as its Default format."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from regnotify.events import RepositoryRef, get_event_kind
from regnotify.ingest.batch import NotTheFormat, SourceBatch
from regnotify.ingest.cloudevents import CloudEvent, read_batch, read_request
from tests.source_samples import (
    DATA,
    HARBOR_DIGEST,
    as_cloudevent,
    digest,
    harbor_push,
    harbor_scan,
    sample,
    zot_data,
    zot_headers,
    zot_scanned,
)

SOURCE = "cloudevents:zot"
STRUCTURED = "application/cloudevents+json"
ZOT_ID = "3f1c1e6a-0000-4000-8000-000000000001"


def binary_request(text: str) -> tuple[dict[str, str], bytes]:
    """The spec's binary-mode example (headers, a blank line, the body) as headers and body."""
    head, _, body = text.partition("\n\n")
    headers = dict(line.split(": ", 1) for line in head.splitlines())
    return headers, body.encode()


def zot(data: Any, **headers: Any) -> SourceBatch:
    sent = zot_headers(**headers)
    return read_batch(sent["Content-Type"], sent, json.dumps(data).encode(), source=SOURCE)


def structured(event: Any, content_type: str = STRUCTURED) -> SourceBatch:
    return read_batch(content_type, {}, json.dumps(event).encode(), source=SOURCE)


def test_the_specs_structured_example_is_read() -> None:
    body = (DATA / "cloudevents" / "structured.json-object-data.json").read_bytes()
    (event,) = read_request(STRUCTURED, {}, body)
    assert isinstance(event, CloudEvent)
    assert (event.id, event.source, event.type, event.subject) == (
        "C234-1234-1234",
        "/mycontext",
        "com.example.someevent",
        None,  # "subject": null is an absent attribute
    )
    assert event.data == {"appinfoA": "abc", "appinfoB": 123, "appinfoC": True} and event.data_is_json


def test_the_specs_binary_example_is_read() -> None:
    headers, body = binary_request((DATA / "cloudevents" / "binary.json-object-data.http.txt").read_text())
    (event,) = read_request(headers["content-type"], headers, body)
    assert isinstance(event, CloudEvent)
    assert (event.id, event.source, event.type, event.time) == (
        "C234-1234-1234",
        "/mycontext",
        "com.example.someevent",
        "2018-04-05T17:31:00Z",
    )
    assert event.data == {"appinfoA": "abc", "appinfoB": 123, "appinfoC": True}


def test_the_specs_batch_example_is_read_event_by_event() -> None:
    body = (DATA / "cloudevents" / "batch.two-events.json").read_bytes()
    first, second = read_request("application/cloudevents-batch+json", {}, body)
    assert isinstance(first, CloudEvent) and isinstance(second, CloudEvent)
    assert (first.id, first.data_is_json) == ("B234-1234-1234", False)  # thrift, base64 (and not even that)
    assert (second.id, second.data) == (
        "C234-1234-1234",
        {"appinfoA": "abc", "appinfoB": 123, "appinfoC": True},
    )


def test_events_of_types_nothing_of_ours_fits_are_ignored() -> None:
    body = (DATA / "cloudevents" / "batch.two-events.json").read_bytes()
    batch = read_batch("application/cloudevents-batch+json", {}, body, source=SOURCE)
    assert batch.ignored == 2 and not batch.pushes and not batch.events and not batch.rejected


def test_binary_mode_attributes_are_percent_decoded() -> None:
    headers = {**zot_headers(), "ce-source": "https%3A%2F%2Fzot.example.com"}
    (event,) = read_request("application/json", headers, json.dumps(zot_data()).encode())
    assert isinstance(event, CloudEvent) and event.source == "https://zot.example.com"


def test_data_base64_holding_json_is_decoded() -> None:
    event = {
        "specversion": "1.0",
        "id": "1",
        "source": "zotregistry.dev",
        "type": "zotregistry.image.updated",
        "data_base64": base64.b64encode(json.dumps(zot_data()).encode()).decode(),
    }
    (push,) = structured(event).pushes
    assert (push.tag, push.digest) == ("latest", digest("b"))


def test_a_structured_event_sent_as_plain_json_is_taken() -> None:
    event = as_cloudevent(harbor_push("v1"), "harbor.artifact.pushed")
    assert len(structured(event, "application/json").pushes) == 1


@pytest.mark.parametrize(
    ("content_type", "headers", "body", "message"),
    [
        ("application/json", {}, b'{"name": "acme/app"}', "not a CloudEvent"),
        ("text/plain", {}, b"hello", "not a CloudEvent"),
        (STRUCTURED, {}, b"[1, 2]", "must be a JSON object"),
        (
            STRUCTURED,
            {},
            b'{"specversion": "0.3", "id": "1", "source": "s", "type": "t"}',
            "specversion must be 1.0",
        ),
        (STRUCTURED, {}, b'{"specversion": "1.0", "id": "1", "type": "t"}', "source missing"),
        (STRUCTURED, {}, b"not json", "not JSON"),
        ("application/cloudevents-batch+json", {}, b"{}", "JSON array"),
        ("application/json", {"ce-specversion": "1.0", "ce-id": "1"}, b"{}", "source, type missing"),
    ],
)
def test_requests_holding_no_readable_event_are_not_the_format(
    content_type: str, headers: dict[str, str], body: bytes, message: str
) -> None:
    with pytest.raises(NotTheFormat, match=message):
        read_request(content_type, headers, body)


def test_an_unreadable_event_in_a_batch_is_rejected_alone() -> None:
    good = {
        "specversion": "1.0",
        "id": "1",
        "source": "zotregistry.dev",
        "type": "zotregistry.image.updated",
        "data": zot_data(),
    }
    batch = read_batch(
        "application/cloudevents-batch+json", {}, json.dumps([{"id": 2}, good]).encode(), source=SOURCE
    )
    assert len(batch.pushes) == 1
    (rejection,) = batch.rejected
    assert "specversion" in rejection.reason


def test_a_zot_image_update_is_a_tag_push() -> None:
    batch = zot(zot_data("latest", digest("b")))
    (push,) = batch.pushes
    assert (push.repository, push.tag, push.digest, push.source) == (
        "space/my-image",
        "latest",
        digest("b"),
        SOURCE,
    )
    assert push.external_id == f"zotregistry.dev {ZOT_ID}"  # source and id: unique per event
    assert push.registry_host is None  # zot's default source names no host


def test_the_registry_host_comes_from_a_source_that_is_a_url() -> None:
    (push,) = zot(zot_data(), source="https://registry.example.com").pushes
    assert push.registry_host == "registry.example.com"


def test_zot_types_are_matched_by_suffix_whatever_the_prefix() -> None:
    (push,) = zot(zot_data(), event_type="com.example.registry.image.updated").pushes
    assert push.tag == "latest"


def test_an_untagged_manifest_is_not_a_tag_push() -> None:
    """zot sends reference = the digest for a push by digest and each platform manifest of an index."""
    batch = zot(zot_data(digest("c"), digest("c")))
    assert batch.ignored == 1 and not batch.pushes


def test_a_multi_arch_push_is_one_tag_push_of_the_index_digest() -> None:
    batches = [zot(zot_data(digest(c), digest(c)), event_id=c) for c in "cd"]
    batches.append(zot(zot_data("v2", digest("e")), event_id="e"))
    pushes = [push for batch in batches for push in batch.pushes]
    assert [(p.tag, p.digest) for p in pushes] == [("v2", digest("e"))]
    assert sum(batch.ignored for batch in batches) == 2


def test_the_documented_data_with_its_placeholder_digest_is_rejected() -> None:
    """zot's docs write the digest as ``sha256:abc...``: no real manifest digest, so no push."""
    batch = zot(sample("zot", "image-updated.data.json"))
    (rejection,) = batch.rejected
    assert "invalid digest" in rejection.reason and rejection.event_id == f"zotregistry.dev {ZOT_ID}"
    assert '"space/my-image"' in rejection.excerpt


@pytest.mark.parametrize("suffix", ["image.deleted", "image.lint_failed", "repository.created"])
def test_zots_deletes_lint_failures_and_new_repositories_are_ignored(suffix: str) -> None:
    batch = zot(zot_data(), event_type=f"zotregistry.{suffix}")
    assert batch.ignored == 1 and not batch.pushes and not batch.events


def test_a_zot_event_whose_data_is_not_an_object_is_rejected() -> None:
    batch = zot(["not", "an", "object"])
    assert "not a JSON object" in batch.rejected[0].reason
    batch = zot({"reference": "latest"})
    assert "data.name" in batch.rejected[0].reason


def test_a_zot_scan_is_scan_completed() -> None:
    data = zot_scanned(
        count=7,
        fixableCount=2,
        criticalCount=1,
        highCount=2,
        mediumCount=3,
        lowCount=1,
        maxSeverity="CRITICAL",
    )
    batch = zot(data, event_type="zotregistry.image.scanned")
    (event,) = batch.events
    assert (event.repository, event.kind, event.external_id) == (
        "space/my-image",
        "scan_completed",
        f"zotregistry.dev {ZOT_ID}",
    )
    assert dict(event.data) == {
        "tags": ["latest"],
        "digest": digest("b"),
        "scanner": None,  # zot does not say
        "counts": {"critical": 1, "high": 2, "medium": 3, "low": 1, "unknown": 0},
        "total": 7,
        "fixable": 2,
        "highest_severity": "Critical",
    }
    payload = get_event_kind("scan_completed").build_payload(
        RepositoryRef("space", "my-image", "h", "https://x"), event.data
    )
    assert payload["counts"]["negligible"] == 0 and payload["highest_severity"] == "Critical"


@pytest.mark.parametrize(
    ("max_severity", "expected"), [("NONE", "None"), ("none", "None"), (None, "High"), ("odd", "High")]
)
def test_a_zot_scans_highest_severity_falls_back_to_its_counts(
    max_severity: str | None, expected: str
) -> None:
    data = zot_scanned(
        digest("c"), digest("c"), count=1, highCount=1 if expected == "High" else 0, maxSeverity=max_severity
    )
    (event,) = zot(data, event_type="zotregistry.image.scanned").events
    assert event.data["highest_severity"] == expected and event.data["tags"] == []


def test_harbors_cloudevents_are_mapped_as_its_default_format() -> None:
    pushed = structured(as_cloudevent(harbor_push("v1"), "harbor.artifact.pushed"))
    (push,) = pushed.pushes
    assert (push.repository, push.tag, push.digest) == ("harbor/alpine", "v1", HARBOR_DIGEST)
    assert push.external_id == "/projects/2/webhook/policies/15 66e18103-09c1-41f6-982f-37df223f3eeb"
    children = structured(as_cloudevent(harbor_push(None), "harbor.artifact.pushed"))
    assert children.ignored == 1 and not children.pushes


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("scanning-completed.cloudevents.json", "scan_completed"),
        ("replication.cloudevents.json", "repo_mirror_sync_success"),
    ],
)
def test_harbors_documented_cloudevents(name: str, kind: str) -> None:
    (event,) = structured(sample("harbor", name)).events
    assert event.kind == kind and event.repository == "harbor/alpine"


def test_harbors_other_cloudevents_are_ignored() -> None:
    assert structured(sample("harbor", "delete-artifact.cloudevents.json")).ignored == 1
    failed = structured(as_cloudevent(harbor_scan(event_type="SCANNING_FAILED"), "harbor.scan.failed"))
    assert failed.events[0].kind == "scan_failed"
    assert structured(as_cloudevent(harbor_push("v1"), "harbor.something.new")).ignored == 1


def test_a_long_source_and_id_still_make_an_id_that_fits() -> None:
    (push,) = zot(zot_data(), source="https://zot.example.com/" + "x" * 300).pushes
    assert (
        push.external_id is not None
        and len(push.external_id) <= 255
        and push.external_id.startswith("cloudevent:")
    )


@pytest.mark.parametrize(
    ("key", "value"), [("name", "acme/a\x00pp"), ("reference", "v1\x00"), ("reference", "v\ud800")]
)
def test_text_a_database_cannot_store_is_refused(key: str, value: str) -> None:
    data = zot_data()
    data[key] = value
    (rejection,) = zot(data).rejected
    assert f"data.{key} holds a NUL character or a lone surrogate" in rejection.reason
