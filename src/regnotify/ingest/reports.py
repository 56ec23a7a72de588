"""Scanner reports → findings: Trivy JSON (SchemaVersion 2) and Clair v4 vulnerability reports.

Pure functions over parsed JSON. A document of the wrong shape raises ReportError saying what
is wrong and where; no other exception escapes, whatever JSON value comes in. Each finding is
one distinct vulnerability id (the first occurrence wins when several packages share a CVE),
with its severity in Quay's priority names and its link kept only when it is http(s).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from regnotify.events.priorities import canonical_priority

MAX_DESCRIPTION = 4000
MAX_ID = 255
MAX_LINK = 2048
# OCI image-spec digest grammar: algorithm ":" encoded.
DIGEST_PATTERN = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")


class ReportError(ValueError):
    """The document is not a report of the expected format; the message says what is wrong."""


@dataclass(frozen=True)
class Finding:
    """One vulnerability of a report, as a ``vulnerability_found`` event carries it."""

    id: str
    description: str | None
    link: str | None
    priority: str
    has_fix: bool
    digest: str | None

    def vulnerability(self) -> dict[str, Any]:
        """The event's ``vulnerability`` object (absent description and link left out)."""
        data: dict[str, Any] = {"id": self.id}
        if self.description:
            data["description"] = self.description
        if self.link:
            data["link"] = self.link
        data["priority"] = self.priority
        data["has_fix"] = self.has_fix
        return data


def clean(value: str) -> str:
    """The text without NUL characters and lone surrogates, which no database stores."""
    return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def priority_of(value: object) -> str:
    """Quay's priority name for a scanner severity, case-insensitively; anything else is Unknown."""
    return canonical_priority(value) or "Unknown"


def http_link(value: str | None) -> str | None:
    if value is None:
        return None
    link = clean(value).strip()
    if len(link) > MAX_LINK or any(c.isspace() for c in link):
        return None
    return link if re.match(r"https?://[^/\s]", link, re.IGNORECASE) else None


def digest_of(value: str | None) -> str | None:
    """The digest when ``value`` is one (``repo@`` prefix allowed), else None."""
    if value is None:
        return None
    candidate = value.rsplit("@", 1)[-1].strip()
    if len(candidate) <= MAX_ID and DIGEST_PATTERN.fullmatch(candidate):
        return candidate
    return None


def _where(path: Iterable[object]) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(".")


def _optional_text(data: dict[str, Any], key: str, path: tuple[object, ...]) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ReportError(f"{_where((*path, key))} must be a string, not {type(value).__name__}")
    return value


