"""Log set-up for ``serve`` and ``worker``: text lines for people, or one JSON object per line.

JSON lines carry the time, level, logger and message, plus the structured fields a call passes in
``extra`` (the worker's attempt line gives ``delivery_id``, ``attempt``, ``method``, ``outcome``,
``status_code`` and ``duration_ms``), so a log store can filter on them.

uvicorn's access log never shows an e-mail confirmation code: the link in a verification mail
(``/authrepoemail?code=…``) is the credential that confirms an address, so that page's query
string, and any ``code`` parameter elsewhere, is logged as ``REDACTED`` (``RedactAccessLog``). So is
the source token in Docker Hub's webhook URL (``/api/v1/sources/dockerhub/<token>``), there and in
every log line naming a request's path (``redact_path``).
"""

from __future__ import annotations

import copy
import json
import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, unquote_plus

from regnotify.config import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
REDACTED = "REDACTED"
SECRET_QUERY_PATHS = frozenset({"/authrepoemail"})  # pages whose whole query string is a credential
SECRET_QUERY_PARAMETERS = frozenset({"code"})
# paths whose rest is a credential: a sender that sends no header posts to a URL holding its token
SECRET_PATH_PREFIXES = ("/api/v1/sources/dockerhub/",)
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value if isinstance(value, str | int | float | bool | None) else str(value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_logging(settings: Settings) -> None:
    """Send log records at ``log_level`` and above to standard error in ``log_format``."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())


def redact_path(path: str) -> str:
    """A request path as a log line may show it: a token in the path (Docker Hub's webhook URL,
    ``/api/v1/sources/dockerhub/<token>``) as ``REDACTED``."""
    for prefix in SECRET_PATH_PREFIXES:
        if path.startswith(prefix):
            return prefix + REDACTED
    return path


def redact_target(target: str) -> str:
    """A request target (path and query string) as the access log may show it."""
    path, separator, query = target.partition("?")
    path = redact_path(path)
    if not separator:
        return path
    if unquote(path).rstrip("/") in SECRET_QUERY_PATHS:
        return f"{path}?{REDACTED}"
    pairs = query.split("&")
    for index, pair in enumerate(pairs):
        name, equals, _ = pair.partition("=")
        if equals and unquote_plus(name) in SECRET_QUERY_PARAMETERS:
            pairs[index] = f"{name}={REDACTED}"
    return f"{path}?{'&'.join(pairs)}"


class RedactAccessLog(logging.Filter):
    """On ``uvicorn.access``: confirmation codes out of the request line (its third argument)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_target(args[2]), *args[3:])
        return True


def uvicorn_log_config(settings: Settings) -> dict[str, Any]:
    """uvicorn's logging for ``serve``: its own text lines, or through the root handler when logging
    JSON; either way the access log goes through ``RedactAccessLog``."""
    if settings.log_format == "json":
        config: dict[str, Any] = {
            "version": 1,
            "disable_existing_loggers": False,
            "loggers": {name: {"handlers": [], "propagate": True} for name in ("uvicorn", "uvicorn.access")},
        }
    else:
        from uvicorn.config import LOGGING_CONFIG

        config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_access_log"] = {"()": RedactAccessLog}
    config["loggers"]["uvicorn.access"]["filters"] = ["redact_access_log"]
    return config
