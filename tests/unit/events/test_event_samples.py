"""Sample payloads: the six seed kinds reproduce Quay's documented samples; every sample round-trips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from regnotify.events import EVENT_KINDS, RepositoryRef, get_event_kind

SEED_KINDS = [
    "repo_push",
    "build_queued",
    "build_start",
    "build_success",
    "build_failure",
    "vulnerability_found",
]
# Kinds the seed has no sample for (Quay documents none, or they are our own): their samples are
# checked by test_non_seed_samples here and, for the scan kinds, in test_scan_events.py.
NON_SEED_KINDS = [
    "build_cancelled",
    "scan_completed",
    "scan_failed",
    "repo_mirror_sync_started",
    "repo_mirror_sync_success",
    "repo_mirror_sync_failed",
    "repo_image_expiry",
]
ENVELOPE = ("repository", "namespace", "name", "docker_url", "homepage", "visibility")
BUILD_KINDS = ["build_queued", "build_start", "build_success", "build_failure", "build_cancelled"]


@pytest.mark.parametrize("name", SEED_KINDS)
def test_sample_equals_seed_file_field_for_field_and_in_order(
    name: str, seed_samples_dir: Path, seed_repo: RepositoryRef
) -> None:
    expected = json.loads((seed_samples_dir / f"{name}.json").read_text())
    sample = get_event_kind(name).sample_payload(seed_repo)
    assert sample == expected
    assert list(sample) == list(expected)
    assert json.dumps(sample) == json.dumps(expected)


def test_all_six_seed_files_are_covered(seed_samples_dir: Path) -> None:
    assert sorted(p.stem for p in seed_samples_dir.glob("*.json")) == sorted(SEED_KINDS)


def test_every_kind_is_checked_against_the_seed_or_without_it() -> None:
    """A new kind is placed on purpose: compared with a seed file, or with its own sample test."""
    assert sorted(SEED_KINDS + NON_SEED_KINDS) == sorted(EVENT_KINDS)
    assert not set(SEED_KINDS) & set(NON_SEED_KINDS)


def test_sample_uses_the_repositorys_common_fields(other_repo: RepositoryRef) -> None:
    sample = get_event_kind("repo_push").sample_payload(other_repo)
    assert list(sample)[:5] == ["repository", "namespace", "name", "docker_url", "homepage"]
    assert sample["repository"] == "acme/team/app"
    assert sample["namespace"] == "acme"
    assert sample["name"] == "team/app"
    assert sample["docker_url"] == "registry.example.com/acme/team/app"
    assert sample["homepage"] == "https://notify.example.com/repository/acme/team/app"


def test_build_sample_homepage_follows_the_seed(other_repo: RepositoryRef) -> None:
    sample = get_event_kind("build_cancelled").sample_payload(other_repo)
    assert (
        sample["homepage"]
        == "https://notify.example.com/repository/acme/team/app/build?current=some-fake-build"
    )
    assert sample["build_id"] == "build_uuid"


def test_non_seed_samples() -> None:
    repo = RepositoryRef("ns", "app", "reg.example", "https://ui.example")
    assert get_event_kind("repo_mirror_sync_failed").sample_payload(repo)["message"] == "TEST NOTIFICATION"
    expiry = get_event_kind("repo_image_expiry").sample_payload(repo)
    assert expiry["tags"] == ["latest", "v1"]
    assert expiry["expiring_in"] == "1 days"
    assert get_event_kind("scan_completed").sample_payload(repo)["highest_severity"] == "Critical"
    assert get_event_kind("scan_failed").sample_payload(repo)["status"] == "failed"
    cancelled = get_event_kind("build_cancelled").sample_payload(repo)
    started = get_event_kind("build_start").sample_payload(repo)
    assert cancelled == started


def test_sample_payload_is_a_fresh_copy(seed_repo: RepositoryRef) -> None:
    kind = get_event_kind("build_start")
    first = kind.sample_payload(seed_repo)
    first["trigger_metadata"]["ref"] = "changed"
    assert kind.sample_payload(seed_repo)["trigger_metadata"]["ref"] == "refs/heads/somebranch"


@pytest.mark.parametrize("name", list(EVENT_KINDS))
def test_every_sample_round_trips_through_build_payload(name: str, other_repo: RepositoryRef) -> None:
    kind = EVENT_KINDS[name]
    sample = kind.sample_payload(other_repo)
    data = {key: value for key, value in sample.items() if key not in ENVELOPE}
    built = kind.build_payload(other_repo, data)
    expected = dict(sample)
    if name in BUILD_KINDS:
        # Real build payloads link the build itself; the sample keeps the seed's fake link.
        expected["homepage"] = "https://notify.example.com/repository/acme/team/app/build?current=build_uuid"
    assert built == expected
    assert list(built) == list(expected)
    assert json.dumps(built) == json.dumps(expected)


@pytest.mark.parametrize("name", list(EVENT_KINDS))
def test_every_sample_round_trips_with_the_common_fields_left_in(
    name: str, other_repo: RepositoryRef
) -> None:
    kind = EVENT_KINDS[name]
    sample = kind.sample_payload(other_repo)
    built = kind.build_payload(other_repo, sample)
    assert {k: v for k, v in built.items() if k != "homepage"} == {
        k: v for k, v in sample.items() if k != "homepage"
    }
