"""An admin sets notifications up from the browser; another user reads their notices under the bell."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.browser.conftest import sign_in
from tests.browser.live import LiveServer


def create_form(page: Page, repository: str) -> None:
    page.goto(f"/repository/{repository}?tab=settings")
    page.get_by_role("link", name="Create notification").click()
    expect(page.get_by_role("heading", name="Create notification")).to_be_visible()


def row_of(page: Page, title: str):  # type: ignore[no-untyped-def]
    return page.locator("tr[data-notification]", has_text=title)


def test_webhook_test_delivery_succeeds_in_history(new_page: Callable[..., Page], live: LiveServer) -> None:
    page = new_page()
    sign_in(page, "admin")
    create_form(page, "acme/app")
    page.get_by_label("Event").select_option("repo_push")
    page.get_by_label("Tag patterns (optional)").fill("v*, latest")
    page.get_by_label("Method").select_option("webhook")
    expect(page.get_by_label("E-mail address")).to_be_hidden()  # only the chosen method's fields show
    page.get_by_label("Webhook URL").fill(f"{live.receiver.url}/hooks/ci")
    template = page.get_by_label("JSON body template (optional)")
    template.fill('{"text": "pushed"')
    expect(page.get_by_text("Not valid JSON yet")).to_be_visible()  # checked while typing
    page.get_by_label("Title (optional)").fill("Tell CI")
    page.get_by_role("button", name="Create notification").click()
    # the server refuses it too, and says so next to the template field
    expect(page.locator("#template-error")).to_contain_text("template is invalid")
    expect(template).to_have_attribute("aria-invalid", "true")

    page.get_by_label("JSON body template (optional)").fill('{"text": "pushed ${repository}"}')
    page.get_by_label("Sign payloads").check()
    page.get_by_role("button", name="Create notification").click()
    expect(page.get_by_role("heading", name="Notification created")).to_be_visible()
    secret = page.locator("#signing-secret").inner_text()
    assert secret.startswith("whsec_")
    page.get_by_role("link", name="Done").click()

    row = row_of(page, "Tell CI")
    expect(row).to_contain_text("Repository Push")
    expect(row).to_contain_text("tags v*, latest")
    expect(row).to_contain_text("http://127.0.0.1:")
    expect(row).not_to_contain_text("/hooks/ci")  # the URL is a secret: masked
    assert secret not in page.content()

    row.get_by_role("button", name="Test").click()
    expect(page.get_by_role("heading", name="History: Tell CI")).to_be_visible()
    state = page.locator("tr[data-delivery] .state").first
    expect(state).to_have_text("succeeded")  # the page reloads itself while the delivery is pending
    expect(page.locator("figure.chart figcaption")).to_contain_text("1 succeeded")

    (hook,) = [r for r in live.receiver.requests if r.path == "/hooks/ci"]
    assert json.loads(hook.body) == {"text": "pushed acme/app"}
    assert hook.headers["webhook-signature"].startswith("v1,")

    page.locator("tr[data-delivery] a").first.click()
    expect(page.get_by_role("heading", name=re.compile("^Delivery "))).to_be_visible()
    expect(page.get_by_text("Attempt 1")).to_be_visible()
    expect(page.locator("pre.code").first).to_contain_text('"repository": "acme/app"')
    page.get_by_role("button", name="Redeliver").click()
    expect(page.locator("tr[data-delivery] .state").first).to_have_text("succeeded")
    assert len([r for r in live.receiver.requests if r.path == "/hooks/ci"]) == 2


def test_slack_notification_is_created_and_deleted(new_page: Callable[..., Page]) -> None:
    page = new_page()
    sign_in(page, "admin")
    create_form(page, "acme/chat")
    page.get_by_label("Method").select_option("slack")
    page.get_by_label("Chat service URL").fill("https://hooks.example.com/services/T0/B0/x")
    page.get_by_label("Title (optional)").fill("Team chat")
    page.get_by_role("button", name="Create notification").click()
    expect(page.locator("#chat_url-error")).to_contain_text("Slack incoming webhook")

    page.get_by_label("Chat service URL").fill("https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXX")
    page.get_by_role("button", name="Create notification").click()
    row = row_of(page, "Team chat")
    expect(row).to_contain_text("Slack Notification")
    expect(row).to_contain_text("https://hooks.slack.com/…")
    expect(row).not_to_contain_text("XXXXXXXXXXXX")

    row.get_by_role("link", name="Delete").click()
    expect(page.get_by_role("heading", name="Delete notification?")).to_be_visible()
    page.get_by_role("button", name="Delete notification").click()
    expect(page.get_by_role("status")).to_have_text("Notification deleted.")
    expect(row_of(page, "Team chat")).to_have_count(0)


def test_in_app_notice_under_the_bell(new_page: Callable[..., Page]) -> None:
    admin = new_page()
    sign_in(admin, "admin")
    create_form(admin, "acme/bell")
    admin.get_by_label("Method").select_option("quay_notification")
    admin.get_by_label("Notify").select_option("user")
    admin.get_by_label("User, team or organization name").fill("bob")
    admin.get_by_label("Title (optional)").fill("Tell Bob")
    admin.get_by_role("button", name="Create notification").click()
    row_of(admin, "Tell Bob").get_by_role("button", name="Test").click()
    expect(admin.locator("tr[data-delivery] .state").first).to_have_text("succeeded")

    bob = new_page()
    bob.clock.install()  # the bell's 30-second refresh, without waiting 30 seconds
    sign_in(bob, "bob")
    bell = bob.locator("summary.bell-button")
    count = bob.locator("[data-bell-count]")
    expect(count).to_have_text("1")
    bell.click()
    notice = bob.locator("li.notice")
    expect(notice).to_contain_text("Repository acme/bell updated")
    expect(notice.get_by_role("link", name="acme/bell")).to_have_attribute("href", "/repository/acme/bell")
    expect(notice.get_by_role("link", name="tag latest")).to_be_visible()
    notice.get_by_role("button", name=re.compile("^Dismiss")).click()
    expect(count).to_have_text("0")
    expect(bob.locator(".bell-panel")).to_contain_text("No notices.")
    bell.click()  # close the panel
    bob.reload()
    expect(count).to_have_text("0")  # dismissed for good

    admin.get_by_role("button", name="Send a test").click()
    expect(admin.locator("tr[data-delivery] .state").first).to_have_text("succeeded")
    bob.clock.run_for(30_500)  # the open page refreshes its bell, no reload
    expect(count).to_have_text("1")
    bell.click()
    bob.get_by_role("button", name="Dismiss all").click()
    expect(count).to_have_text("0")


def test_read_only_user_has_no_settings(new_page: Callable[..., Page]) -> None:
    page = new_page()
    sign_in(page, "reader")
    expect(page.get_by_role("link", name="acme/app")).to_be_visible()
    expect(page.get_by_role("link", name="acme/bell")).to_have_count(0)  # cannot read it: not listed
    page.get_by_role("link", name="acme/app").click()
    expect(page.get_by_text("registry.example.com/acme/app")).to_be_visible()
    expect(page.get_by_role("link", name="Overview")).to_be_visible()
    expect(page.get_by_role("link", name="Settings")).to_have_count(0)
    response = page.goto("/repository/acme/app?tab=settings")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    response = page.goto("/repository/acme/app/notification/new")
    assert response is not None and response.status == 403


def test_email_authorization_end_to_end(new_page: Callable[..., Page], live: LiveServer) -> None:
    page = new_page()
    sign_in(page, "admin")
    create_form(page, "acme/mail")
    page.get_by_label("Method").select_option("email")
    page.get_by_label("E-mail address").fill("ops@example.org")
    page.get_by_label("Title (optional)").fill("Mail ops")
    page.get_by_role("button", name="Create notification").click()
    expect(page.locator("#email-error")).to_contain_text("confirm the address")

    before = len(live.mail.messages)
    page.get_by_role("button", name="Send confirmation mail").click()
    status = page.locator("[data-email-wait]")
    expect(status).to_contain_text("Waiting for the address to confirm")
    link = live.mail.wait_for_link()
    assert len(live.mail.messages) == before + 1

    confirmation = new_page()  # whoever reads the mail: not signed in
    confirmation.goto(link)
    expect(confirmation.get_by_role("main")).to_contain_text("acme/mail")
    expect(confirmation.get_by_role("main")).to_contain_text("ops@example.org")
    confirmation.get_by_role("button", name="Confirm").click()
    expect(confirmation.get_by_role("heading", name="Confirmed")).to_be_visible()

    expect(status).to_contain_text("is confirmed")  # the form noticed by itself
    page.get_by_role("button", name="Create notification").click()
    expect(row_of(page, "Mail ops")).to_contain_text("ops@example.org")
