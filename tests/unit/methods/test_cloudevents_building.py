"""Building a delivery's CloudEvent: the attributes from the event, structured and binary mode."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from regnotify.events import EVENT_KINDS, RepositoryRef, get_event_kind
from regnotify.events.base import PayloadStyle
from regnotify.methods.cloudevents import (
    FORMAT_BINARY,
    FORMAT_STRUCTURED,
    attributes,
    binary,
    cloud_event_request,
    first_tag,
    header_value,
    rfc3339,
    structured,
)
from regnotify.methods.http_send import encode_json
from regnotify.methods.sending import Message, Outgoing

BASE_URL = "https://regnotify.test"
REPO = RepositoryRef("acme", "app", "registry.test", BASE_URL)
WHEN = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)


def outgoing_for(
    event: str, payload: dict[str, Any] | None = None, occurred_at: datetime | None = WHEN
) -> Outgoing:
    payload = payload if payload is not None else get_event_kind(event).sample_payload(REPO)
    return Outgoing(
        delivery_id=f"msg_{uuid.uuid4().hex}",
        attempt=1,
        event=event,
        payload=payload,
        message=Message(event, payload),
        repository="acme/app",
        namespace="acme",
        notification_uuid=str(uuid.uuid4()),
        notification_title=None,
        occurred_at=occurred_at,
    )


def test_a_push_has_every_attribute_in_order() -> None:
    payload = get_event_kind("repo_push").build_payload(
        REPO, {"updated_tags": {"v1.2": "sha256:" + "a" * 64, "latest": "sha256:" + "a" * 64}}
    )
    outgoing = outgoing_for("repo_push", payload)
    attrs = attributes(outgoing, BASE_URL)
    assert attrs == {
        "specversion": "1.0",
        "id": outgoing.delivery_id,
        "source": "https://regnotify.test/repository/acme/app",
        "type": "io.regnotify.repo_push",
        "subject": "v1.2",
        "time": "2024-05-01T12:30:15.123456Z",
        "datacontenttype": "application/json",
    }
    assert list(attrs) == ["specversion", "id", "source", "type", "subject", "time", "datacontenttype"]
    assert attrs["source"] == payload["homepage"]


def test_the_list_style_of_updated_tags_gives_the_same_subject() -> None:
    listed = RepositoryRef("acme", "app", "registry.test", BASE_URL, style=PayloadStyle(updated_tags="list"))
    payload = get_event_kind("repo_push").build_payload(
        listed, {"updated_tags": {"rc-1": "sha256:" + "b" * 64}}
    )
    assert payload["updated_tags"] == ["rc-1"]
    assert attributes(outgoing_for("repo_push", payload), BASE_URL)["subject"] == "rc-1"


@pytest.mark.parametrize("event", ["build_queued", "build_start", "build_success", "build_failure"])
def test_a_build_names_its_first_tag_and_the_repository_not_the_build_page(event: str) -> None:
    outgoing = outgoing_for(event)
    attrs = attributes(outgoing, BASE_URL)
    assert attrs["type"] == f"io.regnotify.{event}"
    assert attrs["subject"] == outgoing.payload["docker_tags"][0] == "latest"
    assert "/build?current=" in outgoing.payload["homepage"]
    assert attrs["source"] == "https://regnotify.test/repository/acme/app"


def test_a_build_without_tags_has_no_subject() -> None:
    payload = {**get_event_kind("build_failure").sample_payload(REPO), "docker_tags": []}
    assert "subject" not in attributes(outgoing_for("build_failure", payload), BASE_URL)


def test_kinds_that_list_tags_name_the_first_one() -> None:
    for event in ("vulnerability_found", "repo_image_expiry"):
        outgoing = outgoing_for(event)
        assert attributes(outgoing, BASE_URL)["subject"] == outgoing.payload["tags"][0], event


def test_kinds_without_tags_have_no_subject() -> None:
    untagged = [
        kind.name
        for kind in EVENT_KINDS.values()
        if not any(kind.sample_payload(REPO).get(name) for name in ("updated_tags", "docker_tags", "tags"))
    ]
    assert untagged  # the mirror kinds at least
    for event in untagged:
        assert "subject" not in attributes(outgoing_for(event), BASE_URL), event


@pytest.mark.parametrize(
    ("payload", "tag"),
    [
        ({"updated_tags": {}}, None),
        ({"updated_tags": ["", "x"]}, "x"),
        ({"updated_tags": [1, None]}, None),
        ({"updated_tags": "latest"}, None),
        ({"docker_tags": None, "tags": ["t"]}, "t"),
        ({}, None),
    ],
)
def test_first_tag_takes_only_tag_names(payload: dict[str, Any], tag: str | None) -> None:
    assert first_tag(payload) == tag


def test_time_is_left_out_when_the_event_time_is_not_known() -> None:
    attrs = attributes(outgoing_for("repo_push", occurred_at=None), BASE_URL)
    assert "time" not in attrs
    assert attrs["datacontenttype"] == "application/json"


@pytest.mark.parametrize(
    ("when", "text"),
    [
        (datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "2024-01-02T03:04:05Z"),
        (datetime(2024, 1, 2, 3, 4, 5), "2024-01-02T03:04:05Z"),  # naive: taken as UTC
        (
            datetime(2024, 1, 2, 5, 4, 5, 10, tzinfo=timezone(timedelta(hours=2))),
            "2024-01-02T03:04:05.000010Z",
        ),
    ],
)
def test_time_is_rfc3339_in_utc(when: datetime, text: str) -> None:
    assert rfc3339(when) == text
    assert datetime.fromisoformat(text) == when.replace(tzinfo=when.tzinfo or UTC)


def test_the_source_does_not_double_a_trailing_slash() -> None:
    assert (
        attributes(outgoing_for("repo_push"), BASE_URL + "/")["source"] == BASE_URL + "/repository/acme/app"
    )


def test_structured_mode_splices_the_data_bytes_unchanged() -> None:
    outgoing = outgoing_for("repo_push")
    data = b'{"zeta":1,"alpha":[true,null],"text":"caf\xc3\xa9 \\u2028"}'
    request = structured(attributes(outgoing, BASE_URL), data)
    assert request.headers == {"Content-Type": "application/cloudevents+json"}
    assert request.body.endswith(b',"data":' + data + b"}")
    document = json.loads(request.body)
    assert document == {**attributes(outgoing, BASE_URL), "data": json.loads(data)}
    assert list(document)[-1] == "data"


def test_structured_mode_carries_the_payload_as_data() -> None:
    outgoing = outgoing_for("build_success")
    request = cloud_event_request(FORMAT_STRUCTURED, outgoing, BASE_URL, encode_json(outgoing.payload))
    assert json.loads(request.body)["data"] == outgoing.payload


def test_binary_mode_sends_the_data_as_the_body_and_attributes_as_headers() -> None:
    outgoing = outgoing_for("repo_push")
    data = encode_json(outgoing.payload)
    request = cloud_event_request(FORMAT_BINARY, outgoing, BASE_URL, data)
    assert request.body is data
    assert request.headers == {
        "Content-Type": "application/json",
        "ce-specversion": "1.0",
        "ce-id": outgoing.delivery_id,
        "ce-source": "https://regnotify.test/repository/acme/app",
        "ce-type": "io.regnotify.repo_push",
        "ce-subject": "latest",
        "ce-time": "2024-05-01T12:30:15.123456Z",
    }


def test_binary_mode_without_subject_or_time_sends_no_such_headers() -> None:
    request = binary(attributes(outgoing_for("repo_mirror_sync_started", occurred_at=None), BASE_URL), b"{}")
    assert set(request.headers) == {"Content-Type", "ce-specversion", "ce-id", "ce-source", "ce-type"}


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        ("https://regnotify.test/repository/acme/app", "https://regnotify.test/repository/acme/app"),
        ("v1.2_rc-3+build~x", "v1.2_rc-3+build~x"),
        ("a b", "a%20b"),
        ('say "hi"', "say%20%22hi%22"),
        ("100%", "100%25"),
        ("café", "caf%C3%A9"),
        ("tab\there", "tab%09here"),
    ],
)
def test_header_values_are_percent_encoded_where_the_http_binding_says(value: str, sent: str) -> None:
    assert header_value(value) == sent
    assert sent.isascii() and " " not in sent


def test_only_the_two_cloudevents_formats_build_a_request() -> None:
    with pytest.raises(ValueError, match="not a CloudEvents format: 'quay'"):
        cloud_event_request("quay", outgoing_for("repo_push"), BASE_URL, b"{}")
