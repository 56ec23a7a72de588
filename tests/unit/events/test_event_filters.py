"""Event-config filters: validate_config (accept, reject, normalise) and matches (Quay's semantics)."""

from __future__ import annotations

from typing import Any

import pytest

from regnotify.events import EVENT_KINDS, EventConfigError, RepositoryRef, get_event_kind

BUILD_KINDS = ["build_queued", "build_start", "build_success", "build_failure", "build_cancelled"]
MIRROR_KINDS = ["repo_mirror_sync_started", "repo_mirror_sync_success", "repo_mirror_sync_failed"]


def config_error(kind: str, config: Any) -> str:
    with pytest.raises(EventConfigError) as info:
        get_event_kind(kind).validate_config(config)
    return str(info.value)


def build_payload(ref: str | None = "refs/heads/main") -> dict[str, Any]:
    metadata = {"commit": "abc1234"} if ref is None else {"ref": ref, "commit": "abc1234"}
    return {"repository": "a/b", "build_id": "b1", "docker_tags": [], "trigger_metadata": metadata}


def vuln_payload(
    priority: str | None = "High", tags: list[str] | None = None, **extra: Any
) -> dict[str, Any]:
    payload: dict[str, Any] = {"repository": "a/b", "tags": tags or ["latest"], **extra}
    if priority is not None:
        payload["vulnerability"] = {"id": "CVE-1", "priority": priority}
    return payload


# -- generic -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [n for n in EVENT_KINDS if n != "repo_image_expiry"])
def test_empty_config_fires_always(name: str) -> None:
    kind = EVENT_KINDS[name]
    assert kind.validate_config(None) == {}
    assert kind.validate_config({}) == {}
    sample = kind.sample_payload(RepositoryRef("a", "b", "reg.example", "https://ui.example"))
    assert kind.matches({}, sample) is True
    assert kind.matches(kind.validate_config(None), sample) is True
    assert kind.matches(None, {}) is True


def test_unknown_key_message() -> None:
    assert config_error("repo_push", {"x": 1}) == (
        "unknown eventConfig key 'x' for event repo_push; allowed: tag-patterns"
    )
    assert config_error("build_start", {"level": 1, "ref": "x"}) == (
        "unknown eventConfig keys 'level', 'ref' for event build_start; allowed: ref-regex"
    )


@pytest.mark.parametrize("name", MIRROR_KINDS)
def test_mirror_kinds_take_no_keys(name: str) -> None:
    assert get_event_kind(name).validate_config({}) == {}
    message = config_error(name, {"ref-regex": "x"})
    assert "unknown eventConfig key 'ref-regex'" in message
    assert "allowed: none" in message


@pytest.mark.parametrize("config", [[], "level=1", 5, True])
def test_config_must_be_an_object(config: Any) -> None:
    assert "JSON object" in config_error("vulnerability_found", config)


@pytest.mark.parametrize("name", list(EVENT_KINDS))
@pytest.mark.parametrize("config", ["x", 5, [], {"days": object()}, {"level": [1]}, {"ref-regex": {}}])
def test_matches_never_raises_on_junk(name: str, config: Any) -> None:
    kind = EVENT_KINDS[name]
    for payload in (
        {},
        {"trigger_metadata": "x"},
        {"vulnerability": []},
        {"tags": None},
        {"updated_tags": 3},
    ):
        assert kind.matches(config, payload) in (True, False)
    assert kind.matches({}, "not a payload") is False  # type: ignore[arg-type]


# -- ref-regex -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", BUILD_KINDS)
def test_ref_regex_normalise(name: str) -> None:
    kind = get_event_kind(name)
    assert kind.validate_config({"ref-regex": "^refs/heads/(main|release-.*)$"}) == {
        "ref-regex": "^refs/heads/(main|release-.*)$"
    }
    assert kind.validate_config({"ref-regex": "   "}) == {}
    assert kind.validate_config({"ref-regex": ""}) == {}
    assert kind.validate_config({"ref-regex": None}) == {}


