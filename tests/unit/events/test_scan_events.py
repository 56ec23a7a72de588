"""scan_completed and scan_failed: the payload contract, the ``level`` filter, the texts and the samples."""

from __future__ import annotations

import json
from typing import Any, get_args

import pytest

from regnotify.events import EventConfigError, PayloadError, RepositoryRef, get_event_kind
from regnotify.events.priorities import PRIORITIES
from regnotify.events.scan import MAX_COUNT, HighestSeverity, SeverityCounts, highest_severity

REPO = RepositoryRef("acme", "app", "registry.example.com", "https://notify.example.com")
ENVELOPE = {
    "repository": "acme/app",
    "namespace": "acme",
    "name": "app",
    "docker_url": "registry.example.com/acme/app",
    "homepage": "https://notify.example.com/repository/acme/app",
}
DIGEST = "sha256:" + "4" * 64
TRIVY = {"name": "Trivy", "vendor": "Aqua Security", "version": "v0.56.1"}
ZERO_COUNTS = {"critical": 0, "high": 0, "medium": 0, "low": 0, "negligible": 0, "unknown": 0}
SCRIPT = "<script>alert('x')</script>"


def completed(**data: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"counts": {}, "total": 0, "highest_severity": "None"}
    values.update(data)
    return get_event_kind("scan_completed").build_payload(REPO, values)


def failed(**data: Any) -> dict[str, Any]:
    return get_event_kind("scan_failed").build_payload(REPO, {"status": "failed", **data})


def payload_error(kind: str, data: dict[str, Any]) -> str:
    with pytest.raises(PayloadError) as info:
        get_event_kind(kind).build_payload(REPO, data)
    return str(info.value)


# -- the payload contract --------------------------------------------------------------------------


def test_a_full_scan_completed_payload_in_contract_order() -> None:
    payload = completed(
        tags=["latest", "v1.4"],
        digest=DIGEST,
        scanner=TRIVY,
        counts={"critical": 1, "high": 3, "medium": 5, "low": 2, "negligible": 0, "unknown": 1},
        total=12,
        fixable=5,
        highest_severity="Critical",
    )
    assert payload == {
        **ENVELOPE,
        "tags": ["latest", "v1.4"],
        "digest": DIGEST,
        "scanner": TRIVY,
        "counts": {"critical": 1, "high": 3, "medium": 5, "low": 2, "negligible": 0, "unknown": 1},
        "total": 12,
        "fixable": 5,
        "highest_severity": "Critical",
    }
    assert list(payload) == [
        *ENVELOPE,
        "tags",
        "digest",
        "scanner",
        "counts",
        "total",
        "fixable",
        "highest_severity",
    ]


def test_what_the_source_does_not_say_is_null_not_left_out() -> None:
    payload = completed()
    assert payload == {
        **ENVELOPE,
        "tags": [],
        "digest": None,
        "scanner": None,
        "counts": ZERO_COUNTS,
        "total": 0,
        "fixable": None,
        "highest_severity": "None",
    }
    assert json.loads(json.dumps(payload)) == payload  # the nulls survive as JSON nulls
    partial = completed(scanner={"name": "Trivy"}, counts={"high": 2}, total=2, highest_severity="High")
    assert partial["scanner"] == {"name": "Trivy", "vendor": None, "version": None}
    assert partial["counts"] == {**ZERO_COUNTS, "high": 2}


def test_scan_failed_payload() -> None:
    payload = failed(tags=["latest"], digest=DIGEST, scanner=TRIVY, reason="the database is out of date")
    assert payload == {
        **ENVELOPE,
        "tags": ["latest"],
        "digest": DIGEST,
        "scanner": TRIVY,
        "status": "failed",
        "reason": "the database is out of date",
    }
    stopped = get_event_kind("scan_failed").build_payload(REPO, {"status": "stopped"})
    assert stopped == {
        **ENVELOPE,
        "tags": [],
        "digest": None,
        "scanner": None,
        "status": "stopped",
        "reason": None,
    }


