"""Signing in and out: cookies, revocation, CSRF, the throttle, and where sign-in sends you."""

from __future__ import annotations

from tests.integration.web.conftest import PageClient


async def test_sign_in_sets_a_safe_session_cookie(pages: PageClient) -> None:
    response = await pages.sign_in("admin")
    assert response.status_code == 303 and response.headers["location"] == "/repositories"
    cookie = next(
        v for k, v in response.headers.multi_items() if k == "set-cookie" and "regnotify_session" in v
    )
    lowered = cookie.lower()
    assert "httponly" in lowered and "samesite=lax" in lowered and "secure" in lowered and "path=/" in lowered
    page = await pages.get("/repositories")
    assert page.status_code == 200 and "acme/app" in page.text


async def test_wrong_passwords_and_unknown_users_look_the_same(pages: PageClient) -> None:
    wrong = await pages.sign_in("admin", "not the password")
    unknown = await pages.sign_in("nobody", "not the password")
    for response in (wrong, unknown):
        assert response.status_code == 401 and "Wrong username or password." in response.text
        assert "regnotify_session" not in response.headers.get("set-cookie", "")
    assert (await pages.get("/repositories")).status_code == 303  # still nobody


async def test_sign_out_revokes_the_session(pages: PageClient, second_pages: PageClient) -> None:
    await pages.sign_in("admin")
    stolen = pages.http.cookies.get("regnotify_session")
    await pages.get("/repositories")
    signed_out = await pages.post("/signout")
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/signin"
    second_pages.http.cookies.set("regnotify_session", stolen, domain="regnotify.test")
    again = await second_pages.get("/repositories")
    assert again.status_code == 303 and again.headers["location"].startswith("/signin")


async def test_pages_send_strangers_to_sign_in_and_back(pages: PageClient) -> None:
    response = await pages.get("/repository/acme/app?tab=settings")
    assert response.status_code == 303
    assert response.headers["location"] == "/signin?next=%2Frepository%2Facme%2Fapp%3Ftab%3Dsettings"
    await pages.get(response.headers["location"])
    signed_in = await pages.post(
        "/signin",
        {
            "username": "admin",
            "password": "correct horse battery",
            "next": "/repository/acme/app?tab=settings",
        },
    )
    assert signed_in.headers["location"] == "/repository/acme/app?tab=settings"


async def test_sign_in_never_redirects_off_site(pages: PageClient) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        await pages.get("/signin")
        response = await pages.post(
            "/signin", {"username": "admin", "password": "correct horse battery", "next": target}
        )
        assert response.headers["location"] == "/repositories", target
        await pages.get("/repositories")
        await pages.post("/signout")


async def test_sign_in_form_needs_its_csrf_pair(pages: PageClient) -> None:
    response = await pages.http.post(
        "/signin", data={"username": "admin", "password": "correct horse battery"}
    )
    assert response.status_code == 403 and "expired" in response.text


async def test_wrong_passwords_are_throttled_per_user_and_client(pages: PageClient) -> None:
    for _ in range(5):
        assert (await pages.sign_in("reader", "guess")).status_code == 401
    blocked = await pages.sign_in("reader")  # even the right password waits now
    assert blocked.status_code == 429 and "Too many failed attempts" in blocked.text
    assert (await pages.sign_in("bob")).status_code == 303  # other users are not affected


async def test_posts_need_the_session_csrf_token_and_this_site(pages: PageClient) -> None:
    await pages.sign_in("admin")
    await pages.get("/repositories")
    forged = await pages.http.post("/signout", data={"csrf_token": "made-up"})
    assert forged.status_code == 403 and "text/html" in forged.headers["content-type"]
    foreign = await pages.http.post(
        "/signout", data={"csrf_token": pages.csrf}, headers={"Origin": "https://evil.example"}
    )
    assert foreign.status_code == 403
    assert (await pages.get("/repositories")).status_code == 200  # still signed in
