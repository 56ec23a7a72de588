"""The webhook method: POST to a URL, optionally a JSON template, optionally signed.

Config: ``url`` (required), ``template`` (optional JSON text rendered against the event payload),
``secret`` (optional Standard Webhooks signing secret ``whsec_<base64>``; pass ``true`` or
``"generate"`` to have one made), ``format`` (optional: ``quay``, the default, sends the payload
as it is; ``cloudevents`` and ``cloudevents-binary`` send it as a CloudEvent, see ``cloudevents.py``).
The URL is a secret too, since it often carries tokens.

A template is checked at create by rendering the event's sample payload within the work budget
(``template_max_steps``); at send, a rendering past the budget is a failed attempt, retried like any.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, ClassVar

from standardwebhooks.webhooks import Webhook

from regnotify.events import EVENT_KINDS, EventKind, RepositoryRef, UnknownEventError, get_event_kind
from regnotify.events.base import PayloadStyle
from regnotify.methods.base import (
    MASK,
    MethodConfigError,
    NotificationMethod,
    ValidationContext,
    describe,
    type_name,
)
from regnotify.methods.cloudevents import FORMAT_QUAY, FORMATS, cloud_event_request
from regnotify.methods.http_send import post_json, request_summary
from regnotify.methods.sending import Outgoing, Senders, SendResult
from regnotify.methods.template import (
    INLINE_TEMPLATE_CHARS,
    TemplateBudgetError,
    TemplateError,
    compile_template,
    in_template_thread,
    render_body,
)
from regnotify.methods.urls import ensure_public, mask_url, parse_http_url

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
SAMPLE_REGISTRY_HOST = "localhost:5000"  # as ingest's default; only the sample's size depends on it
GENERATED_SECRET_BYTES = 32
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64
MASKED_SECRET = SECRET_PREFIX + MASK


def generate_secret() -> str:
    """A new Standard Webhooks signing secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(GENERATED_SECRET_BYTES)).decode("ascii")


def secret_bytes(secret: str) -> bytes:
    """The key bytes of a ``whsec_`` secret (for signing); ValueError when it is malformed."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("signing secret must start with whsec_")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("signing secret is not valid base64 after whsec_") from exc
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise ValueError(f"signing secret must hold {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The Standard Webhooks ``webhook-signature`` value (``v1,<base64>``) over exactly ``body``."""
    when = datetime.fromtimestamp(timestamp, tz=UTC)
    return _signer(secret).sign(msg_id=msg_id, timestamp=when, data=body.decode("utf-8"))


@lru_cache(maxsize=256)
def _signer(secret: str) -> Webhook:
    """One signer per secret: decoding the key is most of what signing a small body costs."""
    return Webhook(secret_bytes(secret))


def webhook_headers(outgoing: Outgoing, body: bytes, secret: str | None, timestamp: int) -> dict[str, str]:
    """Content type, the event kind and the Standard Webhooks headers (signature when there is a secret)."""
    headers = {
        "Content-Type": "application/json",
        "X-Regnotify-Event": outgoing.event,
        "webhook-id": outgoing.delivery_id,
        "webhook-timestamp": str(timestamp),
    }
    if secret:
        headers["webhook-signature"] = sign(secret, outgoing.delivery_id, timestamp, body)
    return headers


def _check_secret(value: object) -> str | None:
    if value is None or value is False or value == "":
        return None
    if value is True or value == "generate":
        return generate_secret()
    hint = (
        'set secret to true or "generate" to create a signing secret, or give a Standard Webhooks '
        f"secret whsec_<base64 of {MIN_SECRET_BYTES}-{MAX_SECRET_BYTES} bytes>"
    )
    if not isinstance(value, str):
        raise MethodConfigError(f"secret must be a string or true, not {type_name(value)}; {hint}")
    secret = value.strip()
    if len(secret) > 200:
        raise MethodConfigError(f"secret is too long; {hint}")
    try:
        secret_bytes(secret)
    except ValueError as exc:
        raise MethodConfigError(f"{exc}; {hint}") from exc
    return secret


def _check_format(value: object) -> str | None:
    """The body format to store (lower case), or None for the default (``quay``)."""
    if value is None or value == "":
        return None
    valid = ", ".join(FORMATS)
    hint = f"use one of: {valid} (default {FORMAT_QUAY}: the payload as it is)"
    if not isinstance(value, str):
        raise MethodConfigError(f"webhook format must be a string, not {type_name(value)}; {hint}")
    fmt = value.strip().lower()
    if fmt not in FORMATS:
        raise MethodConfigError(f"unknown webhook format {describe(value)}; {hint}")
    return fmt


def _check_template(value: object) -> str | None:
    """The template text to store, parsed and checked (Quay's check: it applies to any payload)."""
    if value is None:
        return None
    if isinstance(value, dict | list):  # a parsed JSON document: store its text, as Quay does
        try:
            compile_template(value)
        except TemplateError as exc:
            raise MethodConfigError(f"webhook template is invalid: {exc}") from exc
        return json.dumps(value)
    if not isinstance(value, str):
        raise MethodConfigError(f"template must be JSON text, not {type_name(value)}")
    if not value.strip():
        return None
    try:
        compile_template(value)
    except TemplateError as exc:
        raise MethodConfigError(f"webhook template is invalid: {exc}") from exc
    return value


