"""Log lines as JSON: the standard fields, the call's extra fields, exceptions; text stays text."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from regnotify.config import Settings
from regnotify.logs import TEXT_FORMAT, JsonFormatter, configure_logging, uvicorn_log_config


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
        if fmt == "json":
            assert isinstance(handler.formatter, JsonFormatter)
            assert uvicorn_log_config(Settings(log_format="json")) is not None
        else:
            assert handler.formatter is not None and handler.formatter._fmt == TEXT_FORMAT
            assert uvicorn_log_config(Settings()) is None
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="log_format"):
        Settings(log_format="xml")
