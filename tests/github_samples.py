"""GitHub ``package`` deliveries for the tests, built on octokit's example payload
(tests/data/sources/github/package.published.docker.json, a verbatim copy of octokit/webhooks
``payload-examples/api.github.com/package/published.docker.payload.json``).

That example is synthetic: ``package_type`` "npm" beside ``ecosystem`` "docker", an empty tag name,
a ``container_metadata.manifest.digest`` unlike the version's. ``delivery`` makes the variants a real
GHCR push sends (package_type CONTAINER, a tag, or none for a multi-arch image's platform manifests),
and the legacy ``registry_package`` event, which carries the same object under that key.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from functools import cache
from pathlib import Path
from typing import Any

SAMPLE = Path(__file__).parent / "data" / "sources" / "github" / "package.published.docker.json"
SAMPLE_DIGEST = "sha256:3da1996a8115d7616457760d9920b815241d0a03b34cf5f04e9a0e9d8de37498"


@cache
def _sample_text() -> str:
    return SAMPLE.read_text()


def sample() -> dict[str, Any]:
    """The octokit example as it is (a fresh copy)."""
    return json.loads(_sample_text())  # type: ignore[no-any-return]


def delivery(
    *,
    tag: str | None = "v1",
    digest: str = SAMPLE_DIGEST,
    owner: str = "Codertocat",
    name: str = "hello-world",
    event: str = "package",
    action: str = "published",
    package_type: str = "CONTAINER",
    ecosystem: str = "CONTAINER",
) -> dict[str, Any]:
    """The example made a real GHCR push of ``owner/name:tag`` at ``digest`` (``tag`` None or "": a
    manifest without a tag, as a multi-arch image's platform manifests arrive)."""
    body = copy.deepcopy(sample())
    package = body.pop("package")
    package.update(name=name, package_type=package_type, ecosystem=ecosystem)
    package["owner"]["login"] = owner
    version = package["package_version"]
    version.update(name=digest, version=digest)
    version["container_metadata"]["tag"] = {"name": tag or "", "digest": digest}
    version["package_url"] = f"ghcr.io/{owner}/{name}:{tag or ''}"
    body["action"] = action
    body[event] = package
    return body


def sign(secret: str, body: bytes) -> str:
    """GitHub's ``X-Hub-Signature-256`` header value for ``body``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def headers(
    secret: str | None, body: bytes, *, event: str = "package", delivery_id: str = "d-1"
) -> dict[str, str]:
    """The headers GitHub sends with ``body`` (signed with ``secret`` unless it is None)."""
    sent = {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/044aadd",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id,
        "X-GitHub-Hook-ID": "292430182",
    }
    if secret is not None:
        sent["X-Hub-Signature-256"] = sign(secret, body)
    return sent