def test_quays_kinds_still_leave_absent_fields_out() -> None:
    payload = get_event_kind("vulnerability_found").build_payload(
        REPO, {"tags": ["a"], "vulnerability": {"id": "CVE-1", "priority": "High"}}
    )
    assert payload["vulnerability"] == {"id": "CVE-1", "priority": "High"}
    assert "vulnerable_index_report_created" not in payload


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("critical", "Critical"),
        ("CRITICAL", "Critical"),
        (" High ", "High"),
        ("negligible", "Negligible"),
        ("unknown", "Unknown"),
        ("none", "None"),
        ("NONE", "None"),
        ("None", "None"),
    ],
)
def test_highest_severity_is_stored_in_its_canonical_spelling(sent: str, stored: str) -> None:
    assert completed(highest_severity=sent)["highest_severity"] == stored


def test_the_severity_names_are_vulnerability_founds_plus_none() -> None:
    assert get_args(HighestSeverity) == (*PRIORITIES, "None")
    assert tuple(SeverityCounts.model_fields) == tuple(name.lower() for name in PRIORITIES)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"highest_severity": "Severe"}, "highest_severity: Input should be 'Critical', 'High'"),
        ({"highest_severity": None}, "highest_severity:"),
        ({"counts": {"critical": -1}}, "counts.critical: Input should be greater than or equal to 0"),
        ({"counts": {"critical": MAX_COUNT + 1}}, "counts.critical: Input should be less than or equal to"),
        ({"counts": {"critical": "1"}}, "counts.critical: Input should be a valid integer"),
        ({"counts": {"critical": True}}, "counts.critical: Input should be a valid integer"),
        ({"counts": {"Critical": 1}}, "counts.Critical: unknown field; allowed: critical, high, medium"),
        ({"counts": [1, 2]}, "counts:"),
        ({"total": 1.5}, "total: Input should be a valid integer"),
        ({"total": -3}, "total: Input should be greater than or equal to 0"),
        ({"fixable": -1}, "fixable: Input should be greater than or equal to 0"),
        ({"digest": "latest"}, "digest: invalid digest: a manifest digest is algorithm:hex"),
        ({"digest": "sha256:abc..."}, "digest: invalid digest"),
        ({"digest": ""}, "digest: invalid digest"),
        ({"tags": [DIGEST]}, "tags[0]: invalid tag name"),
        ({"tags": "latest"}, "tags: Input should be a valid list"),
        (
            {"scanner": {"name": "Trivy", "url": "x"}},
            "scanner.url: unknown field; allowed: name, vendor, version",
        ),
        ({"scanner": {"version": 56}}, "scanner.version: Input should be a valid string"),
        ({"scanner": "Trivy"}, "scanner:"),
        ({"severity": "High"}, "unknown field 'severity' for event scan_completed; allowed: tags, digest"),
    ],
)
def test_bad_scan_completed_data_is_refused_naming_the_field(data: dict[str, Any], fragment: str) -> None:
    values: dict[str, Any] = {"counts": {}, "total": 0, "highest_severity": "None", **data}
    assert fragment in payload_error("scan_completed", values)


@pytest.mark.parametrize("missing", ["counts", "total", "highest_severity"])
def test_scan_completed_requires_counts_total_and_highest_severity(missing: str) -> None:
    values: dict[str, Any] = {"counts": {}, "total": 0, "highest_severity": "None"}
    del values[missing]
    assert payload_error("scan_completed", values) == f"{missing}: Field required"


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({}, "status: Field required"),
        ({"status": "error"}, "status: Input should be 'failed' or 'stopped'"),
        ({"status": "Failed"}, "status: Input should be 'failed' or 'stopped'"),
        ({"status": "failed", "reason": 5}, "reason: Input should be a valid string"),
        ({"status": "failed", "reason": "x" * 4097}, "reason: String should have at most 4096 characters"),
        ({"status": "failed", "counts": {}}, "unknown field 'counts' for event scan_failed"),
    ],
)
def test_bad_scan_failed_data_is_refused_naming_the_field(data: dict[str, Any], fragment: str) -> None:
    assert fragment in payload_error("scan_failed", data)


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ({}, "None"),
        (ZERO_COUNTS, "None"),
        ({"low": 2, "unknown": 1}, "Low"),
        ({"unknown": 1}, "Unknown"),
        ({"critical": 1, "high": 3}, "Critical"),
        ({"Critical": 0, "High": 4}, "High"),  # Harbor's keys are capitalised
        ({"medium": True, "negligible": 1}, "Negligible"),  # not a count
        ({"high": "3", "low": -1}, "None"),
    ],
)
def test_highest_severity_from_counts(counts: dict[str, Any], expected: str) -> None:
    assert highest_severity(counts) == expected


