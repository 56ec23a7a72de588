"""``GET /metrics``: Prometheus' text format, behind a bearer token when the operator sets one."""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.api.context import Services, services
from regnotify.api.errors import ApiError
from regnotify.db.models import Delivery, Notification
from regnotify.db.types import utcnow
from regnotify.runtime.metrics import (
    CONTENT_TYPE,
    disabled_notifications,
    exposition,
    oldest_pending_age,
    pending_deliveries,
)

router = APIRouter(include_in_schema=False)


async def read_queue_gauges(session: AsyncSession, now: datetime | None = None) -> None:
    """Set the database gauges from one read."""
    now = now or utcnow()
    pending, oldest = (
        await session.execute(
            select(func.count(Delivery.id), func.min(Delivery.created_at)).where(Delivery.state == "pending")
        )
    ).one()
    disabled = await session.scalar(
        select(func.count(Notification.id)).where(Notification.enabled.is_(False))
    )
    pending_deliveries.set(pending or 0)
    oldest_pending_age.set(max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0)
    disabled_notifications.set(disabled or 0)


def _check_token(request: Request, svc: Services) -> None:
    expected = svc.settings.metrics_token
    if not expected:
        return
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise ApiError(
            401,
            "send the metrics token: Authorization: Bearer <REGNOTIFY_METRICS_TOKEN>",
            headers={"WWW-Authenticate": "Bearer"},
        )


@router.get("/metrics")
async def metrics(request: Request, svc: Annotated[Services, Depends(services)]) -> Response:
    _check_token(request, svc)
    async with svc.db.read() as session:
        await read_queue_gauges(session)
    return Response(exposition(), media_type=CONTENT_TYPE)
