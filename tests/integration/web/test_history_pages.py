"""History and a delivery's page: deliveries newest first, the 24-hour chart, attempts, Redeliver."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select, update

from regnotify.db import Database
from regnotify.db.models import Delivery, Notification
from regnotify.db.types import utcnow
from regnotify.notifications.history import hourly_outcomes
from tests.integration.api.test_deliveries_and_inbox_api import answer_500_once
from tests.integration.web.conftest import PageClient

NEW = "/repository/acme/app/notification/new"


async def webhook_with_test(pages: PageClient, title: str) -> tuple[str, str]:
    """A webhook notification made on the form, and the id of its queued test delivery."""
    await pages.get(NEW)
    fields = {"event": "repo_push", "method": "webhook", "webhook_url": "https://receiver.example.com/h"}
    await pages.post(NEW, {**fields, "title": title})
    table = await pages.get("/repository/acme/app?tab=settings")
    (uuid,) = re.findall(r'data-notification="([^"]+)"', table.text)
    tested = await pages.post(f"/repository/acme/app/notification/{uuid}/test")
    return uuid, tested.headers["location"].split("tested=", 1)[1]


async def failed_test_delivery(pages: PageClient, database: Database) -> tuple[str, str]:
    """A webhook notification whose test delivery was tried once and answered 500."""
    uuid, delivery = await webhook_with_test(pages, "Tell CI")
    await answer_500_once(
        database, excerpt="<b>boom</b>", request={"method": "POST", "url": "https://receiver.example.com/…"}
    )
    return uuid, delivery


async def test_history_lists_deliveries_with_the_chart(pages: PageClient, database: Database) -> None:
    await pages.sign_in("admin")
    uuid, delivery = await failed_test_delivery(pages, database)
    history = await pages.get(f"/repository/acme/app/notification/{uuid}/history")
    assert history.status_code == 200
    assert (
        f'data-delivery="{delivery}"' in history.text and "failed" in history.text and ">500<" in history.text
    )
    assert "0 succeeded</span>" in history.text and "1 failed</span>" in history.text
    assert history.text.count('class="chart-fail"') == 1 and 'role="img"' in history.text
    assert "data-refresh-while-pending" not in history.text  # nothing pending: no reloading
    only_pending = await pages.get(f"/repository/acme/app/notification/{uuid}/history?state=pending")
    assert f'data-delivery="{delivery}"' not in only_pending.text
    bad = await pages.get(f"/repository/acme/app/notification/{uuid}/history?state=lost")
    assert bad.status_code == 400 and "Unknown state" in bad.text


async def test_delivery_page_and_redeliver(pages: PageClient, database: Database) -> None:
    await pages.sign_in("admin")
    uuid, delivery = await failed_test_delivery(pages, database)
    base = f"/repository/acme/app/notification/{uuid}/deliveries/{delivery}"
    page = await pages.get(base)
    assert page.status_code == 200
    assert "&#34;repository&#34;: &#34;acme/app&#34;" in page.text or '"repository": "acme/app"' in page.text
    assert "Attempt 1" in page.text and "HTTP 500" in page.text
    assert "&lt;b&gt;boom&lt;/b&gt;" in page.text  # the receiver's answer, escaped
    assert "https://receiver.example.com/…" in page.text  # the request sent, masked
    again = await pages.post(f"{base}/redeliver")
    assert again.status_code == 303
    assert "data-refresh-while-pending" in (await pages.get(again.headers["location"])).text
    twice = await pages.post(f"{base}/redeliver")
    assert twice.status_code == 409 and "already queued" in twice.text
    assert (await pages.get(f"/repository/acme/app/notification/{uuid}/deliveries/nope")).status_code == 404


async def test_hourly_outcomes_counts_the_last_day(pages: PageClient, database: Database) -> None:
    await pages.sign_in("admin")
    uuid, _ = await failed_test_delivery(pages, database)
    async with database.read() as session:
        notification = await session.scalar(select(Notification).where(Notification.uuid == uuid))
        assert notification is not None
        now_hours = await hourly_outcomes(session, notification)
        later = await hourly_outcomes(session, notification, now=utcnow() + timedelta(hours=30))
    assert len(now_hours) == 24 and (now_hours[-1].succeeded, now_hours[-1].failed) == (0, 1)
    assert sum(h.failed for h in now_hours[:-1]) == 0
    assert sum(h.failed + h.succeeded for h in later) == 0  # older than a day: out of the chart


async def test_history_shows_deliveries_held_for_a_quarantined_destination(
    pages: PageClient, database: Database
) -> None:
    await pages.sign_in("admin")
    uuid, delivery = await webhook_with_test(pages, "Held")
    history_url = f"/repository/acme/app/notification/{uuid}/history"
    assert "data-held" not in (await pages.get(history_url)).text

    async with database.write() as session:  # what a worker's destination gate writes (queue.hold)
        await session.execute(
            update(Delivery)
            .where(Delivery.uuid == delivery)
            .values(lease_owner="held:quarantined", lease_expires_at=utcnow() + timedelta(seconds=40))
        )
    history = await pages.get(history_url)
    assert 'data-held="quarantined"' in history.text
    assert (
        "<code>receiver.example.com:443</code>" in history.text and "1 delivery is held back" in history.text
    )
    assert "held: destination quarantined</span>" in history.text

    async with database.write() as session:  # a hold that ran out is no longer shown
        await session.execute(
            update(Delivery).where(Delivery.uuid == delivery).values(lease_expires_at=utcnow())
        )
    assert "data-held" not in (await pages.get(history_url)).text
