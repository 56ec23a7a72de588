"""build_payload: validation against each kind's model, readable errors, field order, the envelope."""

from __future__ import annotations

import json
from typing import Any

import pytest

from regnotify.events import PayloadError, RepositoryRef, get_event_kind

REPO = RepositoryRef("acme", "team/app", "registry.example.com", "https://notify.example.com")
DIGEST = "sha256:" + "a" * 64


def build(kind: str, data: Any) -> dict[str, Any]:
    return get_event_kind(kind).build_payload(REPO, data)


def payload_error(kind: str, data: Any) -> str:
    with pytest.raises(PayloadError) as info:
        build(kind, data)
    message = str(info.value)
    assert "Traceback" not in message
    assert "pydantic" not in message.lower()
    assert "ValidationError" not in message
    return message


# -- repo_push -------------------------------------------------------------------------------------


def test_push_payload_envelope_then_fields() -> None:
    payload = build("repo_push", {"updated_tags": {"latest": DIGEST, "v1.2": DIGEST}})
    assert list(payload) == ["repository", "namespace", "name", "docker_url", "homepage", "updated_tags"]
    assert payload["repository"] == "acme/team/app"
    assert payload["homepage"] == "https://notify.example.com/repository/acme/team/app"
    assert payload["updated_tags"] == {"latest": DIGEST, "v1.2": DIGEST}
    json.dumps(payload)


def test_common_fields_in_data_are_replaced() -> None:
    payload = build(
        "repo_push",
        {"repository": "evil/repo", "homepage": "javascript:alert(1)", "updated_tags": {"x": DIGEST}},
    )
    assert payload["repository"] == "acme/team/app"
    assert payload["homepage"] == "https://notify.example.com/repository/acme/team/app"


@pytest.mark.parametrize("tag", ["-x", ".x", "a b", "a/b", "x" * 129, "", "tag:1"])
def test_push_rejects_invalid_tag_names(tag: str) -> None:
    message = payload_error("repo_push", {"updated_tags": {tag: DIGEST}})
    assert message.startswith("updated_tags")
    assert "tag" in message


@pytest.mark.parametrize("tag", ["latest", "_x", "v1.2.3-rc_1", "A" * 128, "0"])
def test_push_accepts_valid_tag_names(tag: str) -> None:
    assert build("repo_push", {"updated_tags": {tag: DIGEST}})["updated_tags"] == {tag: DIGEST}


def test_push_needs_at_least_one_tag() -> None:
    assert payload_error("repo_push", {"updated_tags": {}}).startswith("updated_tags: ")
    assert payload_error("repo_push", {}) == "updated_tags: Field required"


def test_push_wrong_type_message() -> None:
    assert payload_error("repo_push", {"updated_tags": ["latest"]}) == (
        "updated_tags: Input should be a valid dictionary"
    )


def test_unknown_fields_are_named_with_the_allowed_ones() -> None:
    message = payload_error("repo_push", {"updated_tags": {"a": DIGEST}, "pruned_image_count": 3, "zzz": 1})
    assert "'pruned_image_count'" in message
    assert "'zzz'" in message
    assert "allowed: updated_tags" in message


def test_data_must_be_an_object() -> None:
    assert "JSON object" in payload_error("repo_push", ["updated_tags"])


# -- builds ----------------------------------------------------------------------------------------


def test_build_wrong_type_uses_field_path() -> None:
    message = payload_error("build_start", {"build_id": "b1", "docker_tags": "latest"})
    assert message == "docker_tags: Input should be a valid list"


def test_build_required_fields() -> None:
    message = payload_error("build_failure", {"build_id": "b1", "docker_tags": []})
    assert message == "error_message: Field required"
    message = payload_error("build_queued", {"build_id": "b1", "docker_tags": []})
    assert message == "is_manual: Field required"


def test_no_type_coercion() -> None:
    message = payload_error("build_queued", {"is_manual": "false", "build_id": "b", "docker_tags": []})
    assert message == "is_manual: Input should be a valid boolean"
    assert payload_error("build_start", {"build_id": 7, "docker_tags": []}).startswith("build_id: ")


def test_nested_errors_name_their_path() -> None:
    message = payload_error(
        "build_start",
        {
            "build_id": "b1",
            "docker_tags": ["ok", 5],
            "trigger_metadata": {"commit_info": {"message": "m", "date": True, "author": {"url": "u"}}},
        },
    )
    assert "docker_tags[1]: Input should be a valid string" in message
    assert "trigger_metadata.commit_info.date: " in message
    assert "trigger_metadata.commit_info.author.username: Field required" in message


