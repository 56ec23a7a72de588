"""Shared sending for the HTTP methods: POST a JSON document and turn what happened into a SendResult.

Only a 2xx answer is a success. A 3xx is a failure (redirects are never followed), 410 Gone sets
``gone``, and 429/503 with ``Retry-After`` (seconds or an HTTP date) set ``retry_after``. Network
problems become failures with a clear ``error``; nothing here raises for them. The request summary
kept for the attempt log has the URL masked and secret headers left out.
"""

from __future__ import annotations

import logging
import math
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from http import HTTPStatus
from typing import Any

# encode_json lives in ``sending`` (``Message.json_body`` uses it); the methods import it from here
from regnotify.methods.sending import HttpResponse, Senders, SendResult, encode_json
from regnotify.methods.urls import mask_url
from regnotify.outbound.http import OutboundError

logger = logging.getLogger(__name__)

EXCERPT_CHARS = 4096
SECRET_HEADER_WORDS = ("authorization", "cookie", "token", "secret", "password", "api-key", "apikey")
RETRY_AFTER_STATUSES = (429, 503)
SUMMARY_CACHE = 1024  # URLs and header names whose masking is remembered (a worker sends to the same ones)


@lru_cache(maxsize=SUMMARY_CACHE)
def is_secret_header(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in SECRET_HEADER_WORDS)


@lru_cache(maxsize=SUMMARY_CACHE)
def masked_url(url: str) -> str:
    """``mask_url(url)``, remembered per URL: parsing it is most of what a request summary costs."""
    return mask_url(url)


def request_summary(url: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """What was sent, safe to store: masked URL, no secret headers, the start of the body."""
    return {
        "method": "POST",
        "url": masked_url(url),
        "headers": {name: value for name, value in headers.items() if not is_secret_header(name)},
        "body": body[:EXCERPT_CHARS].decode("utf-8", errors="replace"),
        "body_bytes": len(body),
    }


def parse_retry_after(value: object, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP date); None if unusable."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return float(int(text))
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if math.isfinite(seconds):
        return max(seconds, 0.0)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def status_text(status: int) -> str:
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def _header(headers: Any, name: str) -> str | None:
    try:
        value = headers.get(name)
    except AttributeError:
        return None
    return value if isinstance(value, str) else None


def result_from_response(response: HttpResponse, request: dict[str, Any]) -> SendResult:
    """The SendResult for an HTTP answer: ok only for 2xx."""
    status = response.status
    result = SendResult(
        ok=200 <= status < 300,
        status_code=status,
        response_excerpt=response.body_excerpt,
        request=request,
        duration_ms=response.duration_ms,
    )
    if result.ok:
        return result
    if 300 <= status < 400:
        location = _header(response.headers, "Location")
        target = f" to {mask_url(location)}" if location else ""
        answer = f"receiver answered {status_text(status)} (redirect{target})"
        result.error = f"{answer}; redirects are not followed"
        return result
    result.error = f"receiver answered {status_text(status)}"
    if status == 410:
        result.gone = True
    if status in RETRY_AFTER_STATUSES:
        result.retry_after = parse_retry_after(_header(response.headers, "Retry-After"))
    return result


async def post_json(
    senders: Senders,
    url: str,
    document: Any = None,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    client_cert: bool = False,
) -> SendResult:
    """POST ``document`` as JSON (or ``body`` as given) to ``url``; never raises for network problems."""
    data = body if body is not None else encode_json(document)
    sent_headers = {"Content-Type": "application/json", **(headers or {})}
    request = request_summary(url, sent_headers, data)
    started = time.perf_counter()

    def failed(error: str, *, permanent: bool = False, unreachable: bool = True) -> SendResult:
        duration = (time.perf_counter() - started) * 1000
        return SendResult(
            ok=False,
            error=error,
            permanent=permanent,
            unreachable=unreachable,
            request=request,
            duration_ms=duration,
        )

    try:
        response = await senders.http.post(url, body=data, headers=sent_headers, client_cert=client_cert)
    except OutboundError as exc:  # a refused address or URL was never sent to: not the receiver's fault
        return failed(str(exc), permanent=exc.permanent, unreachable=not exc.permanent)
    except TimeoutError:
        return failed("timed out")
    except OSError as exc:
        return failed(f"connection failed: {exc.strerror or type(exc).__name__}")
    except Exception as exc:  # the contract: a send reports, it does not raise
        logger.warning("unexpected %s while sending to %s", type(exc).__name__, mask_url(url))
        return failed(f"request failed: {type(exc).__name__}", unreachable=False)
    return result_from_response(response, request)


def homepage_of(payload: dict[str, Any]) -> str | None:
    """The payload's ``homepage`` when it is an http(s) URL, for links in chat messages."""
    value = payload.get("homepage")
    if isinstance(value, str) and value.lower().startswith(("http://", "https://")):
        return value
    return None