# -- the level filter ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, "0", "Critical", "critical", 3, "Low", 5, "Unknown"])
def test_level_is_stored_as_sent(value: Any) -> None:
    assert get_event_kind("scan_completed").validate_config({"level": value}) == {"level": value}


@pytest.mark.parametrize("value", ["Severe", 6, -1, "None", True, 1.5, [1]])
def test_bad_levels_are_refused_saying_what_fires(value: Any) -> None:
    with pytest.raises(EventConfigError) as info:
        get_event_kind("scan_completed").validate_config({"level": value})
    message = str(info.value)
    assert message.startswith(
        "level must be a vulnerability priority name or its number: one of Critical (0)"
    )
    assert message.endswith(
        "notifications fire for scans whose most severe finding is of that priority or more severe"
    )


@pytest.mark.parametrize("level", range(len(PRIORITIES)))
@pytest.mark.parametrize("severity", [*PRIORITIES, "None"])
def test_a_scan_fires_when_its_highest_severity_is_at_least_the_level(level: int, severity: str) -> None:
    kind = get_event_kind("scan_completed")
    payload = completed(highest_severity=severity, total=0 if severity == "None" else 1)
    fires = severity != "None" and PRIORITIES.index(severity) <= level
    assert kind.matches({"level": level}, payload) is fires
    assert kind.matches({"level": PRIORITIES[level]}, payload) is fires  # a name means its number
    assert kind.matches({}, payload) is True  # no level: every scan, a clean one too


def test_level_edge_cases() -> None:
    kind = get_event_kind("scan_completed")
    assert kind.matches({"level": "High"}, {"highest_severity": "critical"}) is True  # stored in any case
    assert kind.matches({"level": 5}, {"highest_severity": None}) is False
    assert kind.matches({"level": 5}, {}) is False
    assert kind.matches({"level": 5}, {"vulnerability": {"priority": "Critical"}}) is False
    assert kind.matches({"level": "nonsense"}, {"highest_severity": "Critical"}) is False
    # vulnerability_found's index-report rule is its own, not a scan's
    assert (
        kind.matches({"level": 0}, {"highest_severity": "Low", "vulnerable_index_report_created": True})
        is False
    )


def test_scan_failed_takes_no_filter() -> None:
    kind = get_event_kind("scan_failed")
    assert kind.validate_config({}) == {}
    with pytest.raises(
        EventConfigError, match="unknown eventConfig key 'level' for event scan_failed; allowed: none"
    ):
        kind.validate_config({"level": "High"})


# -- levels and texts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "level"),
    [
        ("Critical", "error"),
        ("High", "warning"),
        ("Medium", "warning"),
        ("Low", "info"),
        ("Negligible", "info"),
        ("Unknown", "info"),
    ],
)
def test_a_scan_is_as_alarming_as_its_worst_finding(severity: str, level: str) -> None:
    assert get_event_kind("scan_completed").level(completed(total=1, highest_severity=severity)) == level


def test_a_clean_scan_is_good_news_and_a_failure_is_not() -> None:
    assert get_event_kind("scan_completed").level(completed()) == "success"
    assert get_event_kind("scan_failed").level(failed()) == "error"
    assert get_event_kind("scan_failed").level(failed(status="stopped")) == "warning"


