"""Automation written for Quay, played against a real ``regnotify serve`` over HTTP.

The client below makes the calls Quay's configuration tooling (the Ansible collection that
manages Quay notifications) makes, in its order and with its bodies: who am I, does the namespace
exist (organization, else a user found through ``entities`` after a robot look-up that may 404),
does the repository exist, list the notifications and compare them by title to decide what to
create, create with both ``eventConfig`` and ``event_config``, test, reset, delete. Like that
tooling, it treats a 404 on a look-up as "absent" and a 400 or 404 on a delete as "already gone".
Every method and every event is created once; the tests' sends reach real receiver.
"""

from __future__ import annotations

import email
import email.policy
import itertools
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from regnotify.db import Database

from .receivers import Receiver
from .receivers import receiver as receiver  # the fixture
from .test_walkthrough import cli, make_environment
from .test_walkthrough import server as server  # the fixture, on this module's environment

REPOSITORY = "acme/app"
EMAIL = "ops@example.com"


@pytest.fixture
def environment(tmp_path: Path, database: Database, receiver: Receiver) -> dict[str, str]:
    env = make_environment(tmp_path, database)
    env.update(
        REGNOTIFY_CHAT_ALLOWED_HOSTS='["127.0.0.1"]',
        REGNOTIFY_HIPCHAT_BASE_URL=receiver.base,
        REGNOTIFY_FLOWDOCK_BASE_URL=receiver.base,
    )
    return env


# -- a client that behaves like Quay's automation -------------------------------------------------


@dataclass
class QuayAutomation:
    api: str
    token: str
    changed: bool = False
    calls: list[tuple[str, str, int]] = field(default_factory=list)

    def call(
        self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None
    ) -> httpx.Response:
        response = httpx.request(
            method,
            f"{self.api}/{path}",
            headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json"},
            json=body,
            params=params,
            timeout=30,
        )
        self.calls.append((method, path, response.status_code))
        assert response.status_code < 500, (method, path, response.text)
        return response

    def get(self, path: str, params: dict[str, str] | None = None, absent: tuple[int, ...] = (404,)) -> Any:
        """An object, or None when the answer is one of ``absent``; anything else but 200 fails."""
        response = self.call("GET", path, params=params)
        if response.status_code in absent:
            return None
        assert response.status_code == 200, (path, response.status_code, response.text)
        return response.json()

    def who_am_i(self) -> str:
        return str(self.get("user/")["username"])

    def organization(self, name: str) -> dict[str, Any] | None:
        return self.get(f"organization/{name}")

    def account(self, name: str) -> dict[str, Any] | None:
        """A user account: not a robot of the caller, and an exact match among the entities."""
        if self.get(f"user/robots/{name}", absent=(400, 404)) is not None:
            return None
        found = self.get(f"entities/{name}", params={"includeOrgs": "False", "includeTeams": "False"})
        for entity in (found or {}).get("results", []):
            if entity.get("name") == name:
                return dict(entity, is_robot=False)
        return None

    def namespace(self, name: str) -> dict[str, Any] | None:
        org = self.organization(name)
        if org is not None:
            return dict(org, is_organization=True)
        return self.account(name)

    def ensure(self, repository: str, wanted: dict[str, Any]) -> dict[str, Any]:
        """Create the notification titled ``wanted["title"]`` unless one exists; return it."""
        namespace, _, _name = repository.partition("/")
        details = self.namespace(namespace)
        assert details is not None and details.get("is_organization"), details
        listed = self.get(f"repository/{repository}/notification/")["notifications"]
        for notification in listed:
            if notification.get("title") == wanted["title"]:
                return dict(notification)
        assert self.get(f"repository/{repository}") is not None, "the repository must exist"
        target = wanted["config"].get("target")
        if target is not None:
            self.check_target(namespace, target)
        event_config = dict(wanted.get("eventConfig", {}))
        body = {
            "title": wanted["title"],
            "event": wanted["event"],
            "method": wanted["method"],
            "config": wanted["config"],
            "eventConfig": event_config,
            "event_config": event_config,
        }
        response = self.call("POST", f"repository/{repository}/notification/", body)
        assert response.status_code in (200, 201, 204), response.text
        self.changed = True
        return dict(response.json())

    def check_target(self, namespace: str, target: dict[str, str]) -> None:
        kind, name = target["kind"], target["name"]
        if kind == "user":
            assert self.account(name) is not None, f"user {name} must exist"
        elif kind == "team":
            org = self.organization(namespace) or {}
            assert name in org.get("teams", {}), f"team {name} must exist in {namespace}"
        else:
            assert self.organization(name) is not None, f"organization {name} must exist"

    def delete(self, repository: str, uuid: str) -> bool:
        response = self.call("DELETE", f"repository/{repository}/notification/{uuid}")
        if response.status_code in (200, 201, 202, 204):
            return True
        assert response.status_code in (400, 404), response.text
        return False


