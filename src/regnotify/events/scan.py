"""scan_completed and scan_failed: a security scanner finished scanning an image of the repository, or
did not (Harbor's SCANNING_COMPLETED, SCANNING_FAILED and SCANNING_STOPPED; zot's ``*.image.scanned``).

One event per scan, with its totals; per-vulnerability ``vulnerability_found`` events stay the job of
``regnotify vulns import``. Fields a source may not give (``digest``, ``scanner`` and its parts,
``fixable``, ``reason``) are always in the payload, as null when unknown, so a receiver can tell "the
source did not say" from "zero". docs/events-scan.md describes the fields for people.

A producer builds the payload with the kind's ``build_payload`` (it validates, orders and fills the
repository's common fields) and records it::

    kind = get_event_kind("scan_completed")
    payload = kind.build_payload(
        repository_ref(repository, settings),
        {
            "tags": ["latest"],  # may be [] (scanners often name only the digest)
            "digest": "sha256:…",  # or None
            "scanner": {"name": "Trivy", "vendor": "Aqua Security", "version": "v0.56.1"},  # or None
            "counts": {"critical": 1, "high": 3},  # severities left out count 0
            "total": 4,
            "fixable": 2,  # or None when the source does not say
            "highest_severity": "Critical",  # or highest_severity(counts) when the source gives none
        },
    )
    await record_event(session, repository, kind, payload, source=..., external_id=...)

``scan_failed`` takes ``tags``, ``digest``, ``scanner``, ``status`` ("failed" or "stopped") and
``reason``. A bad value raises ``PayloadError`` saying which field and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator

from regnotify.events.base import EventKind, Level
from regnotify.events.common import MAX_ITEMS, Digest, EventData, TagName, Text
from regnotify.events.filters import SeverityLevelFilter
from regnotify.events.payload import short
from regnotify.events.priorities import PRIORITIES, Priority, canonical_priority, priority_level
from regnotify.events.reading import field, integer, repository, strings, tag_list, text
from regnotify.events.rendering import render_html

NOTHING_FOUND = "None"  # highest_severity of a scan that found no vulnerability (Harbor's word for it)
MAX_COUNT = 2**31 - 1
SHORT_DIGEST = len("sha256:") + 12
MAX_REASON_IN_SUMMARY = 200

Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
HighestSeverity = Literal[Priority, "None"]
ScanStatus = Literal["failed", "stopped"]


def highest_severity(counts: Mapping[str, object]) -> str:
    """The most severe priority with a count above zero in ``counts`` (keys are severity names in any
    case: "critical", "Critical"), or "None" when there is none: for a source that gives counts only."""
    by_name = {key.lower(): value for key, value in counts.items() if isinstance(key, str)}
    for name in PRIORITIES:
        value = by_name.get(name.lower())
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return name
    return NOTHING_FOUND


class Scanner(EventData):
    """The scanner as the source names it; any part may be unknown."""

    name: Text | None = None
    vendor: Text | None = None
    version: Text | None = None


class SeverityCounts(EventData):
    """How many vulnerabilities of each severity (``PRIORITIES``, in lower case) the scan found."""

    critical: Count = 0
    high: Count = 0
    medium: Count = 0
    low: Count = 0
    negligible: Count = 0
    unknown: Count = 0


class ScannedImage(EventData):
    """What was scanned: the tags (often none: scanners report the digest) and the manifest digest."""

    tags: Annotated[list[TagName], Field(max_length=MAX_ITEMS)] = Field(default_factory=list)
    digest: Digest | None = None
    scanner: Scanner | None = None


class ScanCompletedData(ScannedImage):
    counts: SeverityCounts
    total: Count
    fixable: Count | None = None
    highest_severity: HighestSeverity

    @field_validator("highest_severity", mode="before")
    @classmethod
    def _canonical_severity(cls, value: object) -> object:
        """Severity names in any case: "critical" or "CRITICAL" is "Critical", "none" is "None"."""
        if isinstance(value, str) and value.strip().lower() == NOTHING_FOUND.lower():
            return NOTHING_FOUND
        return canonical_priority(value) or value


class ScanFailedData(ScannedImage):
    status: ScanStatus
    reason: Text | None = None


SAMPLE_DIGEST = "sha256:f9710cfe5f7d1f3a6b9278c65c82c18775b73e74f5a578def9658278169aaf5c"
SAMPLE_SCANNER: dict[str, Any] = {"name": "Trivy", "vendor": "Aqua Security", "version": "v0.56.1"}

IMAGE_HTML = """\
{% from "macros.html" import link, tags %}
{% macro image() -%}
repository {{ link(homepage, repository) }}\
{% if tag_names or digest %} (\
{% if tag_names %}tag{{ "s" if tag_names | length != 1 }} {{ tags(tag_names) }}{% endif %}\
{% if tag_names and digest %}, {% endif %}\
{% if digest %}digest <code>{{ digest }}</code>{% endif %})\
{% endif %}
{%- endmacro %}
"""

COMPLETED_HTML = (
    IMAGE_HTML
    + """\
