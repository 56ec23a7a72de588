"""The Distribution envelope parser on any JSON, and the registry receiver on any bytes.

``envelope_events`` and ``classify`` never raise, and what they let through as a tag push can be
stored: a valid tag and digest, bounded ids, Unicode text. Through the HTTP route, with a valid
source token, any body gets a 200 receipt or a 4xx in Quay's shape, never a 5xx.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regnotify.app import create_app
from regnotify.ingest.distribution import (
    DIGEST_RE,
    MANIFEST_MEDIA_TYPES,
    MAX_EXCERPT,
    TAG_RE,
    Skipped,
    TagPush,
    classify,
    envelope_events,
)

from .conftest import SeededApi, no_dns
from .strategies import FUZZ, any_text, encodable, json_values, mixed

EXAMPLES = 300
HTTP_EXAMPLES = 150
QUAY_ERROR_KEYS = {"status", "error_type", "title", "detail", "error_message", "type"}

DIGEST = "sha256:" + "a" * 64
targets = st.fixed_dictionaries(
    {},
    optional={
        "mediaType": mixed([*sorted(MANIFEST_MEDIA_TYPES), "application/octet-stream", ""]),
        "tag": mixed(["v1", "latest", "bad tag!", ".hidden", "x" * 129, "v\ud800"]),
        "repository": mixed(["acme/app", "Not/Valid", "acme/team/app", "a\ud800/b", ""]),
        "digest": mixed([DIGEST, "sha256:nope", "md5:" + "0" * 40, DIGEST + "\ud800"]),
    },
)
events = st.fixed_dictionaries(
    {"action": mixed(["push", "push", "push", "push", "pull", "mount", "delete"])},
    optional={
        "id": mixed(["e1", "x" * 256, "\ud800", "", "\ud800"]),
        "target": targets | json_values(),
        "request": mixed([{"host": "registry.example:5000"}, {"host": "h\udfff"}, {"host": "h" * 300}]),
    },
)
bodies = st.one_of(
    st.fixed_dictionaries({"events": st.lists(events | json_values(), max_size=5)}),
    events,
    st.lists(events, max_size=3),
    json_values(),
)


@settings(FUZZ, max_examples=EXAMPLES)
@given(body=bodies)
def test_parser_never_raises_and_lets_through_only_storable_pushes(body: Any) -> None:
    found = envelope_events(body)
    if found is None:
        return
    for event in found:
        outcome = classify(event)
        assert isinstance(outcome, TagPush | Skipped)
        if isinstance(outcome, Skipped):
            assert len(outcome.excerpt) <= MAX_EXCERPT + 1
            if outcome.rejected:  # stored, for superusers to read
                assert encodable([outcome.event_id, outcome.reason, outcome.excerpt]), outcome
            continue
        assert TAG_RE.match(outcome.tag) and DIGEST_RE.match(outcome.digest), outcome
        assert outcome.event_id is None or len(outcome.event_id) <= 255
        assert outcome.request_host is None or len(outcome.request_host) <= 255
        assert encodable([outcome.event_id, outcome.repository, outcome.request_host]), outcome


envelopes = st.fixed_dictionaries({"events": st.lists(events, min_size=1, max_size=4)})
raw_bodies = st.one_of(
    envelopes.map(lambda body: json.dumps(body).encode()),  # \ud800 escapes decode to lone surrogates
    bodies.map(lambda body: json.dumps(body).encode()),
    bodies.map(lambda body: json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")),
    st.binary(max_size=300),
    any_text.map(lambda text: text.encode("utf-8", "surrogatepass")),
)


@pytest.fixture(scope="module")
def receiver(seeded_api: SeededApi) -> Iterator[tuple[asyncio.Runner, httpx.AsyncClient]]:
    """A client for the seeded application, on an event loop the hypothesis examples share."""
    app = create_app(seeded_api.settings, resolver=no_dns)
    with asyncio.Runner() as runner:
        lifespan = app.router.lifespan_context(app)
        runner.run(lifespan.__aenter__())
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://regnotify.test")
        try:
            yield runner, client
        finally:
            runner.run(client.aclose())
            runner.run(lifespan.__aexit__(None, None, None))


@settings(FUZZ, max_examples=HTTP_EXAMPLES)
@given(body=raw_bodies, content_type=st.sampled_from(["application/json", "text/plain", None]))
def test_any_bytes_get_a_receipt_or_a_4xx(
    receiver: tuple[asyncio.Runner, httpx.AsyncClient],
    seeded_api: SeededApi,
    body: bytes,
    content_type: str | None,
) -> None:
    runner, client = receiver
    headers = {"Authorization": f"Bearer {seeded_api.source_token}"}
    if content_type:
        headers["Content-Type"] = content_type
    response = runner.run(client.post("/api/v1/registry/events", content=body, headers=headers))
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        assert response.json().keys() >= QUAY_ERROR_KEYS
    else:
        assert set(response.json()) == {"accepted", "duplicates", "ignored", "rejected"}
