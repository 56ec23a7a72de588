"""Signing in with a username and password, and signing out.

The sign-in form has no session yet, so its CSRF token is a double-submit pair: a random value in a
short-lived SameSite=Strict cookie and the same value in the form. Wrong passwords are throttled
per username and client (``SignInThrottle``); the password check costs the same whether or not
the user exists (argon2 against a dummy hash).
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from regnotify.accounts import find_user, verify_password
from regnotify.web.rendering import render, services_of
from regnotify.web.sessions import COOKIE_NAME, SESSION_LIFETIME, end_session, start_session
from regnotify.web.signin_throttle import SignInThrottle
from regnotify.web.viewer import CheckedPost, optional_viewer

router = APIRouter(include_in_schema=False)
SIGNIN_CSRF_COOKIE = "regnotify_signin_csrf"
MAX_FIELD = 1000


def throttle_of(request: Request) -> SignInThrottle:
    state = request.app.state
    if not hasattr(state, "signin_throttle"):
        state.signin_throttle = SignInThrottle()
    return state.signin_throttle  # type: ignore[no-any-return]


def secure_cookies(request: Request) -> bool:
    """Cookies are Secure when the app is reached over https (directly or by its public URL)."""
    return request.url.scheme == "https" or services_of(request).settings.base_url.startswith("https://")


def safe_next(value: str | None) -> str:
    """Only paths on this site: never another host (``//evil``, ``https://evil``, ``/\\evil``)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/repositories"
    return value


async def _form(
    request: Request, *, status: int = 200, username: str = "", error: str | None = None, next_url: str = ""
) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    response = await render(
        request,
        "signin.html",
        None,
        {"signin_csrf": token, "username": username, "error": error, "next_url": safe_next(next_url)},
        status=status,
    )
    response.set_cookie(
        SIGNIN_CSRF_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
        path="/signin",
    )
    return response


@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse("/repositories", status_code=303)


@router.get("/signin", response_class=HTMLResponse)
async def signin_form(request: Request, next: str = "") -> Response:
    if await optional_viewer(request, services_of(request)) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return await _form(request, next_url=next)


@router.post("/signin", response_class=HTMLResponse)
async def signin(
    request: Request,
    username: Annotated[str, Form(max_length=MAX_FIELD)] = "",
    password: Annotated[str, Form(max_length=MAX_FIELD)] = "",
    csrf_token: Annotated[str, Form(max_length=MAX_FIELD)] = "",
    next: Annotated[str, Form(max_length=MAX_FIELD)] = "",
) -> Response:
    expected = request.cookies.get(SIGNIN_CSRF_COOKIE, "")
    if not expected or not secrets.compare_digest(csrf_token.encode(), expected.encode()):
        return await _form(
            request,
            status=403,
            username=username,
            next_url=next,
            error="The sign-in form expired. Please try again.",
        )
    username = username.strip()
    client = request.client.host if request.client else "unknown"
    throttle = throttle_of(request)
    wait = throttle.wait_seconds(username, client)
    if wait:
        minutes = max(1, round(wait / 60))
        return await _form(
            request,
            status=429,
            username=username,
            next_url=next,
            error=f"Too many failed attempts for {username}. Try again in about {minutes} minute(s).",
        )
    svc = services_of(request)
    async with svc.db.read() as session:
        user = await find_user(session, username) if username else None
    password_hash = user.password_hash if user is not None else None
    if not await run_in_threadpool(verify_password, password_hash, password) or user is None:
        throttle.failed(username, client)
        return await _form(
            request, status=401, username=username, next_url=next, error="Wrong username or password."
        )
    throttle.succeeded(username, client)
    async with svc.db.write() as session:
        started = await start_session(session, user)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE_NAME,
        started.token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
        path="/",
    )
    response.delete_cookie(SIGNIN_CSRF_COOKIE, path="/signin")
    return response


@router.post("/signout")
async def signout(request: Request, viewer: CheckedPost) -> RedirectResponse:
    async with services_of(request).db.write() as session:
        await end_session(session, request.cookies.get(COOKIE_NAME))
    response = RedirectResponse("/signin", status_code=303)
    secure = secure_cookies(request)
    response.delete_cookie(COOKIE_NAME, path="/", secure=secure, httponly=True, samesite="lax")
    return response