<p>Scan of {{ image() }} \
{% if found %}found {{ found }}.{% else %}completed: see the scanner's report.{% endif %}</p>
{% if breakdown or fixable is not none %}<p>{{ breakdown }}\
{% if breakdown and fixable is not none %}. {% endif %}\
{% if fixable is not none %}{{ fixable }} \
{{ "have" if fixable != 1 else "has" }} a fix available{% endif %}.</p>
{% endif %}
{% if scanner %}<p>Scanner: {{ scanner }}</p>{% endif %}
"""
)

FAILED_HTML = (
    IMAGE_HTML
    + """\
<p>Scan of {{ image() }} {{ outcome }}{% if reason %}: {{ reason }}{% else %}.{% endif %}</p>
{% if scanner %}<p>Scanner: {{ scanner }}</p>{% endif %}
"""
)


class ScanEvent(EventKind):
    """What both scan kinds share: the scanned image and the scanner, told the same way."""

    keeps_nulls: ClassVar[bool] = True

    def image_reference(self, payload: Mapping[str, Any]) -> str:
        """``acme/app:latest``, ``acme/app:latest (and 2 more tags)``, ``acme/app@sha256:0123456789ab``
        or ``acme/app``: the image in one short line."""
        name = repository(payload)
        tags = strings(payload, "tags")
        if tags:
            more = len(tags) - 1
            return f"{name}:{tags[0]}" + (f" (and {more} more tag{'s' if more != 1 else ''})" if more else "")
        digest = text(payload, "digest")
        return f"{name}@{digest[:SHORT_DIGEST]}" if digest else name

    def scanner_label(self, payload: Mapping[str, Any]) -> str:
        """``Trivy v0.56.1 (Aqua Security)`` with whatever parts are known; empty when none is."""
        name = text(payload, "scanner", "name")
        version = text(payload, "scanner", "version")
        vendor = text(payload, "scanner", "vendor")
        label = " ".join(part for part in (name, version) if part)
        if vendor:
            label = f"{label} ({vendor})" if label else vendor
        return label

    def image_context(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "homepage": text(payload, "homepage"),
            "repository": repository(payload),
            "tag_names": strings(payload, "tags"),
            "digest": text(payload, "digest"),
            "scanner": self.scanner_label(payload),
        }

    def image_text(self, payload: Mapping[str, Any]) -> str:
        """``repository acme/app (tag latest, digest sha256:…)`` for plain-text messages."""
        tags = strings(payload, "tags")
        digest = text(payload, "digest")
        details = []
        if tags:
            details.append(f"tag{'s' if len(tags) != 1 else ''} {tag_list(tags)}")
        if digest:
            details.append(f"digest {digest}")
        return f"repository {repository(payload)}" + (f" ({', '.join(details)})" if details else "")

    def trailer_lines(self, payload: Mapping[str, Any]) -> list[str]:
        lines = []
        scanner = self.scanner_label(payload)
        if scanner:
            lines.append(f"Scanner: {scanner}")
        homepage = text(payload, "homepage")
        if homepage:
            lines.append(f"Repository: {homepage}")
        return lines


class ScanCompleted(ScanEvent):
    name: ClassVar[str] = "scan_completed"
    title: ClassVar[str] = "Security Scan Completed"
    description: ClassVar[str] = "A security scanner finished scanning an image of the repository"
    model = ScanCompletedData
    filters = (
        SeverityLevelFilter(
            ("highest_severity",), "scans whose most severe finding is of that priority or more severe"
        ),
    )
    sample_data: ClassVar[dict[str, Any]] = {
        "tags": ["latest"],
        "digest": SAMPLE_DIGEST,
        "scanner": SAMPLE_SCANNER,
        "counts": {"critical": 1, "high": 3, "medium": 5, "low": 2, "negligible": 0, "unknown": 1},
        "total": 12,
        "fixable": 5,
        "highest_severity": "Critical",
    }

    def _highest(self, payload: Mapping[str, Any]) -> str | None:
        """The highest severity when it names a priority; None for "None" or anything odd."""
        return canonical_priority(field(payload, "highest_severity"))

    def level(self, payload: Mapping[str, Any]) -> Level:
        """A clean scan is good news; otherwise as alarming as its most severe finding."""
        if field(payload, "highest_severity") == NOTHING_FOUND and not integer(payload, "total"):
            return "success"
        return priority_level(field(payload, "highest_severity"))

    def _found(self, payload: Mapping[str, Any]) -> str:
        """``12 vulnerabilities, the most severe Critical``, ``1 High vulnerability``, ``no
        vulnerabilities``, or empty when the payload does not say how many."""
        total = integer(payload, "total")
        if total is None:
            return ""
        if total == 0:
            return "no vulnerabilities"
        highest = self._highest(payload)
        if total == 1:
            return f"1 {highest} vulnerability" if highest else "1 vulnerability"
        return f"{total} vulnerabilities" + (f", the most severe {highest}" if highest else "")

    def _breakdown(self, payload: Mapping[str, Any]) -> str:
        """``Critical: 1, High: 3, Low: 2``: the severities with a count above zero."""
        parts = []
        for name in PRIORITIES:
            count = integer(payload, "counts", name.lower())
            if count:
                parts.append(f"{name}: {count}")
        return ", ".join(parts)

    def _summary(self, payload: Mapping[str, Any]) -> str:
        found = self._found(payload)
        image = self.image_reference(payload)
        return f"Scan of {image} found {found}" if found else f"Scan of {image} completed"

    def _fixable(self, payload: Mapping[str, Any]) -> int | None:
        """How many findings have a fix, when the source says and there are findings to speak of."""
        return integer(payload, "fixable") if integer(payload, "total") != 0 else None

    def html_message(self, payload: Mapping[str, Any]) -> str:
        return render_html(
            COMPLETED_HTML,
            **self.image_context(payload),
            found=self._found(payload),
            breakdown=self._breakdown(payload),
            fixable=self._fixable(payload),
        )

    def text_message(self, payload: Mapping[str, Any]) -> str:
        found = self._found(payload)
        lines = [
            f"Scan of {self.image_text(payload)} found {found}."
            if found
            else (f"Scan of {self.image_text(payload)} completed: see the scanner's report.")
        ]
        breakdown = self._breakdown(payload)
        if breakdown:
            lines.append(breakdown)
        fixable = self._fixable(payload)
        if fixable is not None:
            lines.append(f"With a fix available: {fixable}")
        return "\n".join(lines + self.trailer_lines(payload))


class ScanFailed(ScanEvent):
    name: ClassVar[str] = "scan_failed"
    title: ClassVar[str] = "Security Scan Failed"
    description: ClassVar[str] = "A security scan of an image of the repository failed or was stopped"
    model = ScanFailedData
    sample_data: ClassVar[dict[str, Any]] = {
        "tags": ["latest"],
        "digest": SAMPLE_DIGEST,
        "scanner": SAMPLE_SCANNER,
        "status": "failed",
        "reason": "failed to download the vulnerability database: context deadline exceeded",
    }

    def level(self, payload: Mapping[str, Any]) -> Level:
        """Stopped is someone's choice (a warning); failed, or anything else, is an error."""
        return "warning" if field(payload, "status") == "stopped" else "error"

    def _outcome(self, payload: Mapping[str, Any]) -> str:
        return "was stopped" if field(payload, "status") == "stopped" else "failed"

    def _summary(self, payload: Mapping[str, Any]) -> str:
        reason = text(payload, "reason")
        summary = f"Scan of {self.image_reference(payload)} {self._outcome(payload)}"
        return f"{summary}: {short(reason, MAX_REASON_IN_SUMMARY)}" if reason else summary

    def html_message(self, payload: Mapping[str, Any]) -> str:
        return render_html(
            FAILED_HTML,
            **self.image_context(payload),
            outcome=self._outcome(payload),
            reason=text(payload, "reason"),
        )

    def text_message(self, payload: Mapping[str, Any]) -> str:
        reason = text(payload, "reason")
        first = f"Scan of {self.image_text(payload)} {self._outcome(payload)}"
        lines = [f"{first}: {reason}" if reason else f"{first}."]
        return "\n".join(lines + self.trailer_lines(payload))
