"""The catalogue: Quay's eleven kinds in Quay's order with our two scan kinds after vulnerability_found,
lookup by name, the error classes, RepositoryRef."""

from __future__ import annotations

import dataclasses

import pytest

from regnotify.events import (
    EVENT_KINDS,
    EventConfigError,
    EventError,
    EventKind,
    PayloadError,
    RepositoryRef,
    UnknownEventError,
    get_event_kind,
)

ALL_KINDS = [
    "repo_push",
    "build_queued",
    "build_start",
    "build_success",
    "build_failure",
    "build_cancelled",
    "vulnerability_found",
    "scan_completed",
    "scan_failed",
    "repo_mirror_sync_started",
    "repo_mirror_sync_success",
    "repo_mirror_sync_failed",
    "repo_image_expiry",
]


def test_catalogue_has_all_kinds_in_order() -> None:
    assert list(EVENT_KINDS) == ALL_KINDS
    for name, kind in EVENT_KINDS.items():
        assert isinstance(kind, EventKind)
        assert kind.name == name
        assert get_event_kind(name) is kind


def test_titles() -> None:
    titles = {name: kind.title for name, kind in EVENT_KINDS.items()}
    assert titles["repo_push"] == "Repository Push"
    assert titles["build_queued"] == "Dockerfile Build Queued"
    assert titles["build_start"] == "Dockerfile Build Started"
    assert titles["build_success"] == "Dockerfile Build Successfully Completed"
    assert titles["build_failure"] == "Dockerfile Build Failed"
    assert titles["build_cancelled"] == "Dockerfile Build Cancelled"
    assert titles["vulnerability_found"] == "Vulnerability Detected"
    assert titles["repo_image_expiry"] == "Image expiry trigger"
    assert titles["scan_completed"] == "Security Scan Completed"
    assert titles["scan_failed"] == "Security Scan Failed"
    assert len(set(titles.values())) == len(titles)


def test_unknown_event_lists_valid_names() -> None:
    with pytest.raises(UnknownEventError) as info:
        get_event_kind("repo_pull")
    message = str(info.value)
    assert "repo_pull" in message
    for name in ALL_KINDS:
        assert name in message


@pytest.mark.parametrize("bad", ["", "REPO_PUSH", "quota_warning", None, 5])
def test_unknown_event_names(bad: object) -> None:
    with pytest.raises(UnknownEventError):
        get_event_kind(bad)  # type: ignore[arg-type]


def test_error_hierarchy() -> None:
    assert issubclass(EventError, ValueError)
    for cls in (UnknownEventError, PayloadError, EventConfigError):
        assert issubclass(cls, EventError)


def test_repository_ref() -> None:
    repo = RepositoryRef("ns", "team/app", "reg.example:5000", "https://ui.example/")
    assert repo.visibility == "private"
    assert repo.full_name == "ns/team/app"
    assert repo.docker_url == "reg.example:5000/ns/team/app"
    assert repo.homepage == "https://ui.example/repository/ns/team/app"
    with pytest.raises(dataclasses.FrozenInstanceError):
        repo.name = "other"  # type: ignore[misc]


def test_common_fields_order_and_values() -> None:
    repo = RepositoryRef("ns", "team/app", "reg.example", "https://ui.example")
    assert get_event_kind("repo_push").common_fields(repo) == {
        "repository": "ns/team/app",
        "namespace": "ns",
        "name": "team/app",
        "docker_url": "reg.example/ns/team/app",
        "homepage": "https://ui.example/repository/ns/team/app",
    }
    assert list(get_event_kind("build_success").common_fields(repo)) == [
        "repository",
        "namespace",
        "name",
        "docker_url",
        "homepage",
    ]


def test_config_keys_per_kind() -> None:
    keys = {name: kind.config_keys for name, kind in EVENT_KINDS.items()}
    assert keys["repo_push"] == ("tag-patterns",)
    for name in ("build_queued", "build_start", "build_success", "build_failure", "build_cancelled"):
        assert keys[name] == ("ref-regex",)
    assert keys["vulnerability_found"] == ("level", "tag-patterns")
    assert keys["repo_image_expiry"] == ("days",)
    assert keys["scan_completed"] == ("level",)
    assert keys["scan_failed"] == ()
    for name in ("repo_mirror_sync_started", "repo_mirror_sync_success", "repo_mirror_sync_failed"):
        assert keys[name] == ()
