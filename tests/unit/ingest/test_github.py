"""The GitHub ``package`` delivery parser, on octokit's example and the variants a real GHCR push sends."""

from __future__ import annotations

from typing import Any

import pytest

from regnotify.ingest.batch import SourceBatch
from regnotify.ingest.github import GHCR_HOST, is_container, read_delivery
from regnotify.ingest.pushes import PushToRecord

from ...github_samples import SAMPLE_DIGEST, delivery, sample

SOURCE = "github:ghcr"
INDEX = "sha256:" + "1" * 64
AMD64 = "sha256:" + "2" * 64
ARM64 = "sha256:" + "3" * 64


def read(body: Any, event: str | None = "package", delivery_id: str | None = "d-1") -> SourceBatch:
    return read_delivery(event, delivery_id, body, source=SOURCE)


def pushed(batch: SourceBatch) -> list[PushToRecord]:
    assert batch.rejected == [] and batch.ignored == 0, (batch.rejected, batch.ignored)
    return batch.pushes


def ignored(batch: SourceBatch) -> bool:
    return batch.pushes == [] and batch.rejected == [] and batch.ignored == 1


def rejected(batch: SourceBatch) -> str:
    assert batch.pushes == [] and batch.ignored == 0 and len(batch.rejected) == 1, batch
    assert batch.rejected[0].excerpt.encode("utf-8")
    return batch.rejected[0].reason


def test_octokits_example_is_a_container_version_without_a_tag_so_nothing_to_notify() -> None:
    body = sample()
    assert body["package"]["package_type"] == "npm" and body["package"]["ecosystem"] == "docker"
    assert is_container(body["package"])  # the ecosystem says docker
    assert ignored(read(body))


def test_a_tagged_container_version_is_a_tag_push_of_the_lower_case_ghcr_repository() -> None:
    assert pushed(read(delivery(tag="v1.2.0"))) == [
        PushToRecord(
            "codertocat/hello-world",
            "v1.2.0",
            SAMPLE_DIGEST,
            SOURCE,
            external_id="d-1",
            registry_host=GHCR_HOST,
        )
    ]


def test_the_legacy_registry_package_event_reads_the_same() -> None:
    legacy = delivery(event="registry_package")
    assert "package" not in legacy
    assert pushed(read(legacy, event="registry_package")) == pushed(read(delivery()))


@pytest.mark.parametrize(
    ("package_type", "ecosystem"),
    [("CONTAINER", "CONTAINER"), ("container", ""), ("npm", "docker"), ("docker", "")],
)
def test_container_packages_are_recognised_by_either_field(package_type: str, ecosystem: str) -> None:
    assert len(pushed(read(delivery(package_type=package_type, ecosystem=ecosystem)))) == 1


@pytest.mark.parametrize("kind", ["npm", "maven", "rubygems", "nuget"])
def test_packages_of_other_ecosystems_are_ignored(kind: str) -> None:
    assert ignored(read(delivery(package_type=kind, ecosystem=kind)))


def test_published_and_updated_are_pushes_other_actions_are_ignored() -> None:
    assert len(pushed(read(delivery(action="updated")))) == 1
    for action in ("created", "deleted", ""):
        assert ignored(read(delivery(action=action)))


@pytest.mark.parametrize("event", ["push", "ping", "workflow_run", "", None])
def test_other_events_are_ignored(event: str | None) -> None:
    assert ignored(read(delivery(), event=event))


def test_a_version_without_a_tag_is_not_a_tag_push() -> None:
    assert ignored(read(delivery(tag="")))
    assert ignored(read(delivery(tag=None)))
    body = delivery()
    del body["package"]["package_version"]["container_metadata"]
    assert ignored(read(body))


def test_a_multi_arch_push_notifies_once_with_the_index_digest() -> None:
    """GitHub fires once per manifest (github/docs#22091): platforms without a tag, the index with it."""
    deliveries = [
        read(delivery(tag="", digest=AMD64), delivery_id="d-amd64"),
        read(delivery(tag="", digest=ARM64), delivery_id="d-arm64"),
        read(delivery(tag="latest", digest=INDEX), delivery_id="d-index"),
    ]
    pushes = [push for batch in deliveries for push in batch.pushes]
    assert [(push.tag, push.digest, push.external_id) for push in pushes] == [("latest", INDEX, "d-index")]
    assert sum(batch.ignored for batch in deliveries) == 2


def test_the_delivery_id_is_the_external_id_when_it_can_be_stored() -> None:
    assert pushed(read(delivery(), delivery_id="72d3162e-cc78-11e3-81ab-4c9367dc0958"))[0].external_id == (
        "72d3162e-cc78-11e3-81ab-4c9367dc0958"
    )
    for unusable in (None, "", "x" * 256, "d-\x00", "d-\ud800"):
        assert pushed(read(delivery(), delivery_id=unusable))[0].external_id is None


def test_the_digest_comes_from_the_version_name_or_else_its_version() -> None:
    body = delivery()
    body["package"]["package_version"]["name"] = "not a digest"
    assert pushed(read(body))[0].digest == SAMPLE_DIGEST
    body["package"]["package_version"]["version"] = "1.0.0"
    assert "manifest digest" in rejected(read(body))


def test_what_cannot_be_used_is_rejected_with_the_reason() -> None:
    assert "JSON object" in rejected(read(["not", "an", "object"]))
    no_package = delivery()
    del no_package["package"]
    assert "without its 'package' object" in rejected(read(no_package))
    no_owner = delivery()
    del no_owner["package"]["owner"]
    assert "owner's login" in rejected(read(no_owner))
    assert "invalid tag" in rejected(read(delivery(tag="-bad tag")))
    assert "NUL" in rejected(read(delivery(name="app\x00")))
    assert "lone surrogate" in rejected(read(delivery(owner="acme\udfff")))


@pytest.mark.parametrize(
    "body",
    [
        None,
        1,
        "x",
        [],
        {},
        {"action": "published"},
        {"action": "published", "package": []},
        {"action": "published", "package": {"package_type": "CONTAINER", "package_version": "v"}},
        {
            "action": "published",
            "package": {"ecosystem": "docker", "package_version": {"container_metadata": 1}},
        },
        {
            "action": "published",
            "package": {
                "ecosystem": "docker",
                "package_version": {"container_metadata": {"tag": {"name": "v1"}}},
                "owner": {"login": "a"},
                "name": "b",
            },
        },
    ],
)
def test_no_json_value_raises(body: Any) -> None:
    batch = read(body)
    assert batch.pushes == []