def test_ref_regex_rejects() -> None:
    message = config_error("build_start", {"ref-regex": "refs/(heads"})
    assert message.startswith(
        "ref-regex is not a valid regular expression: missing ), unterminated subpattern"
    )
    assert "must be a string" in config_error("build_start", {"ref-regex": 5})
    assert "must be a string" in config_error("build_start", {"ref-regex": ["x"]})
    assert "at most 512" in config_error("build_start", {"ref-regex": "a" * 513})
    assert get_event_kind("build_start").validate_config({"ref-regex": "a" * 512}) == {"ref-regex": "a" * 512}


def test_ref_regex_must_be_unicode_text() -> None:
    """A lone surrogate (JSON's \\ud800) cannot be stored: once a 500 at create time, now a 400."""
    assert "lone surrogate" in config_error("build_start", {"ref-regex": "^refs/heads/\ud800"})


def test_ref_regex_matches_anchored_at_start_only() -> None:
    kind = get_event_kind("build_success")
    assert kind.matches({"ref-regex": "refs/heads/main"}, build_payload("refs/heads/main")) is True
    assert kind.matches({"ref-regex": "refs/heads/main"}, build_payload("refs/heads/main-2")) is True
    assert kind.matches({"ref-regex": "heads/main"}, build_payload("refs/heads/main")) is False
    assert kind.matches({"ref-regex": "refs/heads/main$"}, build_payload("refs/heads/main-2")) is False
    assert kind.matches({"ref-regex": ".*/tags/v"}, build_payload("refs/tags/v1.0")) is True


def test_ref_regex_needs_a_ref() -> None:
    kind = get_event_kind("build_failure")
    assert kind.matches({"ref-regex": ".*"}, build_payload(None)) is False
    assert kind.matches({"ref-regex": ".*"}, {"build_id": "b"}) is False
    assert kind.matches({"ref-regex": ".*"}, {"trigger_metadata": {"ref": 5}}) is False
    assert kind.matches({}, build_payload(None)) is True
    assert kind.matches({"ref-regex": ""}, build_payload(None)) is True
    assert kind.matches({"ref-regex": "  "}, {}) is True


def test_stored_invalid_regex_does_not_fire() -> None:
    assert get_event_kind("build_start").matches({"ref-regex": "(unclosed"}, build_payload()) is False


# -- vulnerability level -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "index"),
    [
        (0, 0),
        (5, 5),
        ("3", 3),
        (" 2 ", 2),
        ("Critical", 0),
        ("high", 1),
        ("MEDIUM", 2),
        ("low", 3),
        ("Negligible", 4),
        ("unknown", 5),
    ],
)
def test_level_normalise(value: Any, index: int) -> None:
    assert get_event_kind("vulnerability_found").validate_config({"level": value}) == {"level": index}


@pytest.mark.parametrize("value", [-1, 6, "6", "severe", True, False, 1.0, "", [], {}])
def test_level_rejects(value: Any) -> None:
    message = config_error("vulnerability_found", {"level": value})
    assert message.startswith("level must be a vulnerability priority")
    assert "Critical (0)" in message
    assert "Unknown (5)" in message


def test_level_matches_priority_index_at_most_level() -> None:
    kind = get_event_kind("vulnerability_found")
    high = {"level": 1}
    assert kind.matches(high, vuln_payload("Critical")) is True
    assert kind.matches(high, vuln_payload("High")) is True
    assert kind.matches(high, vuln_payload("Medium")) is False
    assert kind.matches({"level": 5}, vuln_payload("Unknown")) is True
    assert kind.matches({"level": 0}, vuln_payload("High")) is False
    assert kind.matches({}, vuln_payload("Negligible")) is True


def test_level_edge_cases() -> None:
    kind = get_event_kind("vulnerability_found")
    assert kind.matches({"level": 0}, vuln_payload(None)) is False
    assert kind.matches({"level": 5}, vuln_payload("Bogus")) is False
    assert kind.matches({"level": 0}, vuln_payload("Low", vulnerable_index_report_created=True)) is True
    assert kind.matches({"level": 0}, vuln_payload(None, vulnerable_index_report_created=True)) is True
    assert kind.matches({"level": 0}, vuln_payload("Low", vulnerable_index_report_created=False)) is False
    # A config stored by Quay with the level as a string still works.
    assert kind.matches({"level": "1"}, vuln_payload("High")) is True
    assert kind.matches({"level": "nonsense"}, vuln_payload("Critical")) is False


