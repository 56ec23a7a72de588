"""Levels, one-line summaries, escaped HTML and plain-text messages for every kind."""

from __future__ import annotations

from typing import Any

import pytest

from regnotify.events import EVENT_KINDS, RepositoryRef, get_event_kind

REPO = RepositoryRef("acme", "app", "registry.example.com", "https://notify.example.com")
DIGEST = "sha256:" + "b" * 64


def payload(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    return get_event_kind(kind).build_payload(REPO, data)


def build_data(**extra: Any) -> dict[str, Any]:
    return {"build_id": "0123456789abcdef", "docker_tags": ["latest"], **extra}


def vuln_data(priority: str, tags: int = 3) -> dict[str, Any]:
    return {"tags": [f"t{i}" for i in range(tags)], "vulnerability": {"id": "CVE-1", "priority": priority}}


@pytest.mark.parametrize(
    ("kind", "data", "level", "summary"),
    [
        ("repo_push", {"updated_tags": {"x": DIGEST}}, "primary", "Repository acme/app updated"),
        (
            "build_queued",
            build_data(is_manual=True),
            "info",
            "Build queued for repository acme/app [0123456]",
        ),
        ("build_start", build_data(), "info", "Build started for repository acme/app [0123456]"),
        ("build_success", build_data(), "success", "Build succeeded for repository acme/app [0123456]"),
        (
            "build_failure",
            build_data(error_message="boom"),
            "error",
            "Build failure for repository acme/app [0123456]",
        ),
        ("build_cancelled", build_data(), "info", "Build cancelled for repository acme/app [0123456]"),
        (
            "vulnerability_found",
            vuln_data("critical"),
            "error",
            "Critical vulnerability detected in repository acme/app in 3 tags",
        ),
        (
            "vulnerability_found",
            vuln_data("High", 1),
            "warning",
            "High vulnerability detected in repository acme/app in 1 tags",
        ),
        (
            "vulnerability_found",
            vuln_data("Medium"),
            "warning",
            "Medium vulnerability detected in repository acme/app in 3 tags",
        ),
        (
            "vulnerability_found",
            vuln_data("Low"),
            "info",
            "Low vulnerability detected in repository acme/app in 3 tags",
        ),
        (
            "vulnerability_found",
            vuln_data("Negligible"),
            "info",
            "Negligible vulnerability detected in repository acme/app in 3 tags",
        ),
        (
            "vulnerability_found",
            vuln_data("Unknown"),
            "info",
            "Unknown vulnerability detected in repository acme/app in 3 tags",
        ),
        (
            "repo_mirror_sync_started",
            {"message": "'q/x' with tag pattern '*'"},
            "info",
            "Repository Mirror started for 'q/x' with tag pattern '*'",
        ),
        ("repo_mirror_sync_success", {"message": "m"}, "success", "Repository Mirror success for m"),
        ("repo_mirror_sync_failed", {"message": "m"}, "error", "Repository Mirror failed for m"),
        (
            "repo_image_expiry",
            {"tags": ["a"], "expiring_in": "2 days"},
            "info",
            "Repository acme/app image(s) expiring",
        ),
    ],
)
def test_level_and_summary(kind: str, data: dict[str, Any], level: str, summary: str) -> None:
    event = get_event_kind(kind)
    built = payload(kind, data)
    assert event.level(built) == level
    assert event.summary(built) == summary


def test_summary_is_one_line() -> None:
    kind = get_event_kind("repo_mirror_sync_failed")
    built = payload("repo_mirror_sync_failed", {"message": "sync of 'q/x'\nfailed:\r\n  timeout\u2028later"})
    assert kind.summary(built) == "Repository Mirror failed for sync of 'q/x' failed: timeout later"


@pytest.mark.parametrize("name", list(EVENT_KINDS))
def test_every_kind_renders_its_sample(name: str) -> None:
    kind = EVENT_KINDS[name]
    sample = kind.sample_payload(REPO)
    assert kind.level(sample) in {"info", "warning", "error", "primary", "success"}
    summary = kind.summary(sample)
    assert summary
    assert "\n" not in summary
    html = kind.html_message(sample)
    assert html.startswith("<p>")
    assert "acme/app" in html
    text = kind.text_message(sample)
    assert "acme/app" in text
    assert "<" not in text


@pytest.mark.parametrize("name", list(EVENT_KINDS))
def test_rendering_never_fails_on_odd_payloads(name: str) -> None:
    kind = EVENT_KINDS[name]
    odd: list[dict[str, Any]] = [
        {},
        {"repository": 5, "tags": "x", "updated_tags": ["a"], "vulnerability": "v", "trigger_metadata": []},
        {"build_id": None, "docker_tags": [1, None], "message": {"a": 1}, "expiring_in": 3},
    ]
    for item in odd:
        assert isinstance(kind.level(item), str)
        assert isinstance(kind.summary(item), str)
        assert isinstance(kind.html_message(item), str)
        assert isinstance(kind.text_message(item), str)


SCRIPT = "<script>alert('x')</script>"


def test_build_failure_error_and_commit_message_are_escaped() -> None:
    metadata = {
        "ref": "refs/heads/<b>main</b>",
        "commit": "abcdef1234",
        "commit_info": {
            "message": SCRIPT,
            "url": "https://git.example/c/1",
            "author": {"username": "<i>eve"},
        },
    }
    built = payload("build_failure", build_data(error_message=SCRIPT, trigger_metadata=metadata))
    html = get_event_kind("build_failure").html_message(built)
    assert "<script>" not in html
    assert "<b>" not in html
    assert "<i>" not in html
    assert html.count("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;") == 2
    assert '<a href="https://git.example/c/1">abcdef1</a>' in html
    assert "Error: <code>&lt;script&gt;" in html
    text = get_event_kind("build_failure").text_message(built)
    assert f"Error: {SCRIPT}" in text


def test_push_tags_and_vulnerability_text_are_escaped() -> None:
    vuln = payload(
        "vulnerability_found",
        {
            "tags": ['"><img src=x>'],
            "vulnerability": {
                "id": SCRIPT,
                "priority": "Low",
                "description": SCRIPT,
                "link": "https://cve.example/1",
            },
        },
    )
    html = get_event_kind("vulnerability_found").html_message(vuln)
    assert "<script>" not in html
    assert "<img" not in html
    assert '<a href="https://cve.example/1">&lt;script&gt;' in html
    mirror = payload("repo_mirror_sync_failed", {"message": SCRIPT})
    assert "<script>" not in get_event_kind("repo_mirror_sync_failed").html_message(mirror)


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:text/html,x",
        "/relative",
        "http://",
        "ftp://x.example/",
    ],
)
def test_only_http_links_become_anchors(link: str) -> None:
    vuln = payload(
        "vulnerability_found",
        {"tags": ["a"], "vulnerability": {"id": "CVE-9", "priority": "Low", "link": link}},
    )
    html = get_event_kind("vulnerability_found").html_message(vuln)
    assert html.count("<a href=") == 1  # only the repository link is left
    assert ">CVE-9</a>" not in html
    assert "A Low vulnerability, CVE-9, was detected" in html