@pytest.mark.parametrize(
    ("data", "summary"),
    [
        (
            {"tags": ["latest"], "total": 12, "highest_severity": "Critical"},
            "Scan of acme/app:latest found 12 vulnerabilities, the most severe Critical",
        ),
        (
            {"tags": ["latest", "v1", "v1.4"], "total": 1, "highest_severity": "High"},
            "Scan of acme/app:latest (and 2 more tags) found 1 High vulnerability",
        ),
        (
            {"tags": ["latest", "v1"], "total": 2, "highest_severity": "Low"},
            "Scan of acme/app:latest (and 1 more tag) found 2 vulnerabilities, the most severe Low",
        ),
        ({"digest": DIGEST}, "Scan of acme/app@sha256:444444444444 found no vulnerabilities"),
        ({}, "Scan of acme/app found no vulnerabilities"),
    ],
)
def test_scan_completed_summaries(data: dict[str, Any], summary: str) -> None:
    assert get_event_kind("scan_completed").summary(completed(**data)) == summary


def test_scan_failed_summaries_are_one_line_with_a_short_reason() -> None:
    kind = get_event_kind("scan_failed")
    assert kind.summary(failed(tags=["latest"])) == "Scan of acme/app:latest failed"
    assert (
        kind.summary(failed(status="stopped", digest=DIGEST))
        == "Scan of acme/app@sha256:444444444444 was stopped"
    )
    reason = kind.summary(failed(reason="adapter error:\n  timeout"))
    assert reason == "Scan of acme/app failed: adapter error: timeout"
    long = kind.summary(failed(reason="x" * 1000))
    assert long == "Scan of acme/app failed: " + "x" * 199 + "…"


def test_scan_completed_messages() -> None:
    kind = get_event_kind("scan_completed")
    payload = kind.sample_payload(REPO)
    home = '<a href="https://notify.example.com/repository/acme/app">acme/app</a>'
    digest = payload["digest"]
    assert kind.html_message(payload) == (
        f"<p>Scan of repository {home} (tag <code>latest</code>, digest <code>{digest}</code>) "
        "found 12 vulnerabilities, the most severe Critical.</p>\n"
        "<p>Critical: 1, High: 3, Medium: 5, Low: 2, Unknown: 1. 5 have a fix available.</p>\n"
        "<p>Scanner: Trivy v0.56.1 (Aqua Security)</p>"
    )
    assert kind.text_message(payload).splitlines() == [
        f"Scan of repository acme/app (tag latest, digest {digest}) found 12 vulnerabilities, "
        "the most severe Critical.",
        "Critical: 1, High: 3, Medium: 5, Low: 2, Unknown: 1",
        "With a fix available: 5",
        "Scanner: Trivy v0.56.1 (Aqua Security)",
        "Repository: https://notify.example.com/repository/acme/app",
    ]


def test_a_clean_scan_says_so_and_nothing_about_fixes() -> None:
    kind = get_event_kind("scan_completed")
    payload = completed(tags=["a", "b"], fixable=0)
    html = kind.html_message(payload)
    assert html == (
        '<p>Scan of repository <a href="https://notify.example.com/repository/acme/app">acme/app</a> '
        "(tags <code>a</code>, <code>b</code>) found no vulnerabilities.</p>"
    )
    assert kind.text_message(payload).splitlines() == [
        "Scan of repository acme/app (tags a, b) found no vulnerabilities.",
        "Repository: https://notify.example.com/repository/acme/app",
    ]


def test_unknown_fixable_and_partial_scanner_are_left_unsaid() -> None:
    kind = get_event_kind("scan_completed")
    payload = completed(
        total=2, counts={"high": 2}, highest_severity="High", scanner={"vendor": "Aqua Security"}
    )
    assert "fix" not in kind.html_message(payload)
    assert "<p>High: 2.</p>" in kind.html_message(payload)
    assert "<p>Scanner: Aqua Security</p>" in kind.html_message(payload)
    text = kind.text_message(payload)
    assert "fix" not in text and "Scanner: Aqua Security" in text


