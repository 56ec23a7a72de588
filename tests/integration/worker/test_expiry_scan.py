"""The image-expiry scan: one event per (notification, tag, expiry), again only when the expiry changes."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from regnotify.db.models import Delivery, Event, Notification
from regnotify.db.types import utcnow
from regnotify.ingest.expirations import set_expiration
from regnotify.jobs.expiry import scan_expiries

from .conftest import Scene


async def expiry_notification(scene: Scene, days: int) -> Notification:
    notification = await scene.notification(
        "quay_notification", {"target": {"kind": "user", "name": "reader"}}, event="repo_image_expiry"
    )
    async with scene.db.write() as s:
        stored = await s.get(Notification, notification.id)
        assert stored is not None
        stored.event_config = {"days": days}
    return notification


async def expire(scene: Scene, tag: str, in_days: float | None) -> None:
    async with scene.db.write() as s:
        when = None if in_days is None else utcnow() + timedelta(days=in_days)
        await set_expiration(s, scene.repository, tag, when)


async def deliveries_by_notification(scene: Scene) -> dict[int, list[dict[str, object]]]:
    async with scene.db.read() as s:
        rows = (
            await s.execute(select(Delivery.notification_id, Event.payload).join(Event).order_by(Delivery.id))
        ).all()
    grouped: dict[int, list[dict[str, object]]] = {}
    for notification_id, payload in rows:
        grouped.setdefault(notification_id, []).append(payload)
    return grouped


async def test_expiring_tags_notify_once_per_expiry(scene: Scene) -> None:
    week = await expiry_notification(scene, 7)
    day = await expiry_notification(scene, 1)
    month = await expiry_notification(scene, 40)
    await expire(scene, "soon", 2)
    await expire(scene, "later", 30)
    await expire(scene, "gone", -1)

    assert await scan_expiries(scene.db, scene.settings) == 2
    sent = await deliveries_by_notification(scene)
    assert day.id not in sent
    assert [(p["tags"], p["expiring_in"]) for p in sent[week.id]] == [(["soon"], "7 days")]
    assert [(p["tags"], p["expiring_in"]) for p in sent[month.id]] == [(["later", "soon"], "40 days")]
    assert sent[week.id][0]["repository"] == "acme/app"

    assert await scan_expiries(scene.db, scene.settings) == 0  # nothing new

    await expire(scene, "soon", 3)  # the expiry moved: tell again
    assert await scan_expiries(scene.db, scene.settings) == 2
    await expire(scene, "soon", None)  # cleared: nothing more
    assert await scan_expiries(scene.db, scene.settings) == 0
    assert len((await deliveries_by_notification(scene))[week.id]) == 2


async def test_disabled_notifications_are_not_scanned(scene: Scene) -> None:
    notification = await expiry_notification(scene, 7)
    async with scene.db.write() as s:
        stored = await s.get(Notification, notification.id)
        assert stored is not None
        stored.enabled = False
    await expire(scene, "soon", 1)
    assert await scan_expiries(scene.db, scene.settings) == 0
