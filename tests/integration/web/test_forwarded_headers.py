"""Whose address the sign-in throttle counts: a real ``regnotify serve`` on loopback.

X-Forwarded-For names the client only when the connection comes from a proxy the operator trusts
(``TRUSTED_PROXIES``); by default none is, so the header changes nothing, even from 127.0.0.1.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from regnotify import accounts
from regnotify.cli import server_options
from regnotify.config import Settings
from regnotify.db import Database

from ...serving import wait_until_serving

REGNOTIFY = [sys.executable, "-m", "regnotify.cli"]
PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
LIMIT = 5  # SignInThrottle's max_failures


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(tmp_path: Path, database: Database, **settings: str) -> Iterator[tuple[str, list[str]]]:
    """``regnotify serve --no-worker`` on the test database; yields its URL and, once it stopped,
    the lines it printed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGNOTIFY_")}
    env.update(
        REGNOTIFY_DATA_DIR=str(tmp_path / "data"),
        REGNOTIFY_DATABASE_URL=database.url,
        REGNOTIFY_PORT=str(free_port()),
        **{f"REGNOTIFY_{name.upper()}": value for name, value in settings.items()},
    )
    env.pop("FORWARDED_ALLOW_IPS", None)
    process = subprocess.Popen(
        [*REGNOTIFY, "serve", "--no-worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{env['REGNOTIFY_PORT']}"
    output: list[str] = []
    try:
        wait_until_serving(process, base)
        yield base, output
    finally:
        process.terminate()
        try:
            printed, _ = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            printed, _ = process.communicate()
        output += printed.splitlines()


def sign_in(http: httpx.Client, password: str, forwarded_for: str) -> int:
    """One sign-in as ``reader`` through the form, the request claiming to come from ``forwarded_for``."""
    form = http.get("/signin")
    found = CSRF.search(form.text)
    assert found, form.text
    answer = http.post(
        "/signin",
        data={"csrf_token": found.group(1), "username": "reader", "password": password},
        headers={"X-Forwarded-For": forwarded_for},
    )
    return answer.status_code


@pytest.fixture
async def reader(database: Database) -> None:
    async with database.write() as session:
        await accounts.create_user(session, "reader", password=PASSWORD)


@pytest.mark.usefixtures("reader")
def test_forwarded_for_from_loopback_is_ignored_by_default(tmp_path: Path, database: Database) -> None:
    with serving(tmp_path, database) as (base, output), httpx.Client(base_url=base) as http:
        for n in range(LIMIT):
            assert sign_in(http, "guess", f"203.0.113.{n + 1}") == 401
        # a new address in the header is no new client: the right password waits too
        assert sign_in(http, PASSWORD, "198.51.100.7") == 429
    requests = [line for line in output if "POST /signin" in line]
    assert len(requests) == LIMIT + 1 and all("127.0.0.1:" in line for line in requests), requests
    assert not any("203.0.113." in line or "198.51.100." in line for line in output)


@pytest.mark.usefixtures("reader")
def test_a_trusted_proxy_names_the_client(tmp_path: Path, database: Database) -> None:
    with (
        serving(tmp_path, database, trusted_proxies='["127.0.0.1"]') as (base, output),
        httpx.Client(base_url=base) as http,
    ):
        for _ in range(LIMIT):
            assert sign_in(http, "guess", "203.0.113.7") == 401
        assert sign_in(http, PASSWORD, "203.0.113.7") == 429  # that client is throttled
        assert sign_in(http, PASSWORD, "198.51.100.7") == 303  # another one behind the proxy is not
    requests = [line for line in output if "POST /signin" in line]
    assert sum("203.0.113.7:" in line for line in requests) == LIMIT + 1, requests
    assert sum("198.51.100.7:" in line for line in requests) == 1, requests


def test_trusted_proxies_are_addresses_or_networks() -> None:
    settings = Settings(trusted_proxies=[" 127.0.0.1", "10.1.2.3/8", "::1", "fd00::/64"])
    assert settings.trusted_proxies == ["127.0.0.1", "10.0.0.0/8", "::1", "fd00::/64"]
    options = server_options(settings)
    assert options["proxy_headers"] is True and options["forwarded_allow_ips"] == settings.trusted_proxies
    assert server_options(Settings())["proxy_headers"] is False  # the default trusts nobody
    for bad in ("*", "proxy.example.com", "10.0.0.0/33"):
        with pytest.raises(ValueError, match="invalid trusted proxy"):
            Settings(trusted_proxies=[bad])
