"""Vulnerability findings: one event per new (manifest, vulnerability); Trivy and Clair imports."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy import func, select

from regnotify.db import Database
from regnotify.db.models import Delivery, Event, Repository, TagPush, VulnerabilitySighting
from regnotify.db.types import utcnow

from .conftest import World
from .test_events_api import subscribe
from .test_notifications_api import assert_quay_error

FINDINGS = "/api/v1/repository/acme/app/vulnerabilities"
IMPORT = FINDINGS + "/import"
DIGEST = "sha256:" + "d" * 64
OTHER_DIGEST = "sha256:" + "e" * 64
CVE = {
    "id": "CVE-2024-3094",
    "description": "Malicious code in xz",
    "link": "https://nvd.nist.gov/vuln/detail/CVE-2024-3094",
    "priority": "Critical",
    "has_fix": True,
}


async def report(
    client: httpx.AsyncClient, world: World, body: dict[str, Any], who: str = "writer"
) -> httpx.Response:
    return await client.post(FINDINGS, json=body, headers=world.headers(who))


async def stored(database: Database) -> list[dict[str, Any]]:
    async with database.read() as session:
        events = await session.scalars(select(Event).order_by(Event.id))
        return [e.payload for e in events if e.kind == "vulnerability_found"]


async def pushed(database: Database, *pairs: tuple[str, str]) -> None:
    """Tags the repository was last pushed with, as the registry's notifications record them."""
    async with database.write() as session:
        repo = await session.scalar(select(Repository).where(Repository.name == "app"))
        assert repo is not None
        for tag, digest in pairs:
            session.add(TagPush(repository_id=repo.id, tag=tag, digest=digest, notified_at=utcnow()))


async def deliveries_of(database: Database, event_uuid: str) -> int:
    async with database.read() as session:
        query = select(func.count()).select_from(Delivery).join(Event).where(Event.uuid == event_uuid)
        return int(await session.scalar(query) or 0)


async def test_a_finding_in_tags(client: httpx.AsyncClient, world: World, database: Database) -> None:
    response = await report(client, world, {"tags": ["latest", "v1"], "vulnerability": CVE})
    assert response.status_code == 201, response.text
    assert response.json()["recorded"] is True and response.json()["event_id"]
    [payload] = await stored(database)
    assert payload["tags"] == ["latest", "v1"]
    assert payload["vulnerability"] == CVE
    assert payload["repository"] == "acme/app" and payload["docker_url"] == "registry.test:5000/acme/app"
    assert "vulnerable_index_report_created" not in payload
    again = await report(client, world, {"tags": ["v1", "latest"], "vulnerability": CVE})
    assert again.status_code == 200, again.text
    assert again.json() == {"recorded": False, "reason": "already reported for this manifest"}
    other = await report(client, world, {"tags": ["latest"], "vulnerability": {**CVE, "id": "CVE-2"}})
    assert other.status_code == 201
    assert len(await stored(database)) == 2


