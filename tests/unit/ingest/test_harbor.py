"""Harbor's Default format (and its event mapping, which its CloudEvents format shares): built on the
payloads of Harbor's documentation (tests/data/sources/harbor/) and variants of them."""

from __future__ import annotations

from typing import Any

import pytest

from regnotify.events import RepositoryRef, get_event_kind
from regnotify.ingest.batch import NotTheFormat, SourceBatch
from regnotify.ingest.harbor import read_default
from tests.source_samples import (
    HARBOR_DIGEST,
    digest,
    harbor_push,
    harbor_replication,
    harbor_scan,
    sample,
)

SOURCE = "harbor:ci"
REPO_REF = RepositoryRef("harbor", "alpine", "harbor.example.com", "https://regnotify.test")


def read(body: Any) -> SourceBatch:
    return read_default(body, source=SOURCE)


def only_event(batch: SourceBatch) -> tuple[str, dict[str, Any]]:
    """The batch's one event of another kind, its data checked against the kind's own payload model."""
    assert not batch.pushes and not batch.rejected and batch.ignored == 0, batch
    (event,) = batch.events
    assert event.repository == "harbor/alpine"
    get_event_kind(event.kind).build_payload(REPO_REF, event.data)  # raises if the kind would refuse it
    return event.kind, dict(event.data)


def test_a_push_with_a_tag_is_a_tag_push_through_the_window() -> None:
    batch = read(harbor_push("v1"))
    (push,) = batch.pushes
    assert (push.repository, push.tag, push.digest, push.source) == (
        "harbor/alpine",
        "v1",
        HARBOR_DIGEST,
        SOURCE,
    )
    assert push.registry_host == "harbor.example.com"  # from resource_url, for docker_url
    assert push.external_id is not None and push.external_id.startswith("harbor:")
    assert batch.ignored == 0 and not batch.rejected


def test_the_documented_push_names_the_digest_as_its_tag_and_is_ignored() -> None:
    """The docs' PUSH_ARTIFACT is a replication's push by digest: tag == digest, no tag push."""
    body = sample("harbor", "push-artifact.default.json")
    assert body["event_data"]["resources"][0]["tag"] == HARBOR_DIGEST
    batch = read(body)
    assert not batch.pushes and not batch.rejected and batch.ignored == 1


@pytest.mark.parametrize("tag", [None, ""])
def test_a_push_without_any_tag_is_ignored(tag: str | None) -> None:
    body = harbor_push("v1")
    resource = body["event_data"]["resources"][0]
    if tag is None:
        del resource["tag"]
    else:
        resource["tag"] = tag
    assert read(body).ignored == 1 and not read(body).pushes


def test_a_multi_arch_push_is_one_tag_push_of_the_index_digest() -> None:
    """Harbor posts one PUSH_ARTIFACT per platform manifest (tag = its digest) and one for the index
    (tag = the pushed tag): only the index's becomes a push."""
    children = [harbor_push(None, digest(c)) for c in "cd"]
    index = harbor_push("v2", digest("e"))
    batches = [read(body) for body in [*children, index]]
    assert [b.ignored for b in batches] == [1, 1, 0]
    (push,) = [push for batch in batches for push in batch.pushes]
    assert (push.tag, push.digest) == ("v2", digest("e"))


def test_the_derived_event_id_recognises_a_retry_and_only_a_retry() -> None:
    """The Default format has no id: a resent body gets the same one, a later push of the same tag
    (another occur_at) or another tag a different one."""
    first = read(harbor_push("v1")).pushes[0].external_id
    assert read(harbor_push("v1")).pushes[0].external_id == first
    assert read(harbor_push("v1", occur_at=1680501894)).pushes[0].external_id != first
    assert read(harbor_push("v2")).pushes[0].external_id != first


@pytest.mark.parametrize(
    "name", ["pull-artifact.default.json", "delete-artifact.default.json", "quota-exceed.default.json"]
)
def test_pulls_deletes_and_quota_events_are_ignored(name: str) -> None:
    batch = read(sample("harbor", name))
    assert batch.ignored == 1 and not batch.pushes and not batch.events and not batch.rejected


@pytest.mark.parametrize("event_type", ["TAG_RETENTION", "QUOTA_WARNING", "SOMETHING_NEW", "push_artifact_x"])
def test_other_and_unknown_types_are_ignored(event_type: str) -> None:
    body = harbor_push("v1")
    body["type"] = event_type
    assert read(body).ignored == 1 and not read(body).pushes


def test_the_type_is_matched_in_any_case() -> None:
    body = harbor_push("v1")
    body["type"] = "push_artifact"
    assert len(read(body).pushes) == 1


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"digest": None}, "invalid digest"),
        ({"digest": "sha256:short"}, "invalid digest"),
        ({"tag": "bad tag!"}, "invalid tag"),
    ],
)
def test_a_push_that_cannot_be_used_is_rejected_with_its_reason(change: dict[str, Any], reason: str) -> None:
    body = harbor_push("v1")
    body["event_data"]["resources"][0].update(change)
    batch = read(body)
    (rejection,) = batch.rejected
    assert reason in rejection.reason and not batch.pushes
    assert rejection.event_id is not None and rejection.event_id.startswith("harbor:")
    assert '"PUSH_ARTIFACT"' in rejection.excerpt


def test_an_event_without_its_repository_or_resources_is_rejected() -> None:
    for remove in ("repository", "resources"):
        body = harbor_push("v1")
        del body["event_data"][remove]
        (rejection,) = read(body).rejected
        assert "repository or resources" in rejection.reason


def test_the_repository_name_may_come_from_namespace_and_name() -> None:
    body = harbor_push("v1", repository="lib/team/app")
    del body["event_data"]["repository"]["repo_full_name"]
    assert read(body).pushes[0].repository == "lib/team/app"


