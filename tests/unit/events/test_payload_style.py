"""Payload styles (``UPDATED_TAGS_FORMAT``) and samples made for a notification's event config.

repo_push's ``updated_tags`` is the documented map (tag -> digest) by default and the list of tag
names Quay's servers send under the ``list`` style, in real and sample payloads alike; the input
stays the map. repo_image_expiry's sample expires in the notification's ``days``, as Quay's
``get_sample_data``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from regnotify.config import Settings
from regnotify.db.models import Repository
from regnotify.events import EVENT_KINDS, PayloadError, RepositoryRef, get_event_kind
from regnotify.events.base import PayloadStyle
from regnotify.ingest import repository_ref

DIGEST = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64
MAP_REPO = RepositoryRef("acme", "app", "registry.example.com", "https://notify.example.com")
LIST_REPO = dataclasses.replace(MAP_REPO, style=PayloadStyle(updated_tags="list"))
ENVELOPE = {
    "repository": "acme/app",
    "namespace": "acme",
    "name": "app",
    "docker_url": "registry.example.com/acme/app",
    "homepage": "https://notify.example.com/repository/acme/app",
}


# -- the style itself ------------------------------------------------------------------------------


def test_default_style_is_the_documented_map() -> None:
    assert MAP_REPO.style == PayloadStyle() == PayloadStyle(updated_tags="map")
    payload = get_event_kind("repo_push").build_payload(MAP_REPO, {"updated_tags": {"v1": DIGEST}})
    assert payload == {**ENVELOPE, "updated_tags": {"v1": DIGEST}}


def test_list_style_push_payload_is_the_tag_names_in_the_order_given() -> None:
    data = {"updated_tags": {"v2": DIGEST, "latest": OTHER, "v1": DIGEST}}
    payload = get_event_kind("repo_push").build_payload(LIST_REPO, data)
    assert payload == {**ENVELOPE, "updated_tags": ["v2", "latest", "v1"]}
    assert list(payload) == [*ENVELOPE, "updated_tags"]
    assert data == {"updated_tags": {"v2": DIGEST, "latest": OTHER, "v1": DIGEST}}  # input untouched


def test_list_style_input_is_still_the_map() -> None:
    kind = get_event_kind("repo_push")
    with pytest.raises(PayloadError, match="updated_tags: Input should be a valid dictionary"):
        kind.build_payload(LIST_REPO, {"updated_tags": ["latest"]})
    with pytest.raises(PayloadError, match="updated_tags"):
        kind.build_payload(LIST_REPO, {"updated_tags": {"bad tag": DIGEST}})


def test_list_style_sample() -> None:
    kind = get_event_kind("repo_push")
    assert kind.sample_payload(LIST_REPO) == {**ENVELOPE, "updated_tags": ["latest"]}
    assert kind.sample_payload(MAP_REPO)["updated_tags"] == {
        "latest": "b750fe79269d2ec9a3c593ef05b4332b1d1a02a62b4accb2c21d589ff2f5f2dc"
    }
    assert kind.sample_payload(MAP_REPO)["updated_tags"] == kind.sample_data["updated_tags"]  # not mutated


@pytest.mark.parametrize("name", [name for name in EVENT_KINDS if name != "repo_push"])
def test_other_kinds_do_not_depend_on_the_style(name: str) -> None:
    kind = EVENT_KINDS[name]
    assert kind.sample_payload(LIST_REPO) == kind.sample_payload(MAP_REPO)
    data = {key: value for key, value in kind.sample_payload(MAP_REPO).items() if key not in ENVELOPE}
    assert kind.build_payload(LIST_REPO, data) == kind.build_payload(MAP_REPO, data)


def test_list_payload_renders_and_filters() -> None:
    kind = get_event_kind("repo_push")
    payload = kind.build_payload(LIST_REPO, {"updated_tags": {"latest": DIGEST, "v1.2": OTHER}})
    text = kind.text_message(payload)
    assert text.splitlines() == [
        "Repository acme/app was updated.",
        "Tags pushed:",
        "  latest",
        "  v1.2",
        "Repository: https://notify.example.com/repository/acme/app",
    ]
    assert DIGEST not in text
    html = kind.html_message(payload)
    assert "2 tags pushed" in html and "latest" in html and "v1.2" in html
    assert kind.summary(payload) == "Repository acme/app updated"
    assert kind.matches({"tag-patterns": ["v1.*"]}, payload) is True
    assert kind.matches({"tag-patterns": ["v2*"]}, payload) is False


def test_map_payload_text_keeps_the_digests() -> None:
    kind = get_event_kind("repo_push")
    payload = kind.build_payload(MAP_REPO, {"updated_tags": {"latest": DIGEST}})
    assert f"  latest: {DIGEST}" in kind.text_message(payload).splitlines()


# -- the setting and where it reaches --------------------------------------------------------------


def test_setting_defaults_to_map_and_reads_its_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REGNOTIFY_UPDATED_TAGS_FORMAT", raising=False)
    assert Settings(data_dir=tmp_path).updated_tags_format == "map"
    monkeypatch.setenv("REGNOTIFY_UPDATED_TAGS_FORMAT", "list")
    assert Settings(data_dir=tmp_path).updated_tags_format == "list"
    monkeypatch.setenv("REGNOTIFY_UPDATED_TAGS_FORMAT", "dict")
    with pytest.raises(ValidationError, match="updated_tags_format"):
        Settings(data_dir=tmp_path)


@pytest.mark.parametrize("fmt", ["map", "list"])
def test_repository_ref_carries_the_configured_style(tmp_path: Path, fmt: Any) -> None:
    settings = Settings(data_dir=tmp_path, updated_tags_format=fmt)
    repo = Repository(namespace="acme", name="app", visibility="private")
    ref = repository_ref(repo, settings, registry_host="registry.example.com")
    assert ref.style == PayloadStyle(updated_tags=fmt)
    tags = get_event_kind("repo_push").build_payload(ref, {"updated_tags": {"v1": DIGEST}})["updated_tags"]
    assert tags == (["v1"] if fmt == "list" else {"v1": DIGEST})


# -- samples made for the notification's event config ----------------------------------------------


@pytest.mark.parametrize(
    ("days", "expected"), [(7, "7 days"), (1, "1 days"), ("30", "30 days"), (365, "365 days")]
)
def test_expiry_sample_expires_in_the_notifications_days(days: object, expected: str) -> None:
    sample = get_event_kind("repo_image_expiry").sample_payload(MAP_REPO, {"days": days})
    assert sample == {**ENVELOPE, "tags": ["latest", "v1"], "expiring_in": expected}


@pytest.mark.parametrize(
    "config", [None, {}, {"days": None}, {"days": "soon"}, {"days": 0}, {"days": True}, []]
)
def test_expiry_sample_without_usable_days_keeps_the_default(config: Any) -> None:
    kind = get_event_kind("repo_image_expiry")
    assert kind.sample_payload(MAP_REPO, config)["expiring_in"] == "1 days"
    assert kind.sample_data["expiring_in"] == "1 days"  # the class sample is never changed


def test_expiry_sample_for_its_days_matches_its_own_filter() -> None:
    kind = get_event_kind("repo_image_expiry")
    config = kind.validate_config({"days": 14})
    assert kind.matches(config, kind.sample_payload(MAP_REPO, config)) is True


@pytest.mark.parametrize("name", list(EVENT_KINDS))
def test_an_event_config_never_breaks_a_sample(name: str) -> None:
    kind = EVENT_KINDS[name]
    assert kind.sample_payload(MAP_REPO, {"days": 3, "tag-patterns": ["x"]})["repository"] == "acme/app"