def wanted_notifications(receiver: Receiver) -> list[dict[str, Any]]:
    """Every event once and every method once (three in-app targets), paired round-robin."""
    events = [
        ("repo_push", {}),
        ("build_queued", {"ref-regex": "refs/heads/.*"}),
        ("build_start", {}),
        ("build_success", {}),
        ("build_failure", {}),
        ("build_cancelled", {}),
        ("vulnerability_found", {"level": "1"}),  # the tooling sends the index as a string
        ("repo_mirror_sync_started", {}),
        ("repo_mirror_sync_success", {}),
        ("repo_mirror_sync_failed", {}),
        ("repo_image_expiry", {"days": 7}),
    ]
    base = receiver.base
    methods = [
        ("quay_notification", {"target": {"name": "bob", "kind": "user"}}),
        ("quay_notification", {"target": {"name": "devs", "kind": "team"}}),
        ("quay_notification", {"target": {"name": "acme", "kind": "org"}}),
        ("email", {"email": EMAIL}),
        ("webhook", {"url": f"{base}/webhook"}),
        ("webhook", {"url": f"{base}/templated", "template": '{"text": "${repository}: ${docker_tags[*]}"}'}),
        ("slack", {"url": f"{base}/slack/services/T0/B0/secret"}),
        ("msteams", {"url": f"{base}/teams/webhookb2/secret"}),
        ("discord", {"url": f"{base}/api/webhooks/1/secret"}),
        ("hipchat", {"room_id": "42", "notification_token": "hipchat-token"}),
        ("flowdock", {"flow_api_token": "flowdock-token"}),
    ]
    assert len(methods) == len(events)
    return [
        {
            "title": f"{event} by {method} {i}",
            "event": event,
            "method": method,
            "config": config,
            "eventConfig": ec,
        }
        for i, ((event, ec), (method, config)) in enumerate(
            zip(events, itertools.cycle(methods), strict=False)
        )
    ]


