"""Event-config filters: validate_config (accept, reject, normalise) and matches (Quay's semantics)."""

from __future__ import annotations

import fnmatch
import logging
from typing import Any

import pytest

from regnotify.events import EVENT_KINDS, EventConfigError, RepositoryRef, get_event_kind
from regnotify.events.filters import MAX_PATTERNS, MAX_REGEX_LENGTH, RE2_NOTE, level_index, warn_unrunnable
from regnotify.events.priorities import PRIORITIES

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
    assert config_error("build_start", {"ref-regex": "a" * 513}) == (
        f"ref-regex is too long: 513 characters; at most {MAX_REGEX_LENGTH} are allowed"
    )
    assert MAX_REGEX_LENGTH == 512
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


# -- ref-regex runs on RE2 (issue 12, "Isolation") ------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "fires", "does_not_fire"),
    [
        (r"^refs/heads/main$", "refs/heads/main", "refs/heads/main-2"),
        (r"^refs/tags/v[0-9]+\.[0-9]+", "refs/tags/v1.22", "refs/tags/vX.1"),
        (r"heads/(main|release-.*)", "heads/release-2", "refs/heads/main"),
        (r"refs/heads/(main|release-.*)", "refs/heads/release-2", "refs/heads/feature"),
        (r"(?i)^refs/heads/feature/.*", "refs/heads/FEATURE/x", "refs/heads/feat"),
        (r"^refs/tags/v\d+\.\d+\.\d+$", "refs/tags/v1.2.3", "refs/tags/v1.2"),
        (r"^refs/heads/(?P<topic>[\w-]+)/", "refs/heads/bug-1/x", "refs/heads/bug 1/x"),
    ],
)
def test_ordinary_ref_regexes_work(pattern: str, fires: str, does_not_fire: str) -> None:
    kind = get_event_kind("build_success")
    config = kind.validate_config({"ref-regex": pattern})
    assert config == {"ref-regex": pattern}
    assert kind.matches(config, build_payload(fires)) is True
    assert kind.matches(config, build_payload(does_not_fire)) is False


@pytest.mark.parametrize(
    ("pattern", "construct"),
    [
        (r"(a)\1", r"a backreference (\1)"),
        (r"(?P<b>x)(?P=b)", "a named backreference ((?P=name))"),
        (r"refs/heads/(?!wip)", "a negative lookahead ((?!...))"),
        (r"refs/heads/(?=main)", "a lookahead ((?=...))"),
        (r".*(?<=/main)$", "a lookbehind ((?<=...))"),
        (r".*(?<!/wip)$", "a negative lookbehind ((?<!...))"),
        (r"(?>refs/)heads", "an atomic group ((?>...))"),
        (r"refs/heads/.++", "a possessive quantifier (++)"),
        (r"(refs/)?(?(1)heads|tags)", "a conditional group ((?(1)...|...))"),
    ],
)
def test_ref_regex_refusals_name_the_construct(pattern: str, construct: str) -> None:
    assert config_error("build_start", {"ref-regex": pattern}) == (
        f"ref-regex uses {construct}, which cannot be matched in linear time; {RE2_NOTE}"
    )


def test_ref_regex_refusals_for_re2_limits() -> None:
    assert config_error("build_start", {"ref-regex": "(?x) refs / heads"}).startswith(
        "ref-regex uses verbose mode ((?x)), which RE2 does not have"
    )
    assert config_error("build_start", {"ref-regex": "refs/.{1001}"}).startswith(
        "ref-regex uses a repetition count above 1000 ({1001}), more than RE2 allows"
    )
    assert config_error("build_start", {"ref-regex": r"(?s).*a.{400}x"}).startswith(
        "ref-regex is too complex: RE2 compiles it to 2813 instructions; at most 1000 are allowed"
    )
    # Python's message still comes first for what Python cannot read at all.
    assert config_error("build_start", {"ref-regex": "(a"}).startswith(
        "ref-regex is not a valid regular expression: missing ), unterminated subpattern"
    )


