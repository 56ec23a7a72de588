"""Screenshots for the README, made from a live server with some history.

``python docs/screenshots/make.py`` runs this with REGNOTIFY_UPDATE_SCREENSHOTS=1 to rewrite
``docs/screenshots/*.png``; in the normal test run they go to a temporary directory, and the test
still checks what each screenshot must show.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import sign_in
from tests.browser.live import LiveServer

REPO = "acme/shots"
DIGEST = "sha256:b750fe79269d2ec9a3c593ef05b4332b1d1a02a62b4accb2c21d589ff2f5f2dc"


def create(live: LiveServer, body: dict[str, object]) -> str:
    response = live.api("POST", f"/repository/{REPO}/notification/", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["uuid"])


def push(live: LiveServer, number: int, tag: str) -> None:
    body = {"kind": "repo_push", "id": f"shot-{number}", "data": {"updated_tags": {tag: DIGEST}}}
    response = live.api("POST", f"/repository/{REPO}/events", json=body)
    assert response.status_code in (200, 201), response.text


def wait_until_attempted(live: LiveServer, uuid: str, count: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        deliveries = live.api("GET", f"/repository/{REPO}/notification/{uuid}/deliveries").json()[
            "deliveries"
        ]
        if len([d for d in deliveries if d["attempts"] > 0]) >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"deliveries of {uuid} were not attempted")


def history_with_outcomes(live: LiveServer) -> tuple[str, str]:
    """Notifications of every kind, events that reach them, and a receiver that fails now and then."""
    ci = create(
        live,
        {
            "event": "repo_push",
            "method": "webhook",
            "title": "Tell CI",
            "config": {"url": f"{live.receiver.url}/flaky/ci", "secret": True},
            "eventConfig": {"tag-patterns": ["v*"]},
        },
    )
    broken = create(
        live,
        {
            "event": "repo_push",
            "method": "webhook",
            "title": "Old deploy hook",
            "config": {"url": f"{live.receiver.url}/fail/deploy"},
        },
    )
    create(
        live,
        {
            "event": "repo_push",
            "method": "quay_notification",
            "title": "Tell the admins",
            "config": {"target": {"kind": "user", "name": "admin"}},
        },
    )
    create(
        live,
        {
            "event": "vulnerability_found",
            "method": "slack",
            "title": "Security channel",
            "config": {"url": "https://hooks.slack.com/services/T024/B066/c2VjcmV0LXRva2Vu"},
            "eventConfig": {"level": "High"},
        },
    )
    for number, tag in enumerate(("v1.0", "v1.1", "v1.2", "latest", "v1.3", "v2.0"), start=1):
        push(live, number, tag)
    wait_until_attempted(live, ci, 5)
    wait_until_attempted(live, broken, 3)
    return ci, broken


def test_screenshots(new_page: Callable[..., Page], live: LiveServer, screenshots_dir: Path) -> None:
    ci, _ = history_with_outcomes(live)
    page = new_page()
    sign_in(page, "admin")

    page.goto(f"/repository/{REPO}?tab=settings")
    table = page.locator("table.notifications")
    expect(table).to_contain_text("Tell CI")
    expect(table.locator("tr", has_text="Old deploy hook")).to_contain_text("disabled")
    expect(
        table.locator("tr", has_text="Old deploy hook").get_by_role("button", name="Enable")
    ).to_be_visible()
    page.screenshot(path=str(screenshots_dir / "notifications.png"))

    page.goto(f"/repository/{REPO}/notification/new")
    page.get_by_label("Tag patterns (optional)").fill("v*")
    page.get_by_label("Webhook URL").fill("https://ci.example.com/hooks/registry")
    page.get_by_label("JSON body template (optional)").fill('{"text": "${repository} pushed"}')
    expect(page.get_by_text("Valid JSON.")).to_be_visible()
    page.get_by_label("Sign payloads").check()
    page.get_by_label("Title (optional)").fill("Tell CI")
    page.screenshot(path=str(screenshots_dir / "create.png"), full_page=True)

    page.goto(f"/repository/{REPO}/notification/{ci}/history")
    expect(page.locator("figure.chart figcaption")).to_contain_text("succeeded")
    expect(page.locator("tr[data-delivery] .state", has_text="succeeded").first).to_be_visible()
    page.screenshot(path=str(screenshots_dir / "history.png"))

    page.goto(f"/repository/{REPO}")
    page.locator("summary.bell-button").click()
    panel = page.locator(".bell-panel")
    expect(panel).to_contain_text("was disabled (3 consecutive failed attempts)")
    expect(panel).to_contain_text(f"Repository {REPO} updated")
    page.screenshot(path=str(screenshots_dir / "bell.png"))

    narrow = new_page(375, 800)
    sign_in(narrow, "admin")
    narrow.goto(f"/repository/{REPO}?tab=settings")
    expect(narrow.locator("table.notifications")).to_contain_text("Tell CI")
    assert narrow.evaluate("document.documentElement.scrollWidth") <= 375  # nothing wider than the phone
    narrow.screenshot(path=str(screenshots_dir / "notifications-375.png"))

    for name in ("notifications", "create", "history", "bell", "notifications-375"):
        assert (screenshots_dir / f"{name}.png").stat().st_size > 10_000