def _sample_kinds(ctx: ValidationContext) -> list[EventKind]:
    """The event the notification is for, when the context names it (``event``); else every kind."""
    event = getattr(ctx, "event", None)
    if isinstance(event, str):
        try:
            return [get_event_kind(event)]
        except UnknownEventError:
            pass
    return list(EVENT_KINDS.values())


async def _check_template_work(template: str, ctx: ValidationContext) -> None:
    """Refuse a template that cannot render its event's sample payload within the work budget."""
    settings = ctx.settings
    namespace, _, name = ctx.repository.partition("/")
    repo = RepositoryRef(
        namespace=namespace or ctx.namespace,
        name=name,
        registry_host=settings.registry_host or SAMPLE_REGISTRY_HOST,
        base_url=settings.base_url,
        style=PayloadStyle(updated_tags=settings.updated_tags_format),
    )
    for kind in _sample_kinds(ctx):
        try:
            await render_body(template, kind.sample_payload(repo), max_steps=settings.template_max_steps)
        except TemplateBudgetError as exc:
            raise MethodConfigError(
                f"webhook template is too expensive for the sample {kind.name} event: {exc}"
            ) from None
        except TemplateError as exc:
            raise MethodConfigError(
                f"webhook template fails on the sample {kind.name} event: {exc}"
            ) from None


class WebhookMethod(NotificationMethod):
    """HTTP POST of the event (or the rendered template) to any public URL."""

    name: ClassVar[str] = "webhook"
    title: ClassVar[str] = "Webhook POST"
    allowed_keys: ClassVar[tuple[str, ...]] = ("url", "template", "secret", "format")
    secret_fields: ClassVar[tuple[str, ...]] = ("url", "secret")

    async def _validate(self, config: dict[str, Any], ctx: ValidationContext) -> dict[str, Any]:
        url = parse_http_url(config.get("url"), "webhook")
        fmt = _check_format(config.get("format"))
        value = config.get("template")
        if isinstance(value, dict | list) or (isinstance(value, str) and len(value) > INLINE_TEMPLATE_CHARS):
            template = await in_template_thread(_check_template, value)  # parsing it takes milliseconds
        else:
            template = _check_template(value)
        if template is not None:
            await _check_template_work(template, ctx)
        secret = _check_secret(config.get("secret"))
        await ensure_public(url, ctx, "webhook")
        result: dict[str, Any] = {"url": url.url}
        if template is not None:
            result["template"] = template
        if secret is not None:
            result["secret"] = secret
        if fmt is not None:
            result["format"] = fmt
        return result

    async def send(self, config: dict[str, Any], outgoing: Outgoing, senders: Senders) -> SendResult:
        """POST the payload as stored (or the rendered template), as a CloudEvent when the format
        says so, signed (over the exact bytes sent) when the config has a secret."""
        url = config.get("url")
        if not isinstance(url, str) or not url:
            return SendResult(ok=False, error="webhook config has no url", permanent=True)
        fmt = config.get("format") or FORMAT_QUAY
        if fmt not in FORMATS:
            error = f"webhook format {describe(fmt)} is unknown; use one of: {', '.join(FORMATS)}"
            return SendResult(ok=False, error=error, permanent=True)
        template = config.get("template")
        try:
            if template:
                max_steps = senders.settings.template_max_steps
                body = await render_body(template, outgoing.payload, max_steps=max_steps)
            else:
                body = outgoing.json_body  # encoded once per event, not per notification it fans out to
        except TemplateBudgetError as exc:  # a failure like any other: retried, counts toward disabling
            return SendResult(ok=False, error=f"webhook template could not be rendered: {exc}")
        except (TemplateError, TypeError, ValueError) as exc:
            error = f"webhook template could not be rendered: {exc}"
            return SendResult(ok=False, error=error, permanent=True)
        format_headers: dict[str, str] = {}
        if fmt != FORMAT_QUAY:
            cloud_event = cloud_event_request(fmt, outgoing, senders.settings.base_url, body)
            body, format_headers = cloud_event.body, cloud_event.headers
        secret = config.get("secret")
        secret = secret if isinstance(secret, str) else None
        try:
            headers = webhook_headers(outgoing, body, secret, int(time.time()))
        except (ValueError, UnicodeDecodeError) as exc:
            return SendResult(
                ok=False,
                error=f"webhook signing secret is unusable: {exc}",
                permanent=True,
                request=request_summary(url, {"Content-Type": "application/json"}, body),
            )
        if format_headers:
            headers.update(format_headers)  # as ``{**headers, **format_headers}``, without a copy
        https = url.strip().lower().startswith("https://")
        return await post_json(senders, url, body=body, headers=headers, client_cert=https)

    def mask_value(self, key: str, value: object) -> str:
        return MASKED_SECRET if key == "secret" else mask_url(value)

    def mask_sealed(self, key: str) -> str:
        return MASKED_SECRET if key == "secret" else MASK
