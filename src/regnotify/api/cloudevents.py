"""The CloudEvents receiver: any CloudEvents 1.0 sender over HTTP (zot's events extension, Harbor's
CloudEvents format, others), in binary, structured or batched mode (``ingest/cloudevents.py``).

Authentication: ``Authorization: Bearer <source token>`` (zot: the sink's ``credentials.token``).
Answers: 401 without a valid source token, 400 for a request that holds no readable CloudEvent,
else 200 with the receipt once stored (types nothing of ours fits are counted as ignored). zot
sends each event once and never retries, so whatever can be stored is.

``OPTIONS`` answers the CloudEvents webhook abuse-protection handshake (CloudEvents "HTTP 1.1 Web
Hooks", section 4): the ``WebHook-Request-Origin`` is allowed (``WebHook-Allowed-Origin``), at any
rate (``WebHook-Allowed-Rate: *``). It needs no token and is never required: neither Harbor nor zot
sends it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from regnotify.api.auth import authenticate
from regnotify.api.context import Services
from regnotify.api.errors import ApiError
from regnotify.api.json_body import parse_json_body
from regnotify.api.source_intake import Receipt, source_name, store_batch
from regnotify.ingest import cloudevents
from regnotify.ingest.batch import NotTheFormat

router = APIRouter(tags=["sources"])

PATH = "/sources/cloudevents"
HOW_TO_SEND = (
    "send the source token as Authorization: Bearer <token> (zot: the sink's credentials.token; "
    "regnotify source create NAME --namespace NS --kind cloudevents prints it)"
)
MAX_ORIGIN = 255


@router.post(
    PATH,
    response_model=Receipt,
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "schema": {"description": "binary mode: the data; attributes in ce-* headers"}
                },
                "application/cloudevents+json": {"schema": {"type": "object"}},
                "application/cloudevents-batch+json": {"schema": {"type": "array"}},
            }
        }
    },
)
async def receive(request: Request) -> Response:
    """Store the request's CloudEvents: zot's tag pushes as ``repo_push``, its scans as
    ``scan_completed``, Harbor's events as the Harbor receiver does; the rest is counted as ignored."""
    svc: Services = request.app.state.services
    principal = await authenticate(request, svc)
    source = source_name(principal, "cloudevents", how_to_send=HOW_TO_SEND, senders="CloudEvents senders")
    body = await request.body()
    try:
        batch = cloudevents.read_batch(
            request.headers.get("content-type"), request.headers, body, source=source, parse=parse_json_body
        )
    except NotTheFormat as exc:
        raise ApiError(400, str(exc)) from None
    receipt = await store_batch(request, principal, batch)
    return Response(receipt.model_dump_json(), media_type="application/json")


@router.options(PATH, status_code=200)
async def validate(request: Request) -> Response:
    """The abuse-protection handshake: this endpoint accepts events from the requesting origin."""
    headers = {"Allow": "OPTIONS, POST"}
    origin = (request.headers.get("webhook-request-origin") or "").strip()
    if origin and len(origin) <= MAX_ORIGIN and origin.isprintable():
        headers["WebHook-Allowed-Origin"] = origin
        headers["WebHook-Allowed-Rate"] = "*"
    return Response(status_code=200, headers=headers)
