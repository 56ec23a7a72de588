"""What every page promises: a strict CSP with no inline script or style, and static files served here."""

from __future__ import annotations

import re

import pytest

from tests.integration.web.conftest import PageClient

PAGES = (
    "/signin",
    "/repositories",
    "/repository/acme/app",
    "/repository/acme/app?tab=builds",
    "/repository/acme/app?tab=settings",
    "/repository/acme/app/notification/new",
    "/repository/acme/other",  # the 403 page
    "/authrepoemail?code=nope",
)


@pytest.mark.parametrize("path", PAGES)
async def test_pages_keep_to_the_content_security_policy(pages: PageClient, path: str) -> None:
    if path != "/signin":  # signed in, the sign-in page sends you on
        await pages.sign_in("admin")
    response = await pages.get(path)
    policy = response.headers["content-security-policy"]
    assert (
        "script-src 'self'" in policy and "style-src 'self'" in policy and "frame-ancestors 'none'" in policy
    )
    assert "unsafe-inline" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    html = response.text
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script"
    assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=", html), "inline style or handler"
    assert not re.search(r"(src|href)=\"https?://", html), "something fetched from elsewhere"


async def test_static_files_are_served(pages: PageClient) -> None:
    css = await pages.get("/static/regnotify.css")
    js = await pages.get("/static/regnotify.js")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert "setInterval(refresh, BELL_REFRESH_MS)" in js.text and "30000" in js.text


async def test_confirmation_page_passes_no_referrer(pages: PageClient) -> None:
    response = await pages.get("/authrepoemail?code=nope")
    assert response.status_code == 400 and response.headers["referrer-policy"] == "no-referrer"
