"""Docker Hub's webhook URL holds the source token: no log line shows it."""

from __future__ import annotations

import logging

import pytest

from regnotify.runtime.logs import REDACTED, RedactAccessLog, redact_path, redact_target

TOKEN = "rn_s3cr3t-token-value"


@pytest.mark.parametrize(
    ("target", "shown"),
    [
        (f"/api/v1/sources/dockerhub/{TOKEN}", f"/api/v1/sources/dockerhub/{REDACTED}"),
        (f"/api/v1/sources/dockerhub/{TOKEN}/extra?x=1", f"/api/v1/sources/dockerhub/{REDACTED}?x=1"),
        (
            f"/api/v1/sources/dockerhub/{TOKEN}?code=1",
            f"/api/v1/sources/dockerhub/{REDACTED}?code={REDACTED}",
        ),
        ("/api/v1/sources/harbor", "/api/v1/sources/harbor"),
        ("/api/v1/sources/github/12", "/api/v1/sources/github/12"),
    ],
)
def test_the_token_in_the_path_is_redacted(target: str, shown: str) -> None:
    assert redact_target(target) == shown
    assert redact_path(target.partition("?")[0]) == shown.partition("?")[0]


def test_the_access_log_line_never_holds_the_token() -> None:
    line = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "POST", f"/api/v1/sources/dockerhub/{TOKEN}", "1.1", 200),
        None,
    )
    RedactAccessLog().filter(line)
    assert TOKEN not in line.getMessage() and REDACTED in line.getMessage()
