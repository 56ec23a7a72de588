"""The Distribution envelope parser: what it lets through as a tag push must be storable."""

from __future__ import annotations

from typing import Any

from regnotify.ingest.distribution import Skipped, TagPush, classify

DIGEST = "sha256:" + "a" * 64


def push(**extra: Any) -> dict[str, Any]:
    target = {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "repository": "acme/app",
        "tag": "v1",
        "digest": DIGEST,
    }
    return {"action": "push", "target": target, **extra}


def test_event_ids_that_are_not_unicode_text_are_rejected() -> None:
    """A \\ud800 escape in the id once reached the database and failed the whole envelope with a 500."""
    outcome = classify(push(id="event-\ud800"))
    assert isinstance(outcome, Skipped) and outcome.rejected
    assert outcome.event_id is None and "surrogate" in outcome.reason
    assert outcome.excerpt.encode("utf-8")


def test_request_hosts_that_are_not_unicode_text_are_dropped() -> None:
    outcome = classify(push(id="e1", request={"host": "registry\udfff:5000"}))
    assert outcome == TagPush("e1", "acme/app", "v1", DIGEST, None)
    assert classify(push(request={"host": "registry:5000"})) == TagPush(
        None, "acme/app", "v1", DIGEST, "registry:5000"
    )