def test_build_homepage_points_at_the_build_with_the_id_quoted() -> None:
    payload = build("build_start", {"build_id": "a b/c?d", "docker_tags": ["x"]})
    assert (
        payload["homepage"]
        == "https://notify.example.com/repository/acme/team/app/build?current=a%20b%2Fc%3Fd"
    )


def test_build_queued_field_order_and_no_nulls() -> None:
    payload = build(
        "build_queued",
        {
            "trigger_kind": "github",
            "build_name": "nightly",
            "manual_user": "alice",
            "docker_tags": ["latest"],
            "build_id": "b1",
            "is_manual": True,
            "trigger_id": None,
        },
    )
    assert list(payload)[5:] == [
        "is_manual",
        "build_id",
        "docker_tags",
        "manual_user",
        "build_name",
        "trigger_kind",
    ]
    assert "trigger_id" not in payload
    assert None not in payload.values()


def test_build_failure_order() -> None:
    payload = build(
        "build_failure",
        {
            "manifest_digests": [DIGEST],
            "image_id": "img",
            "trigger_kind": "gitlab",
            "error_message": "boom",
            "docker_tags": ["x"],
            "build_id": "b1",
        },
    )
    assert list(payload)[5:] == [
        "build_id",
        "docker_tags",
        "error_message",
        "trigger_kind",
        "image_id",
        "manifest_digests",
    ]


def test_build_success_carries_the_repository_visibility() -> None:
    private = build("build_success", {"build_id": "b1", "docker_tags": ["x"], "visibility": "public"})
    assert list(private)[:6] == ["repository", "namespace", "name", "docker_url", "homepage", "visibility"]
    assert private["visibility"] == "private"
    public_repo = RepositoryRef("acme", "app", "r.example", "https://u.example", visibility="public")
    public = get_event_kind("build_success").build_payload(public_repo, {"build_id": "b1", "docker_tags": []})
    assert public["visibility"] == "public"


def test_only_build_success_has_visibility() -> None:
    assert "visibility" not in build("build_start", {"build_id": "b1", "docker_tags": []})
    assert "'visibility'" in payload_error(
        "build_start", {"build_id": "b1", "docker_tags": [], "visibility": "x"}
    )


def test_trigger_metadata_keeps_extra_keys_and_checks_declared_ones() -> None:
    metadata = {
        "git_url": "git@example.com:acme/app.git",
        "ref": "refs/heads/main",
        "commit": "abcdef1",
        "commit_info": {"message": "m", "date": "2024-01-01T00:00:00Z", "short_sha": "abcdef1"},
        "pipeline": {"id": 42, "stages": ["build", "test"], "note": None},
    }
    payload = build("build_start", {"build_id": "b1", "docker_tags": [], "trigger_metadata": metadata})
    assert payload["trigger_metadata"] == metadata
    assert list(payload["trigger_metadata"]) == ["ref", "commit", "commit_info", "git_url", "pipeline"]
    message = payload_error(
        "build_start", {"build_id": "b1", "docker_tags": [], "trigger_metadata": {"ref": ["refs/heads/main"]}}
    )
    assert message == "trigger_metadata.ref: Input should be a valid string"


def test_trigger_metadata_extras_must_be_bounded_json() -> None:
    deep: Any = 1
    for _ in range(40):
        deep = [deep]
    message = payload_error(
        "build_start", {"build_id": "b", "docker_tags": [], "trigger_metadata": {"x": deep}}
    )
    assert "trigger_metadata" in message
    assert "nested too deeply" in message
    message = payload_error(
        "build_start", {"build_id": "b", "docker_tags": [], "trigger_metadata": {"x": float("nan")}}
    )
    assert "finite" in message
    message = payload_error(
        "build_start", {"build_id": "b", "docker_tags": [], "trigger_metadata": {"x": {1, 2}}}
    )
    assert "JSON value" in message


def test_trigger_metadata_extras_must_be_unicode_text() -> None:
    """Lone surrogates (JSON's \\ud800) in extras were stored, then every response showing them was a 500."""
    for extra in ({"x": "a\ud800"}, {"x": ["\udfff"]}, {"x": {"\ud800": 1}}):
        message = payload_error(
            "build_start", {"build_id": "b", "docker_tags": [], "trigger_metadata": extra}
        )
        assert message == "trigger_metadata: x: text must be Unicode, not lone surrogates such as \\ud800"


