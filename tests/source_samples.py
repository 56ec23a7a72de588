"""Harbor, zot, CloudEvents and Docker Hub payloads for the tests, built on the saved samples.

tests/data/sources/<source>/ holds verbatim copies of the examples in each project's documentation
(see /work/shared/reference/sources.md §12): Harbor's ``configure-webhooks.md`` payloads, zot's
``events.md`` data, the CloudEvents spec's examples, Docker Hub's ``webhooks.md`` example. The
helpers here make the variants those examples do not show (a push with a tag, the platform
manifests of a multi-arch image, a scan that found something, a failed replication), each a small
change to a copy of a sample so that everything else stays as the sender writes it.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data" / "sources"
# The digest in Harbor's push, pull and scan samples.
HARBOR_DIGEST = "sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4"
VULNERABILITY_REPORT = "application/vnd.security.vulnerability.report; version=1.1"


@cache
def _text(source: str, name: str) -> str:
    return (DATA / source / name).read_text()


def sample(source: str, name: str) -> Any:
    """A fresh copy of a saved sample (``sample("harbor", "push-artifact.default.json")``)."""
    return json.loads(_text(source, name))


def digest(char: str) -> str:
    return "sha256:" + char * 64


def harbor_push(
    tag: str | None = "v1",
    digest_: str = HARBOR_DIGEST,
    *,
    occur_at: int = 1680501893,
    repository: str = "harbor/alpine",
) -> dict[str, Any]:
    """Harbor's PUSH_ARTIFACT sample (Default format), pushed with ``tag`` (the sample's own is the
    digest: Harbor's own replication pushed it by digest)."""
    body: dict[str, Any] = sample("harbor", "push-artifact.default.json")
    body["occur_at"] = occur_at
    body["operator"] = "admin"
    namespace, name = repository.split("/", 1)
    body["event_data"]["repository"].update(repo_full_name=repository, namespace=namespace, name=name)
    resource = body["event_data"]["resources"][0]
    resource["digest"] = digest_
    resource["tag"] = tag if tag is not None else digest_
    resource["resource_url"] = f"harbor.example.com/{repository}" + (f":{tag}" if tag else f"@{digest_}")
    return body


def harbor_scan(
    counts: dict[str, int] | None = None,
    *,
    severity: str = "None",
    total: int | None = None,
    fixable: int = 0,
    event_type: str = "SCANNING_COMPLETED",
    digest_: str = HARBOR_DIGEST,
    tag: str | None = None,
) -> dict[str, Any]:
    """Harbor's SCANNING_COMPLETED sample with these findings (``counts`` by Harbor's severity names)."""
    body: dict[str, Any] = sample("harbor", "scanning-completed.default.json")
    body["type"] = event_type
    resource = body["event_data"]["resources"][0]
    resource["digest"] = digest_
    if tag is not None:
        resource["tag"] = tag
    report = resource["scan_overview"][VULNERABILITY_REPORT]
    report["severity"] = severity
    report["summary"] = {
        "total": total if total is not None else sum((counts or {}).values()),
        "fixable": fixable,
        "summary": dict(counts or {}),
    }
    if event_type != "SCANNING_COMPLETED":
        report["scan_status"] = "Error" if event_type == "SCANNING_FAILED" else "Stopped"
    return body


def harbor_replication(job_status: str = "Success", *, fail_reason: str | None = None) -> dict[str, Any]:
    """Harbor's REPLICATION sample with another job status; a failure lists the artifact as failed."""
    body: dict[str, Any] = sample("harbor", "replication.default.json")
    replication = body["event_data"]["replication"]
    replication["job_status"] = job_status
    artifacts = replication.pop("successful_artifact")
    if job_status == "Error":
        artifacts[0]["status"] = "Error"
        if fail_reason is not None:
            artifacts[0]["fail_reason"] = fail_reason
        replication["failed_artifact"] = artifacts
    elif job_status == "Success":
        replication["successful_artifact"] = artifacts
    return body


def as_cloudevent(
    default: dict[str, Any], event_type: str, event_id: str = "66e18103-09c1-41f6-982f-37df223f3eeb"
) -> dict[str, Any]:
    """A Harbor Default-format body in Harbor's CloudEvents format (structured mode), as
    ``formats/cloudevents.go`` makes it: ``data`` is the ``event_data``."""
    envelope: dict[str, Any] = copy.deepcopy(sample("harbor", "delete-artifact.cloudevents.json"))
    envelope.update(id=event_id, type=event_type, data=default["event_data"], operator=default["operator"])
    return envelope


def zot_data(
    reference: str = "latest", digest_: str = digest("b"), *, name: str = "space/my-image"
) -> dict[str, Any]:
    """zot's image-updated data (the body of its binary-mode request), with a real digest (the docs'
    sample has the placeholder ``sha256:abc...``)."""
    data: dict[str, Any] = sample("zot", "image-updated.data.json")
    data.update(name=name, reference=reference, digest=digest_)
    return data


def zot_scanned(reference: str = "latest", digest_: str = digest("b"), **summary: Any) -> dict[str, Any]:
    """zot's image-scanned data as its docs describe it: the image and a ``summary`` of counts."""
    data = zot_data(reference, digest_)
    data.pop("actor"), data.pop("request")
    data["summary"] = {
        "count": 0,
        "fixableCount": 0,
        "unknownCount": 0,
        "lowCount": 0,
        "mediumCount": 0,
        "highCount": 0,
        "criticalCount": 0,
        "maxSeverity": "NONE",
        **summary,
    }
    return data


def zot_headers(
    event_type: str = "zotregistry.image.updated",
    event_id: str = "3f1c1e6a-0000-4000-8000-000000000001",
    *,
    source: str = "zotregistry.dev",
) -> dict[str, str]:
    """The ``ce-*`` headers zot's CloudEvents client sends in binary mode."""
    return {
        "ce-specversion": "1.0",
        "ce-id": event_id,
        "ce-source": source,
        "ce-type": event_type,
        "ce-time": "2026-11-28T12:00:00.123456789Z",
        "Content-Type": "application/json",
    }


def dockerhub_push(
    tag: str = "latest", *, pushed_at: int = 1417566161, repository: str = "svendowideit/testhook"
) -> dict[str, Any]:
    """Docker Hub's documented push delivery with another tag, time or repository."""
    body: dict[str, Any] = sample("dockerhub", "push.docs-example.json")
    namespace, name = repository.split("/", 1)
    body["push_data"].update(tag=tag, pushed_at=pushed_at)
    body["repository"].update(repo_name=repository, namespace=namespace, name=name, owner=namespace)
    return body
