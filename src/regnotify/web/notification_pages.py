"""Settings → Notifications actions: the create form (with e-mail confirmation inline), Test, Enable
and Delete. Every route checks repository admin, as the API does."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.accounts import Role
from regnotify.db.models import Repository
from regnotify.events import EVENT_KINDS, EventError, get_event_kind
from regnotify.methods import METHODS, MethodConfigError
from regnotify.methods.email import normalize_email
from regnotify.notifications.email_addresses import (
    VerificationRateLimited,
    find_authorization,
    request_verification,
)
from regnotify.notifications.registry import (
    NotificationError,
    NotificationLimitReached,
    check_room,
    delete_notification,
    reset_failures,
    store_notification,
    validate_notification,
)
from regnotify.notifications.testing import TestRateLimited, queue_test_delivery
from regnotify.notifications.verification import MailError, send_verification
from regnotify.web.access import notification_in, repository_page
from regnotify.web.errors import PageError
from regnotify.web.notice_text import repository_href
from regnotify.web.notification_form import (
    FILTER_EVENTS,
    LEVEL_CHOICES,
    TARGET_KINDS,
    WEBHOOK_FORMATS,
    NotificationForm,
)
from regnotify.web.rendering import render
from regnotify.web.viewer import CheckedPost, ServicesDep, SignedIn, Viewer

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
BASE = "/repository/{repository:path}/notification"


def settings_href(repository: str, **query: str) -> str:
    return repository_href(repository, tab="settings", **query)


async def _form_page(
    request: Request,
    viewer: Viewer,
    repository: str,
    form: NotificationForm,
    *,
    status: int = 200,
    email_status: str | None = None,
) -> HTMLResponse:
    context: dict[str, Any] = {
        "repository": repository,
        "form": form,
        "events": list(EVENT_KINDS.values()),
        "methods": list(METHODS.values()),
        "filter_events": FILTER_EVENTS,
        "level_choices": LEVEL_CHOICES,
        "target_kinds": TARGET_KINDS,
        "webhook_formats": WEBHOOK_FORMATS,
        "email_status": email_status,
    }
    return await render(request, "notification_new.html", viewer, context, status=status)


@router.get(BASE + "/new", response_class=HTMLResponse)
async def new_form(request: Request, repository: str, viewer: SignedIn, svc: ServicesDep) -> HTMLResponse:
    async with svc.db.read() as session:
        repo, _ = await repository_page(session, viewer, repository, Role.ADMIN)
    form = NotificationForm({"event": "repo_push", "method": "webhook", "target_kind": "user"})
    return await _form_page(request, viewer, repo.full_name, form)


async def _verify_email(
    request: Request, viewer: Viewer, svc: ServicesDep, repository: str, form: NotificationForm
) -> HTMLResponse:
    """The form's "Send confirmation mail" button: record the request (rate limit) in a write, then mail
    the link after it committed, then show the form waiting for it."""
    try:
        address = normalize_email(form.get("email"))
    except MethodConfigError as exc:
        form.errors["email"] = str(exc)
        return await _form_page(request, viewer, repository, form, status=400)
    form.values["email"] = address
    try:
        async with svc.db.write() as session:
            repo, _ = await repository_page(session, viewer, repository, Role.ADMIN)
            request_ = await request_verification(session, repo, address, svc.settings)
    except VerificationRateLimited as exc:
        form.errors["email"] = (
            f"A confirmation mail was sent to {address} recently; "
            f"try again in {max(1, int(exc.retry_after + 0.999))} seconds."
        )
        return await _form_page(request, viewer, repository, form, status=429, email_status="waiting")
    try:  # committed: the mail goes out with no transaction open
        await send_verification(svc.db, repo, request_, svc.settings, svc.mail)
    except MailError as exc:
        log.warning("verification mail to %s failed: %s", address, exc)
        form.errors["email"] = f"Could not send the confirmation mail: {exc}. Try again later."
        return await _form_page(request, viewer, repository, form, status=503)
    status = "confirmed" if request_.code is None else "waiting"
    return await _form_page(request, viewer, repository, form, email_status=status)


@router.post(BASE + "/new", response_class=HTMLResponse)
async def create(request: Request, repository: str, viewer: CheckedPost, svc: ServicesDep) -> Response:
    """Validate in a read phase (the SSRF check resolves the host: no write waits on it), then store
    in a short write that checks the viewer's role and the repository's cap again."""
    submitted = await request.form()
    form = NotificationForm.from_form(submitted)
    if submitted.get("action") == "verify":
        return await _verify_email(request, viewer, svc, repository, form)
    try:
        get_event_kind(form.event).validate_config(form.event_config())
    except EventError as exc:
        form.event_error(str(exc))
    async with svc.db.read() as session:
        repo, _ = await repository_page(session, viewer, repository, Role.ADMIN)
        email_status = await _email_status(session, repo, form)
        try:
            await check_room(session, repo, svc.settings)  # before any look-up, when it is full
        except NotificationLimitReached as exc:
            form.limit_error(str(exc))
    if form.errors:
        return await _form_page(request, viewer, repo.full_name, form, status=400, email_status=email_status)
    try:
        draft = await validate_notification(
            svc.db.read,
            repo,
            event=form.event,
            method=form.method,
            config=form.config(),
            event_config=form.event_config(),
            title=form.get("title"),
            settings=svc.settings,
            resolver=svc.resolver,
        )
    except NotificationError as exc:
        form.method_error(str(exc))
        return await _form_page(request, viewer, repo.full_name, form, status=400, email_status=email_status)
    try:
        async with svc.db.write() as session:
            repo, _ = await repository_page(session, viewer, repository, Role.ADMIN)
            notification = await store_notification(
                session,
                repo,
                draft,
                settings=svc.settings,
                box=svc.box,
                created_by=viewer.user,
                performer=viewer.label,
            )
    except NotificationLimitReached as exc:  # another create took the last place meanwhile
        form.limit_error(str(exc))
        return await _form_page(request, viewer, repo.full_name, form, status=400, email_status=email_status)
    secret = draft.config.get("secret")
    created = {"uuid": notification.uuid, "title": notification.title}
    if isinstance(secret, str):  # shown this once, on this page, never in a URL or a later view
        return await render(
            request,
            "notification_created.html",
            viewer,
            {"repository": repo.full_name, "notification": created, "secret": secret},
        )
    return RedirectResponse(settings_href(repo.full_name, created=notification.uuid), status_code=303)


async def _email_status(session: AsyncSession, repo: Repository, form: NotificationForm) -> str | None:
    """For an e-mail target: "confirmed", "waiting" (asked, not confirmed yet) or None (never asked)."""
    if form.method != "email" or not form.get("email").strip():
        return None
    try:
        record = await find_authorization(session, repo, normalize_email(form.get("email")))
    except MethodConfigError:
        return None
    return "confirmed" if record and record.confirmed else ("waiting" if record else None)


@router.post(BASE + "/{uuid}/test")
async def test(repository: str, uuid: str, viewer: CheckedPost, svc: ServicesDep) -> RedirectResponse:
    """Queue the event's sample data for this notification alone; then show its history."""
    async with svc.db.write() as session:
        repo, _ = await repository_page(session, viewer, repository, Role.ADMIN)
        notification = await notification_in(session, repo, uuid)
        try:
            delivery = await queue_test_delivery(session, repo, notification, svc.settings, viewer.label)
        except TestRateLimited as limited:
            raise PageError(429, f"Not sent: {limited}.") from None
    history = f"{repository_href(repo.full_name)}/notification/{uuid}/history"
    return RedirectResponse(f"{history}?tested={delivery.uuid}", status_code=303)


