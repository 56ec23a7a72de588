"""The repository list and page: who sees what, with the API's permission rules."""

from __future__ import annotations

import pytest

from regnotify.accounts import find_repository
from regnotify.config import Settings
from regnotify.db import Database
from regnotify.events import get_event_kind
from regnotify.ingest import record_event, repository_ref
from tests.integration.web.conftest import PageClient

DIGEST = "sha256:b750fe79269d2ec9a3c593ef05b4332b1d1a02a62b4accb2c21d589ff2f5f2dc"


async def test_list_shows_only_readable_repositories_and_searches(pages: PageClient) -> None:
    await pages.sign_in("admin")
    page = await pages.get("/repositories")
    assert 'href="/repository/acme/app"' in page.text
    assert "acme/other" not in page.text and "acme/tools" not in page.text
    assert "/repository/acme/app" not in (await pages.get("/repositories?q=zzz")).text
    assert 'href="/repository/acme/app"' in (await pages.get("/repositories?q=ME/AP")).text


async def test_list_for_someone_without_access_is_empty(pages: PageClient) -> None:
    await pages.sign_in("noaccess")
    page = await pages.get("/repositories")
    assert "cannot read any repository" in page.text and "/repository/acme/" not in page.text


async def test_repository_page_shows_pull_name_and_recent_events(
    pages: PageClient, database: Database
) -> None:
    await pages.sign_in("reader")
    async with database.write() as session:
        repo = await find_repository(session, "acme/app")
        assert repo is not None
        kind = get_event_kind("repo_push")
        ref = repository_ref(repo, Settings(registry_host="registry.test:5000"))
        for tag in ("v1.0", "latest"):
            payload = kind.build_payload(ref, {"updated_tags": {tag: DIGEST}})
            await record_event(session, repo, kind, payload, source="test")
    page = await pages.get("/repository/acme/app")
    assert page.status_code == 200
    assert "registry.test:5000/acme/app" in page.text and "Repository acme/app updated" in page.text
    assert 'href="/repository/acme/app?tag=v1.0"' in page.text
    only_v1 = await pages.get("/repository/acme/app?tag=v1.0")
    assert only_v1.text.count("Repository acme/app updated") == 1


async def test_settings_tab_only_for_admins(pages: PageClient, second_pages: PageClient) -> None:
    await pages.sign_in("admin")
    assert 'href="/repository/acme/app?tab=settings"' in (await pages.get("/repository/acme/app")).text
    assert (await pages.get("/repository/acme/app?tab=settings")).status_code == 200

    await second_pages.sign_in("reader")
    overview = await second_pages.get("/repository/acme/app")
    assert overview.status_code == 200 and "tab=settings" not in overview.text
    refused = await second_pages.get("/repository/acme/app?tab=settings")
    assert refused.status_code == 403 and "Not allowed" in refused.text and "admin permission" in refused.text


@pytest.mark.parametrize(
    "who, path, status",
    [
        ("other_admin", "/repository/acme/app?tab=settings", 403),
        ("other_admin", "/repository/acme/app", 403),
        ("noaccess", "/repository/acme/nothing-here", 403),  # missing or forbidden look the same
        ("reader", "/repository/acme/app/notification/new", 403),
        ("admin", "/repository/acme/app?tab=nope", 404),
        ("admin", "/repository/not-a-name", 400),
    ],
)
async def test_page_permissions_follow_the_api(pages: PageClient, who: str, path: str, status: int) -> None:
    await pages.sign_in(who)
    response = await pages.get(path)
    assert response.status_code == status
    assert "text/html" in response.headers["content-type"] and "<h1>" in response.text