def _object(value: object, path: tuple[object, ...], what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        where = _where(path) or "the document"
        raise ReportError(f"{where} must be {what} (a JSON object), not {type(value).__name__}")
    return value


def _optional_list(data: dict[str, Any], key: str, path: tuple[object, ...]) -> list[Any]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ReportError(f"{_where((*path, key))} must be a list, not {type(value).__name__}")
    return value


def _vulnerability_id(value: object, path: tuple[object, ...]) -> str:
    if not isinstance(value, str) or not clean(value).strip():
        raise ReportError(f"{_where(path)} must be a non-empty string (the vulnerability id)")
    vuln_id = clean(value).strip()
    if len(vuln_id) > MAX_ID:
        raise ReportError(f"{_where(path)} is longer than {MAX_ID} characters")
    return vuln_id


def _description(value: str | None) -> str | None:
    if value is None:
        return None
    text = clean(value).strip()
    return text[:MAX_DESCRIPTION] or None


def _distinct(findings: Iterator[Finding]) -> list[Finding]:
    seen: dict[str, Finding] = {}
    for finding in findings:
        seen.setdefault(finding.id, finding)
    return list(seen.values())


def parse_trivy(doc: object) -> list[Finding]:
    """Findings of a Trivy JSON report (``trivy image --format json``, SchemaVersion 2)."""
    report = _object(doc, (), "a Trivy JSON report")
    version = report.get("SchemaVersion")
    if version is None:
        raise ReportError("not a Trivy JSON report: SchemaVersion is missing")
    if type(version) is not int or version != 2:
        shown = str(version) if type(version) is int and abs(version) < 10**6 else type(version).__name__
        raise ReportError(f"Trivy SchemaVersion {shown} is not supported: only 2 is")
    digest = _trivy_digest(report)
    return _distinct(_trivy_findings(report, digest))


def _trivy_digest(report: dict[str, Any]) -> str | None:
    metadata = report.get("Metadata")
    if metadata is None:
        return None
    metadata = _object(metadata, ("Metadata",), "an object")
    for index, entry in enumerate(_optional_list(metadata, "RepoDigests", ("Metadata",))):
        if not isinstance(entry, str):
            raise ReportError(f"Metadata.RepoDigests[{index}] must be a string such as repo@sha256:…")
        found = digest_of(entry)
        if found is not None:
            return found
    return None


def _trivy_findings(report: dict[str, Any], digest: str | None) -> Iterator[Finding]:
    for r, result in enumerate(_optional_list(report, "Results", ())):
        result_path: tuple[object, ...] = ("Results", r)
        result = _object(result, result_path, "a result")
        for v, vuln in enumerate(_optional_list(result, "Vulnerabilities", result_path)):
            path = (*result_path, "Vulnerabilities", v)
            vuln = _object(vuln, path, "a vulnerability")
            description = _optional_text(vuln, "Description", path) or _optional_text(vuln, "Title", path)
            link = http_link(_optional_text(vuln, "PrimaryURL", path))
            if link is None:
                for reference in _optional_list(vuln, "References", path):
                    link = http_link(reference) if isinstance(reference, str) else None
                    if link is not None:
                        break
            yield Finding(
                id=_vulnerability_id(vuln.get("VulnerabilityID"), (*path, "VulnerabilityID")),
                description=_description(description),
                link=link,
                priority=priority_of(vuln.get("Severity")),
                has_fix=bool((_optional_text(vuln, "FixedVersion", path) or "").strip()),
                digest=digest,
            )


def parse_clair(doc: object) -> list[Finding]:
    """Findings of a Clair v4 vulnerability report (``GET /matcher/api/v1/vulnerability_report/…``)."""
    report = _object(doc, (), "a Clair vulnerability report")
    if "manifest_hash" not in report:
        raise ReportError("not a Clair vulnerability report: manifest_hash is missing")
    manifest_hash = report["manifest_hash"]
    if manifest_hash is not None and not isinstance(manifest_hash, str):
        raise ReportError("manifest_hash must be a string such as sha256:…")
    digest = digest_of(manifest_hash)
    vulnerabilities = report.get("vulnerabilities")
    if vulnerabilities is None:
        return []
    vulnerabilities = _object(vulnerabilities, ("vulnerabilities",), "a map of vulnerabilities")
    return _distinct(_clair_findings(vulnerabilities, digest))


def _clair_findings(vulnerabilities: dict[str, Any], digest: str | None) -> Iterator[Finding]:
    for key, vuln in vulnerabilities.items():
        path: tuple[object, ...] = ("vulnerabilities", key)
        vuln = _object(vuln, path, "a vulnerability")
        vuln_id = _vulnerability_id(vuln.get("name"), (*path, "name"))
        links = _optional_text(vuln, "links", path) or ""
        yield Finding(
            id=vuln_id,
            description=_description(_optional_text(vuln, "description", path)),
            link=next((link for link in map(http_link, links.split()) if link), None),
            priority=priority_of(vuln.get("normalized_severity")),
            has_fix=bool((_optional_text(vuln, "fixed_in_version", path) or "").strip()),
            digest=digest,
        )


PARSERS: dict[str, Callable[[object], list[Finding]]] = {"trivy": parse_trivy, "clair": parse_clair}