@router.post(BASE + "/{uuid}/enable")
async def enable(repository: str, uuid: str, viewer: CheckedPost, svc: ServicesDep) -> RedirectResponse:
    """Reset the failure count and enable the notification (Quay's reset); held deliveries go out."""
    async with svc.db.write() as session:
        repo, _ = await repository_page(session, viewer, repository, Role.ADMIN)
        await reset_failures(session, await notification_in(session, repo, uuid), viewer.label)
    return RedirectResponse(settings_href(repo.full_name, enabled=uuid), status_code=303)


@router.get(BASE + "/{uuid}/delete", response_class=HTMLResponse)
async def confirm_delete(
    request: Request, repository: str, uuid: str, viewer: SignedIn, svc: ServicesDep
) -> HTMLResponse:
    async with svc.db.read() as session:
        repo, _ = await repository_page(session, viewer, repository, Role.ADMIN)
        notification = await notification_in(session, repo, uuid)
    context = {"repository": repo.full_name, "notification": notification}
    return await render(request, "notification_delete.html", viewer, context)


@router.post(BASE + "/{uuid}/delete")
async def delete(repository: str, uuid: str, viewer: CheckedPost, svc: ServicesDep) -> RedirectResponse:
    async with svc.db.write() as session:
        repo, _ = await repository_page(session, viewer, repository, Role.ADMIN)
        await delete_notification(session, await notification_in(session, repo, uuid), viewer.label)
    return RedirectResponse(settings_href(repo.full_name, deleted="1"), status_code=303)