def test_attribute_values_are_escaped() -> None:
    vuln = payload(
        "vulnerability_found",
        {
            "tags": ["a"],
            "vulnerability": {"id": "C", "priority": "Low", "link": 'https://x.example/"onmouseover="x'},
        },
    )
    html = get_event_kind("vulnerability_found").html_message(vuln)
    assert 'href="https://x.example/&#34;onmouseover=&#34;x"' in html


def test_push_messages() -> None:
    built = payload("repo_push", {"updated_tags": {"latest": DIGEST, "v1": DIGEST}})
    kind = get_event_kind("repo_push")
    html = kind.html_message(built)
    assert '<a href="https://notify.example.com/repository/acme/app">acme/app</a>' in html
    assert "<code>latest</code>, <code>v1</code>" in html
    text = kind.text_message(built)
    assert f"  latest: {DIGEST}" in text
    assert "https://notify.example.com/repository/acme/app" in text


def test_vulnerability_messages_mention_the_fix() -> None:
    kind = get_event_kind("vulnerability_found")
    fixed = payload(
        "vulnerability_found",
        {"tags": ["a"], "vulnerability": {"id": "CVE-2", "priority": "High", "has_fix": True}},
    )
    unfixed = payload(
        "vulnerability_found",
        {"tags": ["a"], "vulnerability": {"id": "CVE-2", "priority": "High", "has_fix": False}},
    )
    assert "A fix is available." in kind.html_message(fixed)
    assert "No fix is available yet." in kind.html_message(unfixed)
    assert "A fix is available." in kind.text_message(fixed)


def test_long_tag_lists_are_shortened() -> None:
    built = payload("repo_image_expiry", {"tags": [f"t{i}" for i in range(25)], "expiring_in": "3 days"})
    kind = get_event_kind("repo_image_expiry")
    assert "(and 5 more)" in kind.html_message(built)
    assert "(and 5 more)" in kind.text_message(built)
    assert "in 3 days" in kind.text_message(built)