def wait_until(check: Any, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return bool(check())


def confirmation_code(maildir: Path) -> str | None:
    for path in sorted(maildir.rglob("*")):
        if not path.is_file():
            continue
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for part in message.walk():
            if part.get_content_maintype() == "text":
                found = re.search(r"authrepoemail\?code=([A-Za-z0-9_-]+)", part.get_content())
                if found:
                    return found.group(1)
    return None


def mails_about(maildir: Path, fragment: str) -> int:
    count = 0
    for path in maildir.rglob("*"):
        if path.is_file():
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            count += fragment in str(message["Subject"])
    return count


def inbox(api: str, token: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{api}/user/notifications",
        params={"page": "0", "limit": "50"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    return list(response.json()["notifications"])


def test_a_quay_automation_client_runs_unchanged(
    environment: dict[str, str], server: str, receiver: Receiver
) -> None:
    for args in (
        ("user", "create", "alice", "--no-password", "--email", "alice@example.com"),
        ("user", "create", "bob", "--no-password"),
        ("org", "create", "acme", "--admin", "alice"),
        ("team", "create", "acme", "devs"),
        ("team", "add-member", "acme", "devs", "bob"),
        ("repo", "create", REPOSITORY),
        ("permission", "grant", REPOSITORY, "read", "--team", "devs"),
    ):
        result = cli(environment, *args)
        assert result.returncode == 0, (args, result.stderr)
    tokens = {}
    for user in ("alice", "bob"):
        issued = cli(environment, "token", "create", "--user", user, "--name", "automation")
        assert issued.returncode == 0, issued.stderr
        tokens[user] = issued.stdout.strip()
    api = f"{server}/api/v1"
    client = QuayAutomation(api, tokens["alice"])

    # Who am I, and what exists: the calls the tooling makes before anything else.
    me = client.get("user/")
    assert me["username"] == "alice" and me["anonymous"] is False
    assert [org["name"] for org in me["organizations"]] == ["acme"]
    assert me["organizations"][0]["is_org_admin"] is True
    org = client.organization("acme")
    assert org is not None and org["is_admin"] is True and set(org["teams"]) >= {"devs", "owners"}
    assert client.organization("nobody-has-this") is None
    repository = client.get(f"repository/{REPOSITORY}")
    assert (repository["namespace"], repository["name"], repository["can_admin"]) == ("acme", "app", True)
    assert client.account("bob") is not None and client.account("no-such-user") is None

    # E-mail needs a confirmed address first (Quay's UI does this step; so does ours).
    assert client.call("POST", f"repository/{REPOSITORY}/authorizedemail/{EMAIL}").status_code == 200
    maildir = Path(environment["REGNOTIFY_DATA_DIR"]) / "maildir"
    assert wait_until(lambda: confirmation_code(maildir) is not None, 10)
    confirmed = httpx.post(f"{server}/authrepoemail", data={"code": confirmation_code(maildir)})
    assert confirmed.status_code == 200, confirmed.text

    # First run creates every notification; a second run finds them all and changes nothing.
    wanted = wanted_notifications(receiver)
    created = [client.ensure(REPOSITORY, item) for item in wanted]
    assert client.changed and len({n["uuid"] for n in created}) == len(wanted)
    second = QuayAutomation(api, tokens["alice"])
    again = [second.ensure(REPOSITORY, item) for item in wanted]
    assert not second.changed
    assert not any(method == "POST" for method, _, _ in second.calls)
    for item, found in zip(wanted, again, strict=True):
        assert (found["event"], found["method"]) == (item["event"], item["method"])
        assert found["event_config"] == item["eventConfig"], found  # as sent: a tool compares them
        assert found["number_of_failures"] == 0

    # Test every notification: each send reaches its receiver.
    for notification in again:
        response = client.call(
            "POST", f"repository/{REPOSITORY}/notification/{notification['uuid']}/test", {}
        )
        assert response.status_code == 200, response.text
    expected_paths = {
        "/webhook",
        "/templated",
        "/slack/services/T0/B0/secret",
        "/teams/webhookb2/secret",
        "/api/webhooks/1/secret",
        "/v2/room/42/notification",
        "/v1/messages/team_inbox/flowdock-token",
    }
    assert wait_until(lambda: expected_paths <= set(receiver.paths())), receiver.paths()
    templated = next(item for item in receiver.received if item.path == "/templated")
    assert templated.body == {"text": "acme/app: latest,foo,bar"}  # Quay joins with ","
    hipchat = next(item for item in receiver.received if item.path.startswith("/v2/room/"))
    assert hipchat.headers["Authorization"] == "Bearer hipchat-token"  # not in the URL, as Quay puts it
    assert wait_until(lambda: mails_about(maildir, "acme/app") >= 1)
    # In-app: bob is told as a user and as a member of devs, alice as the organization's admin.
    assert wait_until(lambda: len(inbox(api, tokens["bob"])) >= 2 and len(inbox(api, tokens["alice"])) >= 1)
    assert {notice["organization"] for notice in inbox(api, tokens["bob"])} == {None}
    assert {notice["organization"] for notice in inbox(api, tokens["alice"])} == {"acme"}
    one = inbox(api, tokens["bob"])[0]
    assert (
        httpx.get(
            f"{api}/user/notifications/{one['id']}", headers={"Authorization": f"Bearer {tokens['bob']}"}
        ).json()
        == one
    )

    # Reset twice: the second reset changes nothing, not even the change log.
    for notification in again:
        path = f"repository/{REPOSITORY}/notification/{notification['uuid']}"
        assert client.call("POST", path, {}).status_code == 204
        view = client.get(path)
        logs = client.get(f"repository/{REPOSITORY}/notification/logs")
        assert client.call("POST", path, {}).status_code == 204
        assert client.get(path) == view
        assert client.get(f"repository/{REPOSITORY}/notification/logs") == logs

    # Delete everything, then delete again: the second run is a no-op.
    assert all(client.delete(REPOSITORY, n["uuid"]) for n in again)
    assert client.get(f"repository/{REPOSITORY}/notification/")["notifications"] == []
    assert not any(client.delete(REPOSITORY, n["uuid"]) for n in again)
    assert client.get(f"repository/{REPOSITORY}/notification/")["notifications"] == []
