"""schemathesis on every route in ``/openapi.json``, with valid tokens: no 5xx, every 4xx in Quay's shape.

Each operation gets ``MAX_EXAMPLES`` fuzzed cases plus schemathesis' coverage cases (boundary
values, missing and wrongly typed fields, other methods), derandomized from a fixed seed. Path
parameters are the seeded repository, notification, delivery, build and notice four times in
five, and anything at all otherwise; bodies that name an event or a method mostly name a real
one. Requests carry the repository admin's token, a superuser's one time in four, and the
registry source's on the registry receiver.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from cryptography.fernet import Fernet
from fastapi import FastAPI
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig
from schemathesis.python import asgi

from regnotify.app import create_app
from regnotify.config import Settings
from regnotify.events import EVENT_KINDS
from regnotify.methods import METHODS

from .conftest import (
    ADMIN_TOKEN,
    BUILD_UUID,
    DELIVERY_UUID,
    FUZZ_REQUESTS,
    FUZZ_STATUSES,
    NOTICE_UUID,
    NOTIFICATION_UUID,
    REPOSITORY,
    SOURCE_TOKEN,
    SUPERUSER_TOKEN,
    SeededApi,
    no_dns,
)

QUAY_ERROR_KEYS = {"status", "error_type", "title", "detail", "error_message", "type"}
MAX_EXAMPLES = 100
SEED = 20_240_606

CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": SEED,
        "suppress-health-check": ["filter_too_much", "too_slow"],
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
        "phases": {"stateful": {"enabled": False}},
    }
)
# The document only: the application that answers is the seeded one, handed to each call.
_SPEC_APP = create_app(Settings(data_dir=Path("/nonexistent"), secret_key=Fernet.generate_key().decode()))
schema = schemathesis.openapi.from_dict(_SPEC_APP.openapi(), config=CONFIG)

SEEDED_PATH = {
    "repository": REPOSITORY,
    "uuid": NOTIFICATION_UUID,
    "delivery_id": DELIVERY_UUID,
    "build_id": BUILD_UUID,
}


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
    """The seeded ids four times in five, so that most requests reach the code behind the lookups."""
    if not path_parameters:
        return st.just(path_parameters)
    seeded = {name: SEEDED_PATH.get(name, value) for name, value in path_parameters.items()}
    if context.operation.path.startswith("/api/v1/user/notifications/"):
        seeded["uuid"] = NOTICE_UUID
    return st.sampled_from([seeded, seeded, seeded, seeded, path_parameters])


@schema.hook
def flatmap_body(context: Any, body: Any) -> Any:
    """Real event and method names in most bodies that name one, so that their own checks run too."""
    if not isinstance(body, dict):
        return st.just(body)
    names: dict[str, list[Any]] = {}
    if "kind" in body and context.operation.path.endswith("/events"):
        names["kind"] = [*EVENT_KINDS, body["kind"]]
    if "event" in body:
        names["event"] = [*EVENT_KINDS, body["event"]]
    if "method" in body:
        names["method"] = [*METHODS, body["method"]]
    if not names:
        return st.just(body)
    chosen = st.fixed_dictionaries({key: st.sampled_from(values) for key, values in names.items()})
    return chosen.map(lambda picked: {**body, **picked})


@schema.hook
def flatmap_headers(context: Any, headers: dict[str, Any] | None) -> Any:
    """The registry source on the receiver; elsewhere the repository admin, or a superuser one in four."""
    if context.operation.path == "/api/v1/registry/events":
        tokens = [SOURCE_TOKEN]
    else:
        tokens = [ADMIN_TOKEN, ADMIN_TOKEN, ADMIN_TOKEN, SUPERUSER_TOKEN]
    return st.sampled_from(tokens).map(lambda token: {**(headers or {}), "Authorization": f"Bearer {token}"})


@pytest.fixture(scope="module")
def fuzzed_app(seeded_api: SeededApi) -> Iterator[FastAPI]:
    app = create_app(seeded_api.settings, resolver=no_dns)
    yield app
    asgi.shutdown_lifespans()  # schemathesis starts the app's lifespan on its first request


def check(case: Any, app: FastAPI) -> None:
    response = case.call(app=app)
    FUZZ_REQUESTS[case.operation.label] += 1
    FUZZ_STATUSES[response.status_code] += 1
    status = response.status_code
    where = f"{case.as_curl_command()}\n-> {status} {response.text[:500]}"
    assert status < 500, where
    if status >= 400:
        assert response.headers.get("content-type") == ["application/json"], where
        body = response.json()
        assert isinstance(body, dict) and body.keys() >= QUAY_ERROR_KEYS, where
        assert body["status"] == status and body["detail"] == body["error_message"], where


@schema.exclude(method="DELETE").parametrize()
def test_every_route_answers_without_5xx(case: Any, fuzzed_app: FastAPI) -> None:
    check(case, fuzzed_app)


@schema.include(method="DELETE").parametrize()
def test_deletes_answer_without_5xx(case: Any, fuzzed_app: FastAPI) -> None:
    """After the others, since a fuzzed DELETE may remove the seeded notification."""
    check(case, fuzzed_app)