async def test_a_digest_tagpush_knows_names_its_tags(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    await pushed(database, ("v2", DIGEST), ("latest", DIGEST), ("old", OTHER_DIGEST))
    response = await report(client, world, {"digest": DIGEST, "vulnerability": CVE})
    assert response.status_code == 201, response.text
    [payload] = await stored(database)
    assert payload["tags"] == ["latest", "v2"]
    # The same manifest named by its tag instead: the sighting is keyed by the pushed digest.
    again = await report(client, world, {"tags": ["v2"], "vulnerability": CVE})
    assert again.json()["recorded"] is False
    assert (await report(client, world, {"tags": ["old"], "vulnerability": CVE})).status_code == 201


async def test_an_untagged_digest_is_its_own_tag(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    response = await report(client, world, {"digest": DIGEST, "vulnerability": CVE}, who="service")
    assert response.status_code == 201, response.text
    [payload] = await stored(database)
    assert payload["tags"] == [DIGEST]
    again = await report(client, world, {"digest": DIGEST, "tags": ["x"], "vulnerability": CVE})
    assert again.status_code == 200 and again.json()["recorded"] is False
    async with database.read() as session:
        sightings = list(await session.scalars(select(VulnerabilitySighting)))
    assert [(s.manifest, s.vulnerability_id) for s in sightings] == [(DIGEST, "CVE-2024-3094")]


async def test_level_filter_decides_the_delivery(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    await subscribe(client, world, "vulnerability_found", {"level": "High"})
    critical = await report(client, world, {"tags": ["latest"], "vulnerability": CVE})
    low = await report(
        client, world, {"tags": ["latest"], "vulnerability": {"id": "CVE-9", "priority": "low"}}
    )
    assert (critical.status_code, low.status_code) == (201, 201)
    assert await deliveries_of(database, critical.json()["event_id"]) == 1
    assert await deliveries_of(database, low.json()["event_id"]) == 0
    assert [p["vulnerability"]["priority"] for p in await stored(database)] == ["Critical", "Low"]


async def test_permissions_and_bad_findings(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    body = {"tags": ["latest"], "vulnerability": CVE}
    assert_quay_error(await report(client, world, body, who="reader"), 403)
    assert_quay_error(await report(client, world, body, who="anonymous"), 401)
    assert (await report(client, world, body, who="service")).status_code == 201
    for bad, fragment in (
        ({"tags": ["latest"], "vulnerability": {**CVE, "priority": "Severe"}}, "priority"),
        ({"vulnerability": CVE}, "tags or the digest"),
        ({"tags": [], "vulnerability": CVE}, "tags or the digest"),
        ({"tags": ["-bad"], "vulnerability": CVE}, "tag name"),
        ({"digest": "latest", "vulnerability": CVE}, "digest"),
        ({"tags": ["latest"], "vulnerability": {**CVE, "id": ""}}, "id"),
        ({"tags": ["latest"], "vulnerability": {**CVE, "extra": 1}}, "extra"),
    ):
        assert_quay_error(await report(client, world, bad), 400, fragment)
    assert len(await stored(database)) == 1
    missing = await client.post(
        "/api/v1/repository/acme/ghost/vulnerabilities", json=body, headers=world.headers("service")
    )
    assert_quay_error(missing, 404)


def trivy_report() -> dict[str, Any]:
    def vuln(vuln_id: str, package: str, severity: str, fixed: str = "") -> dict[str, Any]:
        return {
            "VulnerabilityID": vuln_id,
            "PkgName": package,
            "InstalledVersion": "1.0",
            "FixedVersion": fixed,
            "Severity": severity,
            "Title": f"{vuln_id} in {package}",
            "PrimaryURL": f"https://avd.aquasec.com/nvd/{vuln_id.lower()}",
        }

    return {
        "SchemaVersion": 2,
        "ArtifactName": "registry.test:5000/acme/app:latest",
        "ArtifactType": "container_image",
        "Metadata": {"RepoDigests": [f"registry.test:5000/acme/app@{DIGEST}"]},
        "Results": [
            {
                "Target": "acme/app (debian 12.5)",
                "Class": "os-pkgs",
                "Vulnerabilities": [
                    vuln("CVE-2024-0001", "libssl3", "CRITICAL", fixed="3.0.2"),
                    vuln("CVE-2024-0001", "openssl", "CRITICAL", fixed="3.0.2"),
                ],
            },
            {
                "Target": "app/requirements.txt",
                "Class": "lang-pkgs",
                "Vulnerabilities": [vuln("CVE-2024-0002", "requests", "MEDIUM")],
            },
        ],
    }


async def import_report(
    client: httpx.AsyncClient, world: World, report_format: str, document: Any, **params: str
) -> httpx.Response:
    return await client.post(
        IMPORT,
        params={"format": report_format, **params},
        content=json.dumps(document).encode(),
        headers={**world.headers("service"), "Content-Type": "application/json"},
    )


async def test_trivy_import(client: httpx.AsyncClient, world: World, database: Database) -> None:
    await pushed(database, ("latest", DIGEST))
    await subscribe(client, world, "vulnerability_found", {"level": "Medium"})
    response = await import_report(client, world, "trivy", trivy_report())
    assert response.status_code == 200, response.text
    assert response.json() == {"findings": 2, "recorded": 2, "already_seen": 0}
    payloads = await stored(database)
    assert [p["vulnerability"]["id"] for p in payloads] == ["CVE-2024-0001", "CVE-2024-0002"]
    assert payloads[0]["tags"] == ["latest"]
    assert payloads[0]["vulnerability"] == {
        "id": "CVE-2024-0001",
        "description": "CVE-2024-0001 in libssl3",
        "link": "https://avd.aquasec.com/nvd/cve-2024-0001",
        "priority": "Critical",
        "has_fix": True,
    }
    async with database.read() as session:
        assert await session.scalar(select(func.count()).select_from(Delivery)) == 2
    again = await import_report(client, world, "trivy", trivy_report())
    assert again.json() == {"findings": 2, "recorded": 0, "already_seen": 2}
    # Another manifest (the query's digest wins over the report's) is new again; the tag names it.
    moved = await import_report(client, world, "trivy", trivy_report(), digest=OTHER_DIGEST, tag="v3")
    assert moved.json() == {"findings": 2, "recorded": 2, "already_seen": 0}
    assert (await stored(database))[-1]["tags"] == ["v3"]


async def test_clair_import(client: httpx.AsyncClient, world: World, database: Database) -> None:
    clair = {
        "manifest_hash": DIGEST,
        "packages": {"1": {"id": "1", "name": "zlib", "version": "1.2.11"}},
        "distributions": {"1": {"id": "1", "did": "debian", "version_id": "12"}},
        "environments": {"1": [{"package_db": "var/lib/dpkg/status", "distribution_id": "1"}]},
        "package_vulnerabilities": {"1": ["11", "12"]},
        "vulnerabilities": {
            "11": {
                "id": "11",
                "name": "CVE-2022-37434",
                "description": "zlib through 1.2.12 has a heap-based buffer over-read",
                "links": "https://security-tracker.debian.org/tracker/CVE-2022-37434",
                "severity": "critical",
                "normalized_severity": "Critical",
                "fixed_in_version": "1:1.2.13.dfsg-1",
            },
            "12": {
                "id": "12",
                "name": "CVE-2023-45853",
                "description": "MiniZip in zlib",
                "links": "",
                "normalized_severity": "Negligible",
                "fixed_in_version": "",
            },
        },
        "enrichments": {},
    }
    response = await import_report(client, world, "clair", clair)
    assert response.status_code == 200, response.text
    assert response.json() == {"findings": 2, "recorded": 2, "already_seen": 0}
    first, second = await stored(database)
    assert first["tags"] == [DIGEST]
    assert first["vulnerability"]["priority"] == "Critical" and first["vulnerability"]["has_fix"] is True
    assert second["vulnerability"] == {
        "id": "CVE-2023-45853",
        "description": "MiniZip in zlib",
        "priority": "Negligible",
        "has_fix": False,
    }
    assert (await import_report(client, world, "clair", clair)).json()["recorded"] == 0


async def test_bad_imports(client: httpx.AsyncClient, world: World, database: Database) -> None:
    assert_quay_error(await import_report(client, world, "trivy", {"SchemaVersion": 1}), 400, "SchemaVersion")
    assert_quay_error(await import_report(client, world, "clair", trivy_report()), 400, "manifest_hash")
    assert_quay_error(await import_report(client, world, "grype", trivy_report()), 400, "format")
    not_json = await client.post(
        IMPORT, params={"format": "trivy"}, content=b"{nope", headers=world.headers("service")
    )
    assert_quay_error(not_json, 400, "not JSON")
    deep = await client.post(
        IMPORT, params={"format": "trivy"}, content=b"[" * 100_000, headers=world.headers("service")
    )
    assert_quay_error(deep, 400)
    no_digest = trivy_report()
    del no_digest["Metadata"]
    assert_quay_error(await import_report(client, world, "trivy", no_digest), 400, "?digest=")
    assert_quay_error(await import_report(client, world, "trivy", no_digest, tag=".x"), 400, "tag name")
    assert (await import_report(client, world, "trivy", no_digest, tag="latest")).json()["recorded"] == 2
    reader = await client.post(
        IMPORT,
        params={"format": "trivy"},
        content=json.dumps(trivy_report()).encode(),
        headers=world.headers("reader"),
    )
    assert_quay_error(reader, 403)
    assert len(await stored(database)) == 2


def big_trivy_report(count: int) -> dict[str, Any]:
    report = trivy_report()
    template = report["Results"][0]["Vulnerabilities"][0]
    report["Results"] = [
        {
            "Target": "acme/app (debian 12.5)",
            "Class": "os-pkgs",
            "Vulnerabilities": [{**template, "VulnerabilityID": f"CVE-2025-{n:05d}"} for n in range(count)],
        }
    ]
    return report


async def test_big_reports_are_stored_in_chunks_up_to_their_cap(
    client: httpx.AsyncClient, world: World, database: Database, settings: Any
) -> None:
    await pushed(database, ("latest", DIGEST))
    settings.max_report_findings = 250
    refused = await import_report(client, world, "trivy", big_trivy_report(251))
    assert_quay_error(refused, 400, "at most 250")
    assert "REGNOTIFY_MAX_REPORT_FINDINGS" in refused.text and "251 distinct" in refused.text
    assert await stored(database) == []  # nothing of a refused report is kept
    response = await import_report(client, world, "trivy", big_trivy_report(250))  # three chunks
    assert response.json() == {"findings": 250, "recorded": 250, "already_seen": 0}
    assert len(await stored(database)) == 250