@pytest.mark.parametrize(
    "body", [[], "PUSH_ARTIFACT", {"type": "PUSH_ARTIFACT"}, {"event_data": {}}, {"events": []}]
)
def test_bodies_that_are_not_harbors_are_not_the_format(body: Any) -> None:
    with pytest.raises(NotTheFormat, match="not a Harbor webhook payload"):
        read(body)


def test_the_documented_scan_is_a_clean_scan_completed() -> None:
    kind, data = only_event(read(sample("harbor", "scanning-completed.default.json")))
    assert kind == "scan_completed"
    assert data == {
        "tags": [],  # Harbor's scan events name no tag (the intake looks the digest's tags up)
        "digest": HARBOR_DIGEST,
        "scanner": {"name": "Trivy", "vendor": "Aqua Security", "version": "v0.37.2"},
        "counts": {"critical": 0, "high": 0, "medium": 0, "low": 0, "negligible": 0, "unknown": 0},
        "total": 0,
        "fixable": 0,
        "highest_severity": "None",
    }


def test_a_scan_with_findings_carries_its_counts_and_highest_severity() -> None:
    counts = {"Critical": 1, "High": 3, "Medium": 5, "Low": 2, "Unknown": 1}
    kind, data = only_event(read(harbor_scan(counts, severity="Critical", fixable=5, tag="v1")))
    assert kind == "scan_completed"
    assert data["counts"] == {"critical": 1, "high": 3, "medium": 5, "low": 2, "negligible": 0, "unknown": 1}
    assert (data["total"], data["fixable"], data["highest_severity"], data["tags"]) == (
        12,
        5,
        "Critical",
        ["v1"],
    )


def test_a_scan_without_a_severity_takes_the_highest_counted_one() -> None:
    body = harbor_scan({"Medium": 2, "Low": 1})
    del body["event_data"]["resources"][0]["scan_overview"][
        "application/vnd.security.vulnerability.report; version=1.1"
    ]["severity"]
    assert only_event(read(body))[1]["highest_severity"] == "Medium"


def test_a_scan_whose_tag_is_the_digest_names_no_tag() -> None:
    assert only_event(read(harbor_scan(tag=HARBOR_DIGEST)))[1]["tags"] == []


@pytest.mark.parametrize(
    ("event_type", "status"), [("SCANNING_FAILED", "failed"), ("SCANNING_STOPPED", "stopped")]
)
def test_failed_and_stopped_scans_are_scan_failed(event_type: str, status: str) -> None:
    kind, data = only_event(read(harbor_scan(event_type=event_type)))
    assert kind == "scan_failed"
    assert data == {
        "tags": [],
        "digest": HARBOR_DIGEST,
        "scanner": {"name": "Trivy", "vendor": "Aqua Security", "version": "v0.37.2"},
        "status": status,
    }


def test_an_sbom_scan_is_ignored() -> None:
    body = harbor_scan()
    resource = body["event_data"]["resources"][0]
    resource["sbom_overview"] = resource.pop("scan_overview")
    body["event_data"]["scan"] = {"scan_type": "sbom"}
    batch = read(body)
    assert batch.ignored == 1 and not batch.events and not batch.rejected


def test_a_completed_scan_without_any_overview_is_rejected() -> None:
    body = harbor_scan()
    del body["event_data"]["resources"][0]["scan_overview"]
    (rejection,) = read(body).rejected
    assert "scan_overview" in rejection.reason


def test_the_documented_replication_is_a_mirror_sync_success() -> None:
    kind, data = only_event(read(sample("harbor", "replication.default.json")))
    assert kind == "repo_mirror_sync_success"
    assert data == {"message": "'hub.docker.com/library/alpine' with tag pattern '*'"}


def test_a_failed_replication_says_why() -> None:
    kind, data = only_event(read(harbor_replication("Error", fail_reason="pull access denied")))
    assert kind == "repo_mirror_sync_failed"
    assert data == {"message": "'hub.docker.com/library/alpine' with tag pattern '*': pull access denied"}
    kind, data = only_event(read(harbor_replication("Error")))
    assert data["message"].endswith(": the replication job ended with status error")


def test_a_running_replication_is_a_mirror_sync_started_when_it_names_its_artifact() -> None:
    body = harbor_replication("Running")
    body["event_data"]["replication"]["successful_artifact"] = [
        {"type": "image", "name_tag": "alpine:[3.18,3.19]"}
    ]
    kind, data = only_event(read(body))
    assert kind == "repo_mirror_sync_started"
    assert data == {"message": "'hub.docker.com/library/alpine' with tag pattern '3.18,3.19'"}


@pytest.mark.parametrize("status", ["Running", "Pending", "Scheduled"])
def test_replication_states_that_name_no_repository_are_ignored(status: str) -> None:
    batch = read(harbor_replication(status))
    assert batch.ignored == 1 and not batch.events


def test_a_push_replication_is_told_from_harbors_source_side() -> None:
    """Harbor → remote: Harbor's side is the source (the one without a registry_name)."""
    body = sample("harbor", "replication.default.json")
    replication = body["event_data"]["replication"]
    replication["src_resource"], replication["dest_resource"] = (
        {"registry_type": "harbor", "endpoint": "https://harbor.example.com", "namespace": "team"},
        {
            "registry_name": "backup",
            "registry_type": "harbor",
            "endpoint": "https://dr.example.com",
            "namespace": "dr",
        },
    )
    batch = read(body)
    (event,) = batch.events
    assert event.repository == "team/alpine" and event.registry_host == "harbor.example.com"
    assert event.data == {"message": "'dr.example.com/dr/alpine' with tag pattern '*'"}
