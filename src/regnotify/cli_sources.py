"""``regnotify vulns``: send a scanner's report to a running regnotify over its API.

``regnotify vulns import --format trivy report.json --repo acme/app`` posts the file to
``/api/v1/repository/acme/app/vulnerabilities/import`` and prints the server's answer. It needs
no database access: only the server's URL (REGNOTIFY_URL) and a token (REGNOTIFY_TOKEN), a
user's with write permission or a source token.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn
from urllib.parse import quote

import typer

DEFAULT_URL = "http://127.0.0.1:8080"
PROGRESS_ABOVE = 1_000_000  # bytes: larger files show a progress bar while they are read
CHUNK = 256 * 1024

vulns_app = typer.Typer(help="Vulnerability findings from scanners (Trivy, Clair).", no_args_is_help=True)


class ReportFormat(StrEnum):
    trivy = "trivy"
    clair = "clair"


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def read_report(path: Path) -> bytes:
    """The file's bytes; a progress bar on standard error while a large file is read."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            if size <= PROGRESS_ABOVE:
                return handle.read()
            chunks: list[bytes] = []
            with typer.progressbar(length=size, label=f"reading {path.name}", file=sys.stderr) as bar:
                while chunk := handle.read(CHUNK):
                    chunks.append(chunk)
                    bar.update(len(chunk))
            return b"".join(chunks)
    except OSError as exc:
        _fail(f"cannot read {path}: {exc.strerror or exc}")


def _server_message(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        message = body.get("error_message") or body.get("detail")
        if isinstance(message, str) and message:
            return message
    text = response.text.strip()
    return text[:500] if text else f"HTTP {response.status_code}"


@vulns_app.command("import")
def import_report(
    file: Annotated[Path, typer.Argument(help="The report file (JSON)", dir_okay=False)],
    report_format: Annotated[
        ReportFormat, typer.Option("--format", help="trivy (JSON, SchemaVersion 2) or clair (v4)")
    ],
    repo: Annotated[str, typer.Option("--repo", help="The repository, namespace/name")],
    tag: Annotated[str | None, typer.Option(help="The tag that was scanned")] = None,
    digest: Annotated[
        str | None, typer.Option(help="The manifest digest; default: the one the report names")
    ] = None,
    url: Annotated[
        str, typer.Option(envvar="REGNOTIFY_URL", help="regnotify's address (REGNOTIFY_URL)")
    ] = DEFAULT_URL,
    token: Annotated[
        str | None, typer.Option(envvar="REGNOTIFY_TOKEN", help="Bearer token (REGNOTIFY_TOKEN)")
    ] = None,
) -> None:
    """Import a Trivy or Clair report: one vulnerability_found per vulnerability not seen before."""
    import httpx

    if not token:
        _fail("give a token: --token or REGNOTIFY_TOKEN (a user's with write permission, or a source's)")
    body = read_report(file)
    params = {"format": report_format.value}
    if tag:
        params["tag"] = tag
    if digest:
        params["digest"] = digest
    endpoint = f"{url.rstrip('/')}/api/v1/repository/{quote(repo, safe='/')}/vulnerabilities/import"
    try:
        response = httpx.post(
            endpoint,
            params=params,
            content=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=300,
        )
    except httpx.HTTPError as exc:
        _fail(f"cannot reach regnotify at {url}: {exc}")
    if response.status_code >= 400:
        _fail(f"{_server_message(response)} (HTTP {response.status_code})")
    try:
        answer = response.json()
    except ValueError:
        _fail(f"unexpected answer from {endpoint}: {response.text[:200]}")
    typer.echo(json.dumps(answer))
