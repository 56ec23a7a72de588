"""Log lines as JSON: the standard fields, the call's extra fields, exceptions; text stays text."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from regnotify.config import Settings
from regnotify.runtime.logs import (
    TEXT_FORMAT,
    JsonFormatter,
    RedactAccessLog,
    configure_logging,
    redact_target,
    uvicorn_log_config,
)


def record(**extra: object) -> logging.LogRecord:
    item = logging.LogRecord("regnotify.delivery.worker", logging.INFO, __file__, 1, "sent %s", ("x",), None)
    item.__dict__.update(extra)
    return item


def test_a_json_line_has_the_message_and_the_extra_fields() -> None:
    line = json.loads(JsonFormatter().format(record(delivery_id="d-1", attempt=2, status_code=None)))
    assert line["message"] == "sent x"
    assert (line["level"], line["logger"]) == ("INFO", "regnotify.delivery.worker")
    assert (line["delivery_id"], line["attempt"], line["status_code"]) == ("d-1", 2, None)
    assert line["time"].endswith("+00:00")
    assert "args" not in line and "msg" not in line


def test_values_json_cannot_hold_become_text_and_exceptions_are_kept() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        item = record(path=object())
        item.exc_info = sys.exc_info()
    line = json.loads(JsonFormatter().format(item))
    assert line["path"].startswith("<object object")
    assert "RuntimeError: boom" in line["exception"]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_configure_logging_installs_one_handler(fmt: str) -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure_logging(Settings(log_format=fmt, log_level="warning"))
        configure_logging(Settings(log_format=fmt, log_level="warning"))
        (handler,) = root.handlers
        assert root.level == logging.WARNING
        uvicorn_loggers = uvicorn_log_config(Settings(log_format=fmt))["loggers"]
        assert uvicorn_loggers["uvicorn.access"]["filters"] == ["redact_access_log"]
        if fmt == "json":
            assert isinstance(handler.formatter, JsonFormatter)
            assert uvicorn_loggers["uvicorn.access"]["propagate"] is True  # to the JSON handler
        else:
            assert handler.formatter is not None and handler.formatter._fmt == TEXT_FORMAT
            assert uvicorn_loggers["uvicorn.access"]["handlers"] == ["access"]  # uvicorn's own lines
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="log_format"):
        Settings(log_format="xml")


@pytest.mark.parametrize(
    ("target", "logged"),
    [
        ("/authrepoemail?code=s3cret", "/authrepoemail?REDACTED"),
        ("/authrepoemail/?utm=x&code=s3cret", "/authrepoemail/?REDACTED"),
        ("/authrepo%65mail?c%6Fde=s3cret", "/authrepo%65mail?REDACTED"),
        ("/elsewhere?page=2&code=s3cret&c%6Fde=s3cret", "/elsewhere?page=2&code=REDACTED&c%6Fde=REDACTED"),
        ("/api/v1/repository/acme/app/events?limit=5", "/api/v1/repository/acme/app/events?limit=5"),
        ("/authrepoemail", "/authrepoemail"),
    ],
)
def test_access_log_targets_lose_confirmation_codes(target: str, logged: str) -> None:
    assert redact_target(target) == logged
    item = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", target, "1.1", 200), None,
    )  # fmt: skip
    assert RedactAccessLog().filter(item)
    assert item.getMessage() == f'127.0.0.1:5 - "GET {logged} HTTP/1.1" 200'
