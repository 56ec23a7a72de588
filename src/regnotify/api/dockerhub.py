"""The Docker Hub receiver: a repository's webhook posts here on every push.

Docker Hub sends no header of its own and no secret, so the source token travels in the URL's
path: ``/api/v1/sources/dockerhub/<token>``. It is a credential: the access log and every log line
that names a request's path show it as ``REDACTED`` (``runtime/logs.py`` ``redact_target``), and
no answer or rejection repeats it. Answers: 401 for a token that is not a valid source token,
400 for a body that is not JSON or not Docker Hub's, else 200 with the receipt once stored.
Docker Hub sends no digest: ``ingest/dockerhub.py`` says how such a push is stored.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from regnotify.api.auth import token_principal
from regnotify.api.context import Services
from regnotify.api.errors import ApiError
from regnotify.api.json_body import parse_json_body
from regnotify.api.source_intake import Receipt, source_name, store_batch
from regnotify.ingest import dockerhub
from regnotify.ingest.batch import NotTheFormat

router = APIRouter(tags=["sources"])

HOW_TO_SEND = "put the source token in the webhook URL: /api/v1/sources/dockerhub/<token>"


@router.post(
    "/sources/dockerhub/{token}",
    response_model=Receipt,
    openapi_extra={"requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}}},
)
async def receive(request: Request, token: str) -> Response:
    """Store a Docker Hub push as a ``repo_push`` event (its digest unknown: Docker Hub sends none).
    ``token`` is a source token (``regnotify source create NAME --namespace NS --kind dockerhub``)."""
    svc: Services = request.app.state.services
    principal = await token_principal(svc, token)
    source = source_name(principal, "dockerhub", how_to_send=HOW_TO_SEND, senders="Docker Hub webhooks")
    try:
        batch = dockerhub.read_push(parse_json_body(await request.body(), dockerhub.FORMAT), source=source)
    except NotTheFormat as exc:
        raise ApiError(400, str(exc)) from None
    receipt = await store_batch(request, principal, batch)
    return Response(receipt.model_dump_json(), media_type="application/json")
