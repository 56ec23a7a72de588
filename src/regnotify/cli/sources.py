"""Commands for scripts and CI jobs that talk to a running regnotify over its API.

``regnotify emit``, ``regnotify build queue|phase`` and ``regnotify vulns import`` post to the API
and print the server's answer; on an error they print its message and exit 1. They need no
database access: only the server's URL (REGNOTIFY_URL) and a token (REGNOTIFY_TOKEN), a user's
with write permission or a source token.
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
build_app = typer.Typer(
    help="Builds a CI system reports: queue one, then report its phases.", no_args_is_help=True
)

UrlOption = Annotated[str, typer.Option(envvar="REGNOTIFY_URL", help="regnotify's address (REGNOTIFY_URL)")]
TokenOption = Annotated[
    str | None, typer.Option(envvar="REGNOTIFY_TOKEN", help="Bearer token (REGNOTIFY_TOKEN)")
]
RepoOption = Annotated[str, typer.Option("--repo", help="The repository, namespace/name")]


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
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
) -> None:
    """Import a Trivy or Clair report: one vulnerability_found per vulnerability not seen before."""
    params = {"format": report_format.value}
    if tag:
        params["tag"] = tag
    if digest:
        params["digest"] = digest
    call(url, token, f"/repository/{quote(repo, safe='/')}/vulnerabilities/import", read_report(file), params)


def call(url: str, token: str | None, path: str, body: bytes, params: dict[str, str] | None = None) -> Any:
    """POST ``body`` (JSON) to ``/api/v1{path}``, print the answer, and return it; exit 1 with the
    server's message on an error."""
    import httpx

    if not token:
        _fail("give a token: --token or REGNOTIFY_TOKEN (a user's with write permission, or a source's)")
    endpoint = f"{url.rstrip('/')}/api/v1{path}"
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
    return answer


def read_json_argument(source: str) -> Any:
    """JSON from a file, or from standard input for ``-``."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
    except OSError as exc:
        _fail(f"cannot read {source}: {exc.strerror or exc}")
    try:
        return json.loads(text)
    except ValueError as exc:
        _fail(f"{source} is not JSON: {exc}")


def emit(
    kind: Annotated[str, typer.Argument(help="Event kind, e.g. repo_push or build_failure")],
    repo: RepoOption,
    data: Annotated[str, typer.Option(help="The event's own fields as JSON: a file, or - for stdin")],
    event_id: Annotated[
        str | None, typer.Option("--id", help="Your id: re-sending it notifies nobody twice")
    ] = None,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
) -> None:
    """Post one event of any kind (the generic events API)."""
    body: dict[str, Any] = {"kind": kind, "data": read_json_argument(data)}
    if event_id:
        body["id"] = event_id
    call(url, token, f"/repository/{quote(repo, safe='/')}/events", json.dumps(body).encode())


@build_app.command("queue")
def build_queue(
    repo: RepoOption,
    tag: Annotated[list[str], typer.Option("--tag", help="A tag the build pushes (repeat)")],
    manual: Annotated[bool, typer.Option("--manual", help="Started by a person, not a trigger")] = False,
    build_name: Annotated[str | None, typer.Option(help="A name for the build")] = None,
    trigger_kind: Annotated[str | None, typer.Option(help="e.g. github, gitlab, custom-git")] = None,
    trigger_metadata: Annotated[
        str | None, typer.Option(help="trigger_metadata as JSON: a file, or - for stdin")
    ] = None,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
) -> None:
    """Report a queued build; prints it, with the build id the phases need."""
    body: dict[str, Any] = {"docker_tags": tag, "is_manual": manual}
    if build_name:
        body["build_name"] = build_name
    if trigger_kind:
        body["trigger_kind"] = trigger_kind
    if trigger_metadata:
        body["trigger_metadata"] = read_json_argument(trigger_metadata)
    call(url, token, f"/repository/{quote(repo, safe='/')}/builds", json.dumps(body).encode())


@build_app.command("phase")
def build_phase(
    repo: RepoOption,
    build_id: Annotated[str, typer.Argument(help="The id `build queue` printed")],
    phase: Annotated[str, typer.Argument(help="started, success, failure or cancelled")],
    error: Annotated[str | None, typer.Option(help="Why it failed (failure)")] = None,
    digest: Annotated[list[str] | None, typer.Option("--digest", help="A manifest digest it pushed")] = None,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
) -> None:
    """Report a build's phase: queued → started → success | failure | cancelled."""
    body: dict[str, Any] = {"phase": phase}
    if error:
        body["error_message"] = error
    if digest:
        body["manifest_digests"] = digest
    path = f"/repository/{quote(repo, safe='/')}/builds/{quote(build_id, safe='')}/phase"
    call(url, token, path, json.dumps(body).encode())
