"""Docker Hub's push deliveries, on the payload of Docker Hub's documentation: a tag push whose digest
is unknown, with an id derived from what identifies the delivery."""

from __future__ import annotations

from typing import Any

import pytest

from regnotify.ingest.batch import NotTheFormat
from regnotify.ingest.dockerhub import read_push
from tests.source_samples import dockerhub_push, sample

SOURCE = "dockerhub:hub"


def test_the_documented_push_is_a_tag_push_with_no_digest() -> None:
    batch = read_push(sample("dockerhub", "push.docs-example.json"), source=SOURCE)
    (push,) = batch.pushes
    assert (push.repository, push.tag, push.digest, push.source) == (
        "svendowideit/testhook",
        "latest",
        None,
        SOURCE,
    )
    assert push.registry_host == "docker.io"
    assert push.external_id is not None and push.external_id.startswith("dockerhub:")
    assert batch.ignored == 0 and not batch.rejected


def test_the_derived_id_is_the_same_for_a_resent_delivery_only() -> None:
    first = read_push(dockerhub_push(), source=SOURCE).pushes[0].external_id
    assert read_push(dockerhub_push(), source=SOURCE).pushes[0].external_id == first
    assert read_push(dockerhub_push(pushed_at=1417566162), source=SOURCE).pushes[0].external_id != first
    assert read_push(dockerhub_push("v2"), source=SOURCE).pushes[0].external_id != first
    float_time = dockerhub_push()
    float_time["push_data"]["pushed_at"] = 1.417566161e09  # as some deliveries write it
    assert read_push(float_time, source=SOURCE).pushes[0].external_id == first


def test_a_delivery_without_its_time_has_no_id() -> None:
    body = dockerhub_push()
    del body["push_data"]["pushed_at"]
    (push,) = read_push(body, source=SOURCE).pushes
    assert push.external_id is None  # the window alone deduplicates it


def test_the_repository_may_come_from_namespace_and_name() -> None:
    body = dockerhub_push(repository="acme/app")
    body["repository"]["repo_name"] = "app"
    assert read_push(body, source=SOURCE).pushes[0].repository == "acme/app"


@pytest.mark.parametrize(
    ("change", "reason"),
    [({"tag": "bad tag!"}, "invalid tag")],
)
def test_a_push_that_cannot_be_used_is_rejected(change: dict[str, Any], reason: str) -> None:
    body = dockerhub_push()
    body["push_data"].update(change)
    (rejection,) = read_push(body, source=SOURCE).rejected
    assert reason in rejection.reason and '"callback_url"' in rejection.excerpt


def test_a_push_without_a_repository_name_is_rejected() -> None:
    body = dockerhub_push()
    body["repository"] = {"status": "Active"}
    assert "repo_name" in read_push(body, source=SOURCE).rejected[0].reason


def test_a_push_without_a_tag_is_ignored() -> None:
    body = dockerhub_push()
    del body["push_data"]["tag"]
    batch = read_push(body, source=SOURCE)
    assert batch.ignored == 1 and not batch.pushes


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"push_data": {"tag": "v1"}},
        {"repository": {}},
        {"events": []},
        {"push_data": "x", "repository": {}},
    ],
)
def test_bodies_that_are_not_docker_hubs_are_not_the_format(body: Any) -> None:
    with pytest.raises(NotTheFormat, match="Docker Hub"):
        read_push(body, source=SOURCE)


@pytest.mark.parametrize(
    ("section", "key", "what"),
    [("push_data", "tag", "the tag"), ("repository", "repo_name", "the repository's name")],
)
def test_text_a_database_cannot_store_is_refused(section: str, key: str, what: str) -> None:
    body = dockerhub_push()
    body[section][key] = "acme\x00"
    (rejection,) = read_push(body, source=SOURCE).rejected
    assert rejection.reason.startswith(f"{what} holds a NUL character")
