"""The GitHub receiver: ``package`` (and legacy ``registry_package``) webhook deliveries in,
``repo_push`` events of ghcr.io images out.

GitHub signs each delivery with the webhook's secret (``X-Hub-Signature-256: sha256=<hex
HMAC-SHA256(secret, body)>``) and sends no token, so the path names the source by its number (the
token id ``regnotify source create --kind github`` prints; never the token, which stays out of
URLs and logs) and the signature is what authenticates: it is checked over the raw body, with a
constant-time comparison, before anything is parsed. A missing or wrong signature is a 401, and so
is a source that does not exist (or is revoked), with the same words: nobody learns which sources
exist. A source without a secret is a 401 saying how to make one. ``ping`` (sent when the webhook
is made) is answered 200; a body that is not JSON is a 400; everything else is a 200 once stored,
with the receipt every source receiver answers (``source_intake.py``): events of other kinds,
other actions and other packages than container images are counted as ignored.

GitHub does not redeliver a failed delivery by itself (only by hand), and gives up after 10 s.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from fastapi import APIRouter, Request, Response

from regnotify.accounts.tokens import find_source, open_webhook_secret
from regnotify.api.auth import token_holder
from regnotify.api.context import Services
from regnotify.api.errors import ApiError
from regnotify.api.json_body import parse_json_body
from regnotify.api.source_intake import Receipt, source_name, store_batch
from regnotify.ingest.github import read_delivery

log = logging.getLogger(__name__)
router = APIRouter(tags=["sources"])

SIGNATURE_HEADER = "x-hub-signature-256"
SIGNATURE_PREFIX = "sha256="
MAX_SOURCE_ID = 2**63 - 1
GITHUB_CHALLENGE = {"WWW-Authenticate": 'HMAC realm="regnotify", header="X-Hub-Signature-256"'}
CREATE_ONE = "regnotify source create NAME --namespace NS --kind github"


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, message, headers=GITHUB_CHALLENGE)


def _no_match(source: str) -> ApiError:
    """A wrong signature, or a source that does not exist: the same answer for both."""
    return _unauthorized(
        f"the X-Hub-Signature-256 signature does not match the GitHub webhook secret of source {source} "
        "(or there is no such source): paste the secret regnotify printed into the webhook's Secret field, "
        f"and check the Payload URL's number; a lost secret is replaced with regnotify source github-secret "
        f"ID, a source made with {CREATE_ONE}"
    )


def _source_id(source: str) -> int | None:
    if not source.isascii() or not source.isdigit() or len(source) > 19:
        return None
    number = int(source)
    return number if 0 < number <= MAX_SOURCE_ID else None


def signature_matches(secret: str, body: bytes, header: str) -> bool:
    """Whether ``header`` is GitHub's ``sha256=`` signature of ``body`` with ``secret``."""
    expected = SIGNATURE_PREFIX + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    # Starlette decodes header values as Latin-1, so this gives back the bytes that were sent.
    return hmac.compare_digest(expected.encode("ascii"), header.strip().encode("latin-1"))


@router.post(
    "/sources/github/{source}",
    response_model=Receipt,
    responses={401: {"description": "signature missing or wrong, unknown source, or no secret"}},
    openapi_extra={"requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}}},
)
async def receive(request: Request, source: str) -> Response:
    """Store a GitHub ``package`` delivery's tag push as a ``repo_push`` event (and queue its
    deliveries). ``source`` is the source's number, printed by ``regnotify source create``."""
    svc: Services = request.app.state.services
    body = await request.body()
    signature = request.headers.get(SIGNATURE_HEADER)
    if not signature:
        raise _unauthorized(
            "no X-Hub-Signature-256 header: GitHub signs deliveries only when the webhook has a Secret; "
            "paste the one regnotify printed for this source into the webhook's Secret field"
        )
    source_id = _source_id(source)
    if source_id is None:  # not echoed: a token pasted here by mistake would be
        raise _unauthorized(
            "the Payload URL ends with the source's number (regnotify source create printed it: "
            ".../api/v1/sources/github/<number>), never with its token"
        )
    async with svc.db.read() as session:
        token = await find_source(session, source_id)
    if token is None:
        raise _no_match(str(source_id))
    try:
        secret = open_webhook_secret(token, svc.box)
    except ValueError:
        log.error("source %s's GitHub webhook secret opens with no configured secret key", source_id)
        secret = None
    if secret is None:  # answered as a wrong signature: nobody learns which sources exist
        log.warning("GitHub delivery for source %s, which has no usable webhook secret", source_id)
        raise _no_match(str(source_id))
    if not signature_matches(secret, body, signature):
        raise _no_match(str(source_id))

    event = request.headers.get("x-github-event")
    if event == "ping":  # sent once when the webhook is made: it proves the URL and the secret
        return Response(Receipt().model_dump_json(), media_type="application/json")
    principal = token_holder(token, None)
    name = source_name(principal, "github", how_to_send="sign deliveries with the source's secret")
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        raise ApiError(400, "set the GitHub webhook's Content type to application/json (not form-encoded)")
    parsed = parse_json_body(body, "a GitHub webhook payload (Content type application/json)")
    batch = read_delivery(event, request.headers.get("x-github-delivery"), parsed, source=name)
    receipt = await store_batch(request, principal, batch)
    return Response(receipt.model_dump_json(), media_type="application/json")
