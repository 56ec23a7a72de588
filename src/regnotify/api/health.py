"""``GET /readyz``: ready when the database answers and its schema is current; else a 503 saying which."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from regnotify.api.context import Services, services
from regnotify.api.errors import error_response
from regnotify.db import migration_is_current

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
ServicesDep = Annotated[Services, Depends(services)]


@router.get("/readyz", response_model=None)
async def readyz(request: Request, svc: ServicesDep) -> dict[str, str] | JSONResponse:
    """``{"status": "ready"}``, or 503 in Quay's error shape when traffic should go elsewhere."""
    try:
        async with svc.db.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        current = await migration_is_current(svc.db.engine)
    except (SQLAlchemyError, OSError) as exc:
        log.warning("not ready: the database is unreachable: %s", exc)
        return error_response(request, 503, "not ready: the database is unreachable")
    if not current:
        return error_response(
            request, 503, "not ready: the database schema is not current; run `regnotify migrate`"
        )
    return {"status": "ready"}
