"""Who is looking at a page: the signed-in user from the session cookie, and the CSRF check on posts."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request

from regnotify.api.context import Services, services
from regnotify.db.models import User
from regnotify.web.errors import PageError, SignInRequired
from regnotify.web.sessions import COOKIE_NAME, find_session

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True)
class Viewer:
    """A signed-in user, with the CSRF token every form of their session carries."""

    user: User
    csrf_token: str

    @property
    def label(self) -> str:
        """Who acts, as the audit log and the API's principals name users."""
        return f"user:{self.user.username}"


async def optional_viewer(request: Request, svc: Annotated[Services, Depends(services)]) -> Viewer | None:
    token = request.cookies.get(COOKIE_NAME)
    if not token:
        return None
    async with svc.db.read() as session:
        found = await find_session(session, token)
    if found is None:
        return None
    web_session, user = found
    return Viewer(user, web_session.csrf_token)


def _here(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


async def signed_in(request: Request, viewer: Annotated[Viewer | None, Depends(optional_viewer)]) -> Viewer:
    """The viewer; anyone else is sent to the sign-in page, and back here afterwards."""
    if viewer is None:
        raise SignInRequired(f"/signin?next={quote(_here(request), safe='')}")
    return viewer


def same_origin(request: Request) -> bool:
    """False when the browser says the request came from another site (Origin or Referer host differs)."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source:
        return True  # neither header sent (privacy settings, scripts): the CSRF token alone decides
    if source == "null":
        return False
    return urlsplit(source).netloc == request.headers.get("host", "")


async def csrf_checked(request: Request, viewer: Annotated[Viewer, Depends(signed_in)]) -> Viewer:
    """For every state-changing request: the session's CSRF token must come back, from this site."""
    form = await request.form()
    sent = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    if not isinstance(sent, str) or not secrets.compare_digest(sent.encode(), viewer.csrf_token.encode()):
        raise PageError(
            403, "This form has expired or came from another site. Reload the page and try again."
        )
    if not same_origin(request):
        raise PageError(403, "This request came from another site, so it was refused.")
    return viewer


SignedIn = Annotated[Viewer, Depends(signed_in)]
CheckedPost = Annotated[Viewer, Depends(csrf_checked)]
ServicesDep = Annotated[Services, Depends(services)]
