"""``GET /metrics``: Prometheus' text format, behind a bearer token when the operator sets one."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from regnotify.api.context import Services, services
from regnotify.api.errors import ApiError
from regnotify.metrics import CONTENT_TYPE, exposition, read_queue_gauges

router = APIRouter(include_in_schema=False)


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
