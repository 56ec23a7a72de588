"""The Harbor receiver: a project's webhook policy posts here, one event per request.

Harbor sends its policy's *Auth Header* verbatim as ``Authorization``: set it to ``Bearer <source
token>`` (a bare token is taken too). The payload format is the policy's choice: *Default*
(``application/json``: ``ingest/harbor.py``) or *CloudEvents* (structured mode,
``application/cloudevents+json``: ``ingest/cloudevents.py``, which maps ``harbor.*`` types the
same way). Answers: 401 without a valid source token, 400 for a body that is not JSON or not
Harbor's, else 200 with the receipt once stored (an event of a type nothing of ours fits is
counted as ignored; one that cannot be used is recorded with its reason at
``/registry/rejections``). Harbor tries an event three times and gives up on anything but a 2xx.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from regnotify.api.auth import Principal, authenticate, token_principal
from regnotify.api.context import Services
from regnotify.api.errors import ApiError
from regnotify.api.json_body import parse_json_body
from regnotify.api.source_intake import Receipt, source_name, store_batch
from regnotify.ingest import cloudevents, harbor
from regnotify.ingest.batch import NotTheFormat

router = APIRouter(tags=["sources"])

HOW_TO_SEND = (
    "set the Harbor webhook policy's Auth Header to: Bearer <source token> "
    "(regnotify source create NAME --namespace PROJECT --kind harbor prints it)"
)


async def harbor_principal(request: Request, svc: Services) -> Principal:
    """The caller, from ``Authorization: Bearer <token>`` or, as a policy's Auth Header may hold
    just the token, ``Authorization: <token>``."""
    header = (request.headers.get("authorization") or "").strip()
    if header and " " not in header:
        return await token_principal(svc, header)
    return await authenticate(request, svc)


@router.post(
    "/sources/harbor",
    response_model=Receipt,
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "application/cloudevents+json": {"schema": {"type": "object"}},
            }
        }
    },
)
async def receive(request: Request) -> Response:
    """Store a Harbor webhook event: a tag push as ``repo_push``, a scan as ``scan_completed`` or
    ``scan_failed``, a replication as ``repo_mirror_sync_*``; the rest is counted as ignored."""
    svc: Services = request.app.state.services
    principal = await harbor_principal(request, svc)
    source = source_name(principal, "harbor", how_to_send=HOW_TO_SEND, senders="Harbor webhooks")
    body = await request.body()
    content_type = request.headers.get("content-type")
    try:
        if cloudevents.media_type(content_type).startswith(cloudevents.STRUCTURED):
            batch = cloudevents.read_batch(
                content_type, request.headers, body, source=source, parse=parse_json_body
            )
        else:
            batch = harbor.read_default(parse_json_body(body, harbor.DEFAULT_FORMAT), source=source)
    except NotTheFormat as exc:
        raise ApiError(400, str(exc)) from None
    receipt = await store_batch(request, principal, batch)
    return Response(receipt.model_dump_json(), media_type="application/json")