# -- tag-patterns --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["repo_push", "vulnerability_found"])
def test_tag_patterns_normalise(name: str) -> None:
    kind = get_event_kind(name)
    assert kind.validate_config({"tag-patterns": ["v*", "latest", "v*"]}) == {
        "tag-patterns": ["v*", "latest"]
    }
    assert kind.validate_config({"tag-patterns": []}) == {}


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("v*", "must be a list"),
        ([""], "tag-patterns[0] must be a glob string"),
        (["ok", 5], "tag-patterns[1] must be a glob string"),
        (["x" * 256], "tag-patterns[0]"),
        ([f"p{i}" for i in range(51)], "at most 50"),
        (["v*", "release-\udfff"], "tag-patterns[1] must be Unicode text"),  # once a 500
    ],
)
def test_tag_patterns_reject(value: Any, fragment: str) -> None:
    assert fragment in config_error("repo_push", {"tag-patterns": value})


def test_tag_patterns_match_push_tags() -> None:
    kind = get_event_kind("repo_push")
    config = kind.validate_config({"tag-patterns": ["v1.*", "release-?"]})
    assert kind.matches(config, {"updated_tags": {"latest": "d", "v1.2": "d"}}) is True
    assert kind.matches(config, {"updated_tags": {"release-a": "d"}}) is True
    assert kind.matches(config, {"updated_tags": {"release-ab": "d", "V1.2": "d"}}) is False
    assert kind.matches(config, {"updated_tags": {}}) is False
    assert kind.matches(config, {}) is False
    assert kind.matches({"tag-patterns": []}, {"updated_tags": {"x": "d"}}) is True


def test_tag_patterns_and_level_combine_for_vulnerabilities() -> None:
    kind = get_event_kind("vulnerability_found")
    config = kind.validate_config({"level": "High", "tag-patterns": ["prod-*"]})
    assert config == {"level": 1, "tag-patterns": ["prod-*"]}
    assert kind.matches(config, vuln_payload("Critical", ["prod-1"])) is True
    assert kind.matches(config, vuln_payload("Critical", ["dev-1"])) is False
    assert kind.matches(config, vuln_payload("Low", ["prod-1"])) is False
    assert kind.matches(config, vuln_payload("Low", ["prod-1"], vulnerable_index_report_created=True)) is True


# -- repo_image_expiry days ----------------------------------------------------------------------


def test_days_is_required() -> None:
    expected = "days is required for repo_image_expiry: how many days before a tag expires to notify"
    assert config_error("repo_image_expiry", None) == expected
    assert config_error("repo_image_expiry", {}) == expected
    assert config_error("repo_image_expiry", {"days": None}) == expected


@pytest.mark.parametrize(("value", "days"), [(1, 1), (365, 365), ("7", 7), (" 30 ", 30)])
def test_days_normalise(value: Any, days: int) -> None:
    assert get_event_kind("repo_image_expiry").validate_config({"days": value}) == {"days": days}


@pytest.mark.parametrize("value", [0, 366, -3, True, 7.0, "7.5", "seven", "", [7], "٣"])
def test_days_reject(value: Any) -> None:
    assert "days must be a whole number of days from 1 to 365" in config_error(
        "repo_image_expiry", {"days": value}
    )


def test_days_matches() -> None:
    kind = get_event_kind("repo_image_expiry")
    config = {"days": 7}
    assert kind.matches(config, {"tags": ["a"], "expiring_in": "7 days"}) is True
    assert kind.matches(config, {"tags": ["a"], "expiring_in": "1 days"}) is True
    assert kind.matches(config, {"tags": ["a"], "expiring_in": "0 days"}) is True
    assert kind.matches(config, {"tags": ["a"], "expiring_in": "8 days"}) is False
    assert kind.matches(config, {"tags": ["a"], "expiring_in": "soon"}) is False
    assert kind.matches(config, {"tags": ["a"]}) is False
    assert kind.matches({}, {"tags": ["a"], "expiring_in": "1 days"}) is False
    assert kind.matches({"days": "7"}, {"expiring_in": "7 days"}) is True
