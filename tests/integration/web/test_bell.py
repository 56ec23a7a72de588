"""The bell: undismissed notices with a sentence and links; the panel fragment; dismissing."""

from __future__ import annotations

from sqlalchemy import select

from regnotify.db import Database
from regnotify.db.models import InboxItem, Repository, User
from regnotify.delivery.inbox import add_notices
from tests.integration.web.conftest import PageClient

PUSH = {
    "repository": "acme/app",
    "updated_tags": {"v1.0": "sha256:abc"},
    "summary": "Repository acme/app updated",
    "level": "primary",
}
DISABLED = {
    "repository": "acme/app",
    "notification_uuid": "0b5c",
    "title": "Tell <CI>",
    "event": "repo_push",
    "method": "webhook",
    "number_of_failures": 10,
    "reason": "10 consecutive failed attempts",
}


async def notify(database: Database, username: str, kind: str, metadata: dict[str, object]) -> None:
    async with database.write() as session:
        user = await session.scalar(select(User).where(User.username == username))
        repository = await session.scalar(select(Repository).where(Repository.name == "app"))
        assert user is not None and repository is not None
        await add_notices(
            session, [user], kind=kind, metadata=metadata, repository_id=repository.id, delivery_id=None
        )


async def test_bell_shows_count_sentences_and_links(pages: PageClient, database: Database) -> None:
    await notify(database, "bob", "repo_push", PUSH)
    await notify(database, "bob", "notification_disabled", DISABLED)
    await notify(database, "admin", "repo_push", PUSH)  # someone else's
    await pages.sign_in("bob")
    page = await pages.get("/repositories")
    assert 'data-bell-count aria-hidden="true">2<' in page.text and "Notices: 2 undismissed" in page.text
    assert "Repository acme/app updated" in page.text
    assert 'href="/repository/acme/app?tag=v1.0">tag v1.0</a>' in page.text
    assert (
        "Notification “Tell &lt;CI&gt;” on acme/app was disabled (10 consecutive failed attempts)."
        in page.text
    )
    assert 'href="/repository/acme/app/notification/0b5c/history"' in page.text


async def test_panel_fragment_and_dismissing(pages: PageClient, database: Database) -> None:
    await notify(database, "bob", "repo_push", PUSH)
    await notify(database, "bob", "repo_push", {**PUSH, "updated_tags": {"v2.0": "sha256:def"}})
    await pages.sign_in("bob")
    panel = await pages.http.get("/notices/panel?back=/repositories")
    assert panel.status_code == 200 and panel.headers["x-notice-count"] == "2"
    assert "<html" not in panel.text and 'data-count="2"' in panel.text
    assert "default-src 'none'" in panel.headers["content-security-policy"]

    await pages.get("/repositories")
    async with database.read() as session:
        first, second = await session.scalars(select(InboxItem.uuid).join(User).where(User.username == "bob"))
    by_script = await pages.http.post(
        f"/notices/{first}/dismiss",
        data={"csrf_token": pages.csrf},
        headers={"X-Requested-With": "fetch"},
    )
    assert by_script.status_code == 204
    assert (await pages.http.get("/notices/panel")).headers["x-notice-count"] == "1"
    by_form = await pages.post("/notices/dismiss-all", {"back": "/repository/acme/app"})
    assert by_form.status_code == 303 and by_form.headers["location"] == "/repository/acme/app"
    assert (await pages.http.get("/notices/panel")).headers["x-notice-count"] == "0"
    assert (await pages.post(f"/notices/{second}/dismiss")).status_code == 303  # already dismissed: fine


async def test_nobody_dismisses_anothers_notice(
    pages: PageClient, second_pages: PageClient, database: Database
) -> None:
    await notify(database, "admin", "repo_push", PUSH)
    async with database.read() as session:
        notice = await session.scalar(select(InboxItem.uuid))
    await pages.sign_in("bob")
    await pages.get("/repositories")
    assert (await pages.post(f"/notices/{notice}/dismiss")).status_code == 404
    assert (await pages.post("/notices/dismiss-all")).status_code == 303
    async with database.read() as session:
        assert (await session.scalar(select(InboxItem.dismissed))) is False
    assert (await second_pages.http.get("/notices/panel")).status_code == 401  # signed out: no panel
