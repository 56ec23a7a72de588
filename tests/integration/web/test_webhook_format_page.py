"""The create page's webhook body format: offered, stored, and explained beside the field when refused."""

from __future__ import annotations

import re

from sqlalchemy import select

from regnotify.db import Database
from regnotify.db.models import Notification
from tests.integration.web.conftest import PageClient

NEW = "/repository/acme/app/notification/new"
WEBHOOK = {"event": "repo_push", "method": "webhook", "webhook_url": "https://receiver.example.com/hooks/x"}


async def test_the_form_offers_the_three_formats(pages: PageClient) -> None:
    await pages.sign_in("admin")
    page = await pages.get(NEW)
    select_html = re.search(r'<select id="webhook_format".*?</select>', page.text, re.S)
    assert select_html, page.text
    assert re.findall(r'<option value="([^"]+)"', select_html.group(0)) == [
        "quay",
        "cloudevents",
        "cloudevents-binary",
    ]


async def test_a_cloudevents_webhook_is_created_from_the_form(pages: PageClient, database: Database) -> None:
    await pages.sign_in("admin")
    await pages.get(NEW)
    created = await pages.post(NEW, {**WEBHOOK, "webhook_format": "cloudevents-binary"})
    assert created.status_code in (200, 303), created.text
    async with database.read() as session:
        stored = await session.scalar(select(Notification))
    assert stored is not None
    assert stored.config["format"] == "cloudevents-binary"


async def test_a_forged_format_is_refused_beside_the_field(pages: PageClient, database: Database) -> None:
    await pages.sign_in("admin")
    await pages.get(NEW)
    refused = await pages.post(NEW, {**WEBHOOK, "webhook_format": "xml"})
    assert refused.status_code == 400
    error = re.search(r'<p class="field-error" id="webhook_format-error">([^<]*)</p>', refused.text)
    assert error, refused.text
    assert "use one of: quay, cloudevents, cloudevents-binary" in error.group(1)
    async with database.read() as session:
        assert await session.scalar(select(Notification)) is None
