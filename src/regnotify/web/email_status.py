"""Whether an address is confirmed for a repository, as JSON: the create form polls it while it waits."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from regnotify.accounts import Role
from regnotify.methods import MethodConfigError
from regnotify.methods.email import normalize_email
from regnotify.notifications.email_addresses import find_authorization
from regnotify.web.access import repository_page
from regnotify.web.viewer import ServicesDep, SignedIn

router = APIRouter(include_in_schema=False)


@router.get("/repository/{repository:path}/authorizedemail")
async def email_status(repository: str, viewer: SignedIn, svc: ServicesDep, email: str = "") -> JSONResponse:
    try:
        address = normalize_email(email)
    except MethodConfigError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    async with svc.db.read() as session:
        repo, _ = await repository_page(session, viewer, repository, Role.ADMIN)
        record = await find_authorization(session, repo, address)
    return JSONResponse(
        {"email": address, "asked": record is not None, "confirmed": bool(record and record.confirmed)},
        headers={"Cache-Control": "no-store"},
    )
