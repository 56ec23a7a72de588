"""Quay's e-mail authorization routes: check an address for a repository, or send it a confirmation link."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from regnotify.accounts import Role
from regnotify.api.auth import CurrentPrincipal, mark_token_used, repository_for
from regnotify.api.context import Services, services
from regnotify.api.errors import ApiError
from regnotify.methods import MethodConfigError
from regnotify.methods.email import normalize_email
from regnotify.notifications.email_addresses import (
    VerificationRateLimited,
    authorization_view,
    find_authorization,
    request_verification,
)
from regnotify.notifications.verification import MailError, send_verification

log = logging.getLogger(__name__)
router = APIRouter(tags=["e-mail authorization"])
ServicesDep = Annotated[Services, Depends(services)]
PATH = "/repository/{repository:path}/authorizedemail/{email}"


def _address(email: str) -> str:
    try:
        return normalize_email(email)
    except MethodConfigError as exc:
        raise ApiError(400, str(exc)) from None


@router.get(PATH)
async def check(repository: str, email: str, principal: CurrentPrincipal, svc: ServicesDep) -> dict[str, Any]:
    """Whether ``email`` may receive this repository's notifications (404 if it was never asked)."""
    address = _address(email)
    async with svc.db.read() as session:
        repo = await repository_for(session, principal, repository, Role.ADMIN)
        record = await find_authorization(session, repo, address)
        if record is None:
            raise ApiError(404, f"{address} has not been asked to confirm for {repo.full_name}")
        return authorization_view(record, repo, address)


@router.post(PATH)
async def authorize(
    repository: str, email: str, principal: CurrentPrincipal, svc: ServicesDep
) -> dict[str, Any]:
    """Send ``email`` a confirmation link (unless already confirmed); then poll the GET until confirmed.

    The request is recorded (and rate-limited) in a write that commits first; the mail goes out
    after, with no transaction open. 503 when it cannot be handed over (the request is withdrawn)."""
    address = _address(email)
    async with svc.db.write() as session:
        repo = await repository_for(session, principal, repository, Role.ADMIN)
        try:
            request = await request_verification(session, repo, address, svc.settings)
        except VerificationRateLimited as exc:
            seconds = max(1, int(exc.retry_after + 0.999))
            raise ApiError(
                429,
                f"a confirmation mail was sent to {address} for this repository recently; "
                f"try again in {seconds} seconds",
                headers={"Retry-After": str(seconds)},
            ) from None
        await mark_token_used(session, principal)
    try:
        await send_verification(svc.db, repo, request, svc.settings, svc.mail)
    except MailError as exc:
        log.warning("verification mail to %s failed: %s", address, exc)
        raise ApiError(503, f"could not send the confirmation mail: {exc}; try again later") from None
    return authorization_view(request.record, repo, address)