def test_scan_failed_messages() -> None:
    kind = get_event_kind("scan_failed")
    payload = kind.sample_payload(REPO)
    home = '<a href="https://notify.example.com/repository/acme/app">acme/app</a>'
    assert kind.html_message(payload) == (
        f"<p>Scan of repository {home} (tag <code>latest</code>, digest <code>{payload['digest']}</code>) "
        "failed: failed to download the vulnerability database: context deadline exceeded</p>\n"
        "<p>Scanner: Trivy v0.56.1 (Aqua Security)</p>"
    )
    stopped = failed(status="stopped")
    assert kind.html_message(stopped) == f"<p>Scan of repository {home} was stopped.</p>"
    assert kind.text_message(stopped).splitlines() == [
        "Scan of repository acme/app was stopped.",
        "Repository: https://notify.example.com/repository/acme/app",
    ]


def test_what_the_source_says_is_escaped() -> None:
    scanner = {"name": SCRIPT, "vendor": '"><img src=x>', "version": "<b>1</b>"}
    for name, payload in (
        ("scan_completed", completed(scanner=scanner, total=1, counts={"low": 1}, highest_severity="Low")),
        ("scan_failed", failed(scanner=scanner, reason=SCRIPT)),
    ):
        html = get_event_kind(name).html_message(payload)
        assert "<script>" not in html and "<img" not in html and "<b>" not in html
        assert (
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &lt;b&gt;1&lt;/b&gt; "
            "(&#34;&gt;&lt;img src=x&gt;)" in html
        )
    # A stored payload is rendered as it is: tags and digest too.
    odd = {**ENVELOPE, "tags": [SCRIPT], "digest": SCRIPT, "total": 0}
    html = get_event_kind("scan_completed").html_message(odd)
    assert "<script>" not in html and html.count("&lt;script&gt;") == 2


# -- samples (the Test button) ---------------------------------------------------------------------


def test_scan_completed_sample_is_a_trivy_scan_of_latest() -> None:
    sample = get_event_kind("scan_completed").sample_payload(REPO)
    assert sample == {
        **ENVELOPE,
        "tags": ["latest"],
        "digest": "sha256:f9710cfe5f7d1f3a6b9278c65c82c18775b73e74f5a578def9658278169aaf5c",
        "scanner": {"name": "Trivy", "vendor": "Aqua Security", "version": "v0.56.1"},
        "counts": {"critical": 1, "high": 3, "medium": 5, "low": 2, "negligible": 0, "unknown": 1},
        "total": 12,
        "fixable": 5,
        "highest_severity": "Critical",
    }
    assert sample["total"] == sum(sample["counts"].values())
    assert sample["highest_severity"] == highest_severity(sample["counts"])


def test_scan_failed_sample() -> None:
    sample = get_event_kind("scan_failed").sample_payload(REPO)
    assert sample == {
        **ENVELOPE,
        "tags": ["latest"],
        "digest": "sha256:f9710cfe5f7d1f3a6b9278c65c82c18775b73e74f5a578def9658278169aaf5c",
        "scanner": {"name": "Trivy", "vendor": "Aqua Security", "version": "v0.56.1"},
        "status": "failed",
        "reason": "failed to download the vulnerability database: context deadline exceeded",
    }


@pytest.mark.parametrize("level", [*range(len(PRIORITIES)), *PRIORITIES])
def test_the_test_button_sample_fires_for_any_level(level: Any) -> None:
    kind = get_event_kind("scan_completed")
    config = kind.validate_config({"level": level})
    assert kind.matches(config, kind.sample_payload(REPO, config)) is True


@pytest.mark.parametrize("name", ["scan_completed", "scan_failed"])
def test_samples_are_fresh_copies(name: str) -> None:
    kind = get_event_kind(name)
    first = kind.sample_payload(REPO)
    first["scanner"]["name"] = "changed"
    first["tags"].append("x")
    assert kind.sample_payload(REPO)["scanner"]["name"] == "Trivy"
    assert kind.sample_payload(REPO)["tags"] == ["latest"]
