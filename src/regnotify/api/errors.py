"""Errors in Quay's shape ``{status, error_type, title, detail, error_message, type}``, for every failure.

Never a 500 for bad input: a value the database refuses (``DataError``: PostgreSQL takes no NUL
characters in text, for one) is a 400 whatever let it through. ``RefuseNul`` (``json_body``), which
the application installs beside these handlers, refuses NUL characters in API input before a route
sees them, with a message naming the field, the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from regnotify.runtime.logs import redact_path

log = logging.getLogger(__name__)

ERROR_TYPES = {
    400: "invalid_request",
    401: "invalid_token",
    403: "insufficient_scope",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "request_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
    500: "internal_error",
    503: "service_unavailable",
}


class ApiError(Exception):
    """Raise from a route to answer with ``status`` and a message saying what to fix."""

    def __init__(self, status: int, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers


# Bodies nested deeper than this are refused (routes that parse their body by hand check it; for
# the others Python's JSON parser stops far deeper, and their models refuse deep values anyway).
MAX_BODY_DEPTH = 64
TOO_DEEP = (
    f"the request body is nested too deeply: no request here needs more than {MAX_BODY_DEPTH} levels "
    "of arrays and objects"
)
NOT_UTF8 = "the request body is not valid UTF-8: send JSON text encoded as UTF-8"
FASTAPI_PARSE_ERROR = "There was an error parsing the body"  # FastAPI's words; the cause says more
NUL_NOT_ALLOWED = "NUL characters are not allowed"  # PostgreSQL stores none in text


def error_body(status: int, detail: str, base_url: str = "") -> dict[str, Any]:
    error_type = ERROR_TYPES.get(status, "invalid_request" if status < 500 else "internal_error")
    # Input echoed in a message may hold lone surrogates (JSON's \ud800), which UTF-8 cannot encode.
    detail = detail.encode("utf-8", "backslashreplace").decode("utf-8")
    return {
        "status": status,
        "error_type": error_type,
        "title": error_type,
        "detail": detail,
        "error_message": detail,
        "type": f"{base_url}/api/v1/error/{error_type}",
    }


def error_response(
    request: Request, status: int, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    settings = getattr(request.app.state, "settings", None)
    base_url = settings.base_url if settings is not None else ""
    return JSONResponse(error_body(status, detail, base_url), status_code=status, headers=headers)


def is_json(content_type: str | None) -> bool:
    media_type = (content_type or "").split(";")[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _unparsed_body(request: Request, exc: RequestValidationError) -> bool:
    """Whether a JSON body was refused whole because it was not sent as JSON (FastAPI does not parse it
    then, and hands the model the raw bytes). Form fields (the web pages) have locations of their own."""
    whole_body = any(
        tuple(error.get("loc", ())) == ("body",) and isinstance(error.get("input"), bytes) and error["input"]
        for error in exc.errors()
    )
    return whole_body and not is_json(request.headers.get("content-type"))


def _describe_validation(exc: RequestValidationError) -> str:
    messages = []
    for error in exc.errors()[:5]:
        location = [str(part) for part in error.get("loc", ()) if part not in ("body",)]
        if error.get("type") == "json_invalid":
            return "the request body is not valid JSON: send a JSON object"
        where = ".".join(location)
        if not where and error.get("type") == "missing":
            return "the request has no body: send a JSON object"
        message = str(error.get("msg", "invalid value"))
        messages.append(f"{where}: {message}" if where else message)
    return "; ".join(messages) or "invalid request"


def data_error_detail(exc: DataError) -> str:
    """What to say about a value the database refused: NUL characters by name, else its own words."""
    message = str(exc.orig or exc).strip()
    if "NUL" in message or "\\u0000" in message:  # psycopg's words, and PostgreSQL's for jsonb
        return "the request holds a NUL character (\\u0000), which cannot be stored: " + NUL_NOT_ALLOWED
    cause = message.splitlines()[0][:200] if message else "invalid value"
    return f"the database refused a value of the request ({cause}): correct it and send the request again"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(request, exc.status, exc.detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        if _unparsed_body(request, exc):
            sent = request.headers.get("content-type")
            got = f"not {sent}" if sent else "the request had none"
            return error_response(
                request, 415, f"send the body as JSON with Content-Type: application/json ({got})"
            )
        return error_response(request, 400, _describe_validation(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 400 and detail == FASTAPI_PARSE_ERROR:  # say what was wrong with the body
            if isinstance(exc.__cause__, UnicodeDecodeError):
                detail = NOT_UTF8
            elif isinstance(exc.__cause__, RecursionError):
                detail = TOO_DEEP
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such route: {request.method} {redact_path(request.url.path)}"
        return error_response(request, exc.status_code, detail, getattr(exc, "headers", None))

    @app.exception_handler(IntegrityError)
    async def _integrity_error(request: Request, exc: IntegrityError) -> JSONResponse:
        log.warning("integrity error on %s %s: %s", request.method, redact_path(request.url.path), exc.orig)
        return error_response(request, 409, "the request conflicts with a concurrent change; retry it")

    @app.exception_handler(DataError)
    async def _data_error(request: Request, exc: DataError) -> JSONResponse:
        # the last resort: input that got past every check and that the database refuses
        path = redact_path(request.url.path)
        log.warning("database refused a value on %s %s: %s", request.method, path, exc.orig)
        return error_response(request, 400, data_error_detail(exc))

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(SQLAlchemyTimeoutError)
    async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.error("database unavailable on %s %s: %s", request.method, redact_path(request.url.path), exc)
        return error_response(
            request, 503, "the database is unavailable; retry shortly", {"Retry-After": "5"}
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, redact_path(request.url.path))
        return error_response(request, 500, "internal error; the server log has the details")