def test_giant_strings_are_payload_errors() -> None:
    message = payload_error(
        "build_failure", {"build_id": "b", "docker_tags": [], "error_message": "x" * 70000}
    )
    assert message == "error_message: String should have at most 65536 characters"
    message = payload_error("build_start", {"build_id": "b" * 5000, "docker_tags": []})
    assert message == "build_id: String should have at most 4096 characters"
    long_commit = {"commit_info": {"message": "m" * 65536}}
    payload = build("build_start", {"build_id": "b", "docker_tags": [], "trigger_metadata": long_commit})
    assert len(payload["trigger_metadata"]["commit_info"]["message"]) == 65536


def test_many_errors_are_capped() -> None:
    message = payload_error("build_start", {"build_id": "b", "docker_tags": list(range(30))})
    assert "and 22 more errors" in message


# -- vulnerability_found ---------------------------------------------------------------------------


def vuln(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"tags": ["latest"], "vulnerability": {"id": "CVE-1", "priority": "High"}}
    data.update(overrides)
    return data


def test_vulnerability_priority_is_normalised() -> None:
    payload = build("vulnerability_found", vuln(vulnerability={"id": "CVE-1", "priority": "mEdIuM"}))
    assert payload["vulnerability"] == {"id": "CVE-1", "priority": "Medium"}


def test_vulnerability_unknown_priority() -> None:
    message = payload_error("vulnerability_found", vuln(vulnerability={"id": "CVE-1", "priority": "severe"}))
    assert message.startswith("vulnerability.priority: Input should be 'Critical'")


def test_vulnerability_required_and_unknown_nested_fields() -> None:
    assert payload_error("vulnerability_found", vuln(vulnerability={"id": "CVE-1"})) == (
        "vulnerability.priority: Field required"
    )
    message = payload_error(
        "vulnerability_found", vuln(vulnerability={"id": "C", "priority": "Low", "cvss": 9})
    )
    assert message == "vulnerability.cvss: unknown field; allowed: id, description, link, priority, has_fix"


def test_vulnerability_tag_count_limits() -> None:
    assert payload_error("vulnerability_found", vuln(tags=[])).startswith("tags: ")
    assert payload_error("vulnerability_found", vuln(tags=[f"t{i}" for i in range(101)])).startswith("tags: ")
    assert len(build("vulnerability_found", vuln(tags=[f"t{i}" for i in range(100)]))["tags"]) == 100


def test_vulnerability_index_report_flag_is_kept_last() -> None:
    payload = build("vulnerability_found", vuln(vulnerable_index_report_created=True))
    assert list(payload)[5:] == ["tags", "vulnerability", "vulnerable_index_report_created"]


@pytest.mark.parametrize("flag", ["true", "TRUE", "false", "False", True, False])
def test_vulnerability_index_report_flag_is_kept_as_sent(flag: object) -> None:
    """Quay's security worker sends the string "true"; receivers get what Quay sends."""
    payload = build("vulnerability_found", vuln(vulnerable_index_report_created=flag))
    assert payload["vulnerable_index_report_created"] == flag
    assert type(payload["vulnerable_index_report_created"]) is type(flag)


@pytest.mark.parametrize("flag", ["yes", "1", "", " true", 1, 0, 1.0, [], {}])
def test_vulnerability_index_report_flag_refuses_other_values(flag: object) -> None:
    message = payload_error("vulnerability_found", vuln(vulnerable_index_report_created=flag))
    assert message.startswith("vulnerable_index_report_created: "), message
    assert '"true" or "false"' in message, message


# -- mirror and expiry -----------------------------------------------------------------------------


def test_mirror_message_required() -> None:
    assert payload_error("repo_mirror_sync_started", {}) == "message: Field required"
    assert build("repo_mirror_sync_failed", {"message": "boom"})["message"] == "boom"


@pytest.mark.parametrize("value", ["3 weeks", "days", "-1 days", "1.5 days", ""])
def test_expiry_expiring_in_form(value: str) -> None:
    message = payload_error("repo_image_expiry", {"tags": ["a"], "expiring_in": value})
    assert message.startswith("expiring_in: ")


def test_expiry_payload() -> None:
    payload = build("repo_image_expiry", {"expiring_in": "7 days", "tags": ["a", "b"]})
    assert list(payload)[5:] == ["tags", "expiring_in"]