def test_hostile_ref_regex_is_matched_by_re2_correctly() -> None:
    """^(a+)+$ on 4,096 a's and a "!" would backtrack for longer than the universe has existed in re."""
    kind = get_event_kind("build_failure")
    config = kind.validate_config({"ref-regex": "^(a+)+$"})
    assert kind.matches(config, build_payload("a" * 4096 + "!")) is False
    assert kind.matches(config, build_payload("a" * 4096)) is True
    assert kind.matches({"ref-regex": "(x+x+)+y"}, build_payload("x" * 4096)) is False


def test_stored_ref_regex_re2_cannot_run_fires_nothing_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Stored before RE2: refused at create now, but an old row must neither stall nor fire."""
    kind = get_event_kind("build_start")
    pattern = r"^refs/heads/(\w+)-\1$"  # a backreference: Python's re accepted it
    warn_unrunnable.cache_clear()
    with caplog.at_level(logging.WARNING, logger="regnotify.events.filters"):
        for _ in range(3):
            assert kind.matches({"ref-regex": pattern}, build_payload("refs/heads/a-a")) is False
            assert kind.matches({"ref-regex": pattern}, build_payload("refs/heads/a-b")) is False
    warnings = [r for r in caplog.records if r.name == "regnotify.events.filters"]
    assert len(warnings) == 1
    assert "uses a backreference (\\1)" in warnings[0].getMessage()
    assert "fire for no build" in warnings[0].getMessage()


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
def test_level_is_stored_as_sent_and_matches_by_its_index(value: Any, index: int) -> None:
    kind = get_event_kind("vulnerability_found")
    stored = kind.validate_config({"level": value})
    assert stored == {"level": value}  # Quay keeps it verbatim; tools compare it with what they sent
    assert level_index(stored["level"]) == index
    assert kind.matches(stored, vuln_payload(PRIORITIES[index])) is True
    if index > 0:
        assert kind.matches(stored, vuln_payload(PRIORITIES[index - 1])) is True
    if index < len(PRIORITIES) - 1:
        assert kind.matches(stored, vuln_payload(PRIORITIES[index + 1])) is False


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


@pytest.mark.parametrize(
    ("flag", "fires"),
    [
        (True, True),
        ("true", True),
        ("TRUE", True),
        ("True", True),
        (False, False),
        ("false", False),
        ("FALSE", False),
        (None, False),
    ],
)
def test_level_reads_the_index_report_flag_as_quay_sends_it(flag: Any, fires: bool) -> None:
    """Quay's security worker sends the flag as the string "true"; "false" must not count as set."""
    kind = get_event_kind("vulnerability_found")
    assert kind.matches({"level": 0}, vuln_payload("Low", vulnerable_index_report_created=flag)) is fires


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


def test_tag_pattern_count_refusal_names_the_limit() -> None:
    assert config_error("repo_push", {"tag-patterns": [f"p{i}" for i in range(MAX_PATTERNS + 1)]}) == (
        f"tag-patterns has {MAX_PATTERNS + 1} patterns; at most {MAX_PATTERNS} are allowed"
    )


def test_hostile_glob_against_a_long_tag_returns() -> None:
    """fnmatch turns each *X into an atomic group, so this does not backtrack (a naive .*a.*a… would:
    choosing 20 of 255 positions); RE2 was measured slower on such globs, so tag-patterns keep fnmatch."""
    kind = get_event_kind("vulnerability_found")
    glob = "*a" * 20 + "*b"
    tag = "a" * 255
    assert "(?>" in fnmatch.translate(glob)
    assert not kind.matches({"tag-patterns": [glob]}, {"tags": [tag]})
    assert kind.matches({"tag-patterns": [glob]}, {"tags": [tag + "b"]})


def test_tag_patterns_and_level_combine_for_vulnerabilities() -> None:
    kind = get_event_kind("vulnerability_found")
    config = kind.validate_config({"level": "High", "tag-patterns": ["prod-*"]})
    assert config == {"level": "High", "tag-patterns": ["prod-*"]}
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
