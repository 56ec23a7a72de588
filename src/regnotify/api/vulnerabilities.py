"""Vulnerability findings from scanners: one finding at a time, or a whole Trivy or Clair report.

Each new (repository, manifest, vulnerability id) stores one ``vulnerability_found`` event and
queues its deliveries; a finding seen before notifies nobody again.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from regnotify.accounts import Role
from regnotify.api.auth import CurrentPrincipal, mark_token_used, repository_for
from regnotify.api.context import Services, services
from regnotify.api.errors import ApiError
from regnotify.api.json_body import parse_json_body
from regnotify.events import EventError
from regnotify.events.common import TagName
from regnotify.events.priorities import canonical_priority
from regnotify.events.vulnerability import Priority
from regnotify.ingest.reports import PARSERS, Finding, ReportError
from regnotify.ingest.vulnerabilities import record_finding, record_finding_at, resolve_target

REPORT_CHUNK = 100  # findings stored per write transaction

router = APIRouter(tags=["vulnerabilities"])
ServicesDep = Annotated[Services, Depends(services)]
BASE = "/repository/{repository:path}/vulnerabilities"
ALREADY_REPORTED = "already reported for this manifest"


class VulnerabilityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=255, description="e.g. CVE-2024-3094")
    description: str | None = Field(default=None, max_length=65536)
    link: str | None = Field(default=None, max_length=4096, description="Where to read about it")
    priority: Priority = Field(description="Critical, High, Medium, Low, Negligible or Unknown")
    has_fix: bool | None = None

    @field_validator("priority", mode="before")
    @classmethod
    def _canonical_priority(cls, value: object) -> object:
        return canonical_priority(value) or value


class FindingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tags: list[TagName] | None = Field(default=None, max_length=1000, description="Tags it was found in")
    digest: str | None = Field(default=None, max_length=255, description="Manifest digest it was found in")
    vulnerability: VulnerabilityIn


class FindingReceipt(BaseModel):
    recorded: bool
    event_id: str | None = None
    reason: str | None = None


class ImportReceipt(BaseModel):
    findings: int
    recorded: int
    already_seen: int


@router.post(
    BASE,
    status_code=201,
    response_model=FindingReceipt,
    response_model_exclude_none=True,
    responses={200: {"description": "Already reported for this manifest: nothing was queued"}},
)
async def post_finding(
    repository: str, body: FindingIn, principal: CurrentPrincipal, svc: ServicesDep, response: Response
) -> dict[str, Any]:
    """Report one vulnerability found in the tags or manifest digest of the repository."""
    if not body.tags and not body.digest:
        raise ApiError(400, "give the tags or the digest of the manifest the vulnerability was found in")
    async with svc.db.write() as session:
        repo = await repository_for(session, principal, repository, Role.WRITE, service_allowed=True)
        try:
            recorded = await record_finding(
                session,
                repo,
                tags=body.tags,
                digest=body.digest,
                vulnerability=body.vulnerability.model_dump(exclude_none=True),
                settings=svc.settings,
                source=principal.label,
            )
        except EventError as exc:
            raise ApiError(400, str(exc)) from None
        await mark_token_used(session, principal)
        if recorded is None:
            response.status_code = 200
            return {"recorded": False, "reason": ALREADY_REPORTED}
        return {"recorded": True, "event_id": recorded.event.uuid}


@router.post(
    BASE + "/import",
    response_model=ImportReceipt,
    openapi_extra={"requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}}},
)
async def import_report(
    repository: str,
    request: Request,
    principal: CurrentPrincipal,
    svc: ServicesDep,
    format: Annotated[Literal["trivy", "clair"], Query(description="The report's format")],
    tag: Annotated[str | None, Query(max_length=128, description="The tag that was scanned")] = None,
    digest: Annotated[
        str | None, Query(max_length=255, description="The manifest digest; else the report's")
    ] = None,
) -> dict[str, int]:
    """Import a Trivy JSON (SchemaVersion 2) or Clair v4 report: one event per new vulnerability.

    The report is parsed before any transaction opens, and its findings are stored
    ``REPORT_CHUNK`` at a time, a short write transaction each, so a big report never holds the
    write turn long. A finding is stored once per manifest, so a report sent again after a
    failure part-way records only what is still missing."""
    tags = [tag] if tag else None
    async with svc.db.read() as session:  # who may import, before reading a megabyte of report
        await repository_for(session, principal, repository, Role.WRITE, service_allowed=True)
    findings = _parse(format, await request.body())
    limit = svc.settings.max_report_findings
    if len(findings) > limit:
        raise ApiError(
            400,
            f"the {format} report holds {len(findings)} distinct vulnerabilities; at most {limit} are "
            "imported from one report (setting REGNOTIFY_MAX_REPORT_FINDINGS): split it, e.g. per image",
        )
    found_in = digest or next((f.digest for f in findings if f.digest), None)
    if findings and not tags and not found_in:
        raise ApiError(400, f"the {format} report names no manifest digest: give ?digest= or ?tag=")
    recorded = 0
    for start in range(0, max(len(findings), 1), REPORT_CHUNK):
        async with svc.db.write() as session:
            repo = await repository_for(session, principal, repository, Role.WRITE, service_allowed=True)
            chunk = findings[start : start + REPORT_CHUNK]
            try:
                target = await resolve_target(session, repo, tags=tags, digest=found_in) if chunk else None
            except EventError as exc:
                raise ApiError(400, str(exc)) from None
            for finding in chunk:
                assert target is not None
                try:
                    outcome = await record_finding_at(
                        session,
                        repo,
                        target,
                        vulnerability=finding.vulnerability(),
                        settings=svc.settings,
                        source=principal.label,
                    )
                except EventError as exc:
                    raise ApiError(400, f"vulnerability {finding.id}: {exc}") from None
                recorded += outcome is not None
            await mark_token_used(session, principal)
    return {"findings": len(findings), "recorded": recorded, "already_seen": len(findings) - recorded}


def _parse(report_format: str, body: bytes) -> list[Finding]:
    document = parse_json_body(body, f"the {report_format} report as written")
    try:
        return PARSERS[report_format](document)
    except ReportError as exc:
        raise ApiError(400, f"not a usable {report_format} report: {exc}") from None
