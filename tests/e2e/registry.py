"""Real parts for the end-to-end tests, all on 127.0.0.1 and bounded in time.

- ``Regnotify``: ``regnotify serve`` as a subprocess on SQLite in a temporary directory, and its CLI.
- ``Registry``: CNCF Distribution 2.8 (Debian's ``docker-registry``) with a notification endpoint
  pointing at regnotify, and its delivery counters from ``/debug/vars``.
- ``write_oci_image``: a one-layer OCI image layout written with Python only.
- ``Skopeo``: ``skopeo copy`` and ``skopeo inspect`` against the registry, isolated from the
  machine's containers configuration.
- ``Capture``: a local aiohttp server recording the webhook and Slack posts regnotify sends.

Every long-running process writes to a log file; ``Service.log`` returns it for diagnostics.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
from aiohttp import web

REGISTRY_BINARY = "docker-registry"
SKOPEO_BINARY = "skopeo"
REGNOTIFY = [sys.executable, "-m", "regnotify.cli"]
STARTUP_SECONDS = 30.0
COMMAND_SECONDS = 60.0
LOG_TAIL_CHARS = 12_000

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def missing_tools() -> list[str]:
    """The real parts this machine lacks (empty when the end-to-end tests can run)."""
    return [name for name in (REGISTRY_BINARY, SKOPEO_BINARY) if shutil.which(name) is None]


def wait_until(check: Callable[[], bool], seconds: float, what: str, interval: float = 0.1) -> None:
    """Poll ``check`` until it is true; AssertionError naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:g}s waiting for {what}")
        time.sleep(interval)


# -- long-running processes --------------------------------------------------------------------


class Service:
    """A subprocess whose stdout and stderr go to a log file."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str], log_path: Path) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self._log_file: IO[bytes] = log_path.open("ab")
        self.process = subprocess.Popen(argv, env=dict(env), stdout=self._log_file, stderr=subprocess.STDOUT)

    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        """The end of the log file."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as exc:
            return f"(no log: {exc})"
        return text if len(text) <= LOG_TAIL_CHARS else "…" + text[-LOG_TAIL_CHARS:]

    def wait_http_ok(self, url: str, seconds: float = STARTUP_SECONDS) -> None:
        """Wait until GET ``url`` answers 200; AssertionError with the log when it never does."""
        deadline = time.monotonic() + seconds
        last = "no answer yet"
        while True:
            try:
                response = httpx.get(url, timeout=1)
                if response.status_code == 200:
                    return
                last = f"{response.status_code} {response.text[:200]}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            if not self.alive():
                raise AssertionError(
                    f"{self.name} exited with {self.process.returncode} before {url} answered:\n{self.log()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: {url} did not answer 200 ({last}):\n{self.log()}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self._log_file.close()


def diagnostics(*services: Service | None) -> str:
    """Every service's log, for a failure report."""
    parts = []
    for service in services:
        if service is not None:
            state = "running" if service.alive() else f"exited {service.process.returncode}"
            parts.append(f"===== {service.name} ({state}) log {service.log_path} =====\n{service.log()}")
    return "\n".join(parts)


# -- regnotify ----------------------------------------------------------------------------------


class Regnotify:
    """``regnotify serve`` on SQLite in ``workdir``, and the CLI against the same data directory."""

    def __init__(self, workdir: Path, *, registry_host: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.api = f"{self.base}/api/v1"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("REGNOTIFY_")}
        self.env.update(
            REGNOTIFY_DATA_DIR=str(workdir / "regnotify-data"),
            REGNOTIFY_HOST="127.0.0.1",
            REGNOTIFY_PORT=str(self.port),
            REGNOTIFY_REGISTRY_HOST=registry_host,
            REGNOTIFY_OUTBOUND_ALLOWED_NETWORKS='["127.0.0.1/32"]',
            REGNOTIFY_CHAT_ALLOWED_HOSTS='["127.0.0.1"]',
            REGNOTIFY_RETRY_SCHEDULE="[0.2,0.5]",
            REGNOTIFY_POLL_INTERVAL="0.1",
        )
        self.service: Service | None = None
        self.log_path = workdir / "regnotify.log"

    def start(self) -> None:
        self.service = Service("regnotify serve", [*REGNOTIFY, "serve"], self.env, self.log_path)
        self.service.wait_http_ok(f"{self.base}/healthz")

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()

    def cli(self, *args: str) -> str:
        """Run ``regnotify ARGS``; its stdout, stripped. AssertionError when it fails."""
        result = subprocess.run(
            [*REGNOTIFY, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=COMMAND_SECONDS,
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(
                f"regnotify {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
            )
        return result.stdout.strip()


# -- the registry -------------------------------------------------------------------------------


def registry_config(*, port: int, debug_port: int, root: Path, endpoint_url: str, token: str) -> str:
    """Distribution 2.8 configuration: filesystem storage, one notification endpoint, pushes only.

    ``ignore`` drops pulls and blob events (blobs are ``application/octet-stream`` in 2.8), so
    what reaches regnotify is manifest pushes (and deletes). Strings are written JSON-quoted,
    which YAML reads as the same strings.
    """
    q = json.dumps
    return f"""\
version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: {q(str(root))}
  delete:
    enabled: true
http:
  addr: {q(f"127.0.0.1:{port}")}
  secret: "regnotify-e2e-not-a-secret"
  debug:
    addr: {q(f"127.0.0.1:{debug_port}")}
notifications:
  endpoints:
    - name: regnotify
      url: {q(endpoint_url)}
      headers:
        Authorization: [{q(f"Bearer {token}")}]
      timeout: 2s
      threshold: 3
      backoff: 1s
      ignore:
        mediatypes: [application/octet-stream]
        actions: [pull]
"""


@dataclass(frozen=True)
class EndpointCounters:
    """One notification endpoint's counters from the registry's ``/debug/vars``."""

    pending: int
    events: int
    successes: int
    failures: int
    errors: int
    statuses: dict[str, int]

    @property
    def settled(self) -> bool:
        """Every event that passed the ignore filter was delivered with a 2xx."""
        return self.pending == 0 and self.successes == self.events and not self.failures and not self.errors


class Registry:
    """Debian's ``docker-registry serve CONFIG`` on 127.0.0.1 with a notification endpoint."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.debug_port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.workdir = workdir
        self.config_path = workdir / "registry.yml"
        self.log_path = workdir / "registry.log"
        self.service: Service | None = None

    def start(self, *, endpoint_url: str, token: str) -> None:
        storage = self.workdir / "registry-storage"
        storage.mkdir(exist_ok=True)
        self.config_path.write_text(
            registry_config(
                port=self.port,
                debug_port=self.debug_port,
                root=storage,
                endpoint_url=endpoint_url,
                token=token,
            )
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        self.service = Service(
            "docker-registry", [REGISTRY_BINARY, "serve", str(self.config_path)], env, self.log_path
        )
        self.service.wait_http_ok(f"http://{self.host}/v2/")

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()

    def endpoint(self, name: str = "regnotify") -> EndpointCounters:
        """The named endpoint's counters (expvar ``registry.notifications.endpoints``)."""
        data = httpx.get(f"http://127.0.0.1:{self.debug_port}/debug/vars", timeout=2).json()
        for entry in data["registry"]["notifications"]["endpoints"]:
            if entry.get("name") == name:
                metrics = entry.get("Metrics", entry)
                return EndpointCounters(
                    pending=int(metrics["Pending"]),
                    events=int(metrics["Events"]),
                    successes=int(metrics["Successes"]),
                    failures=int(metrics["Failures"]),
                    errors=int(metrics["Errors"]),
                    statuses={str(k): int(v) for k, v in (metrics.get("Statuses") or {}).items()},
                )
        raise AssertionError(f"no notification endpoint {name!r} in /debug/vars: {data['registry']}")

    async def settled(self, *, at_least: int, seconds: float = 30.0) -> EndpointCounters:
        """Wait until the registry has delivered ``at_least`` events to regnotify, each with a 2xx."""
        deadline = time.monotonic() + seconds
        while True:
            counters = await asyncio.to_thread(self.endpoint)
            if counters.settled and counters.successes >= at_least:
                return counters
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"the registry did not deliver {at_least} events to regnotify: {counters}"
                )
            await asyncio.sleep(0.1)


# -- an OCI image, written by hand ------------------------------------------------------------------


@dataclass(frozen=True)
class OciImage:
    """An OCI image layout holding one image, tagged ``latest`` in its index."""

    layout: Path
    manifest_digest: str
    layer_diff_id: str

    @property
    def source(self) -> str:
        return f"oci:{self.layout}:latest"


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _canonical(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def write_oci_image(layout: Path, files: Mapping[str, bytes]) -> OciImage:
    """Write an OCI image layout with one gzip'd layer holding ``files`` (deterministic bytes)."""
    tar_buffer = io.BytesIO()
    with tarfile.open(fileobj=tar_buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(content))
    layer_tar = tar_buffer.getvalue()
    layer = gzip.compress(layer_tar, mtime=0)
    diff_id = _sha256(layer_tar)
    config = _canonical(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/bin/true"]},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created_by": "regnotify e2e test", "comment": "one small file"}],
        }
    )
    manifest = _canonical(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": _sha256(config), "size": len(config)},
            "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": _sha256(layer), "size": len(layer)}],
        }
    )
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    for blob in (layer, config, manifest):
        (blobs / hashlib.sha256(blob).hexdigest()).write_bytes(blob)
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": OCI_MANIFEST,
                "digest": _sha256(manifest),
                "size": len(manifest),
                "annotations": {"org.opencontainers.image.ref.name": "latest"},
            }
        ],
    }
    (layout / "index.json").write_bytes(_canonical(index))
    (layout / "oci-layout").write_bytes(_canonical({"imageLayoutVersion": "1.0.0"}))
    return OciImage(layout=layout, manifest_digest=_sha256(manifest), layer_diff_id=diff_id)


# -- skopeo ---------------------------------------------------------------------------------------


class Skopeo:
    """skopeo with a private HOME, an empty registries.conf and no signature policy checks."""

    def __init__(self, workdir: Path) -> None:
        home = workdir / "skopeo-home"
        (home / "registries.d").mkdir(parents=True, exist_ok=True)
        (home / "tmp").mkdir(exist_ok=True)
        registries_conf = home / "registries.conf"
        registries_conf.write_text('unqualified-search-registries = []\nshort-name-mode = "disabled"\n')
        self.home = home
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "REGISTRY_AUTH"))}
        self.env.update(
            HOME=str(home), CONTAINERS_REGISTRIES_CONF=str(registries_conf), TMPDIR=str(home / "tmp")
        )
        self.commands: list[str] = []  # every command run, with its output, for diagnostics

    async def run(self, *args: str) -> str:
        """``skopeo ARGS``; its stdout. AssertionError with the output when it fails or hangs."""
        argv = [
            SKOPEO_BINARY,
            "--insecure-policy",
            "--registries.d",
            str(self.home / "registries.d"),
            "--command-timeout",
            f"{int(COMMAND_SECONDS)}s",
            *args,
        ]
        process = await asyncio.create_subprocess_exec(
            *argv, env=self.env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        try:
            out, err = await asyncio.wait_for(process.communicate(), timeout=COMMAND_SECONDS + 10)
        except TimeoutError:
            with suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise AssertionError(f"{' '.join(argv)} did not finish in {COMMAND_SECONDS + 10:g}s") from None
        output = f"$ {' '.join(argv)}\n{out.decode(errors='replace')}{err.decode(errors='replace')}"
        self.commands.append(output)
        if process.returncode != 0:
            raise AssertionError(f"skopeo exited {process.returncode}:\n{output}")
        return out.decode()

    async def push(self, image: OciImage, destination: str) -> None:
        """Copy the image to ``docker://DESTINATION`` over plain HTTP."""
        await self.run("copy", "--dest-tls-verify=false", image.source, f"docker://{destination}")

    async def digest(self, reference: str) -> str:
        """The manifest digest the registry reports for ``docker://REFERENCE``."""
        inspected = json.loads(await self.run("inspect", "--tls-verify=false", f"docker://{reference}"))
        return str(inspected["Digest"])


# -- where regnotify's notifications land ------------------------------------------------------------


@dataclass
class Capture:
    """JSON bodies posted to ``/hook`` (webhook) and ``/slack`` (Slack), in arrival order."""

    base: str = ""
    hooks: list[Any] = field(default_factory=list)
    slack: list[Any] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def hook_url(self) -> str:
        return f"{self.base}/hook"

    @property
    def slack_url(self) -> str:
        return f"{self.base}/slack"

    async def wait_for(self, count: Callable[[], int], expected: int, seconds: float, what: str) -> None:
        """Wait until ``count()`` reaches ``expected``; AssertionError after ``seconds``."""
        deadline = time.monotonic() + seconds
        while count() < expected:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{what}: {count()} of {expected} arrived in {seconds:g}s")
            self.changed.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), timeout=min(remaining, 0.5))


@asynccontextmanager
async def capture_receiver() -> AsyncIterator[Capture]:
    """A local HTTP server on 127.0.0.1 (ephemeral port) recording what regnotify posts."""
    capture = Capture()

    def handler(into: list[Any]) -> Callable[[web.Request], Any]:
        async def handle(request: web.Request) -> web.Response:
            body = await request.read()
            try:
                into.append(json.loads(body))
            except ValueError:
                into.append({"unparsed body": body.decode(errors="replace")})
            capture.headers.append(dict(request.headers))
            capture.changed.set()
            return web.Response(status=200, text="ok")

        return handle

    app = web.Application()
    app.router.add_post("/hook", handler(capture.hooks))
    app.router.add_post("/slack", handler(capture.slack))
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    capture.base = f"http://127.0.0.1:{port}"
    try:
        yield capture
    finally:
        await runner.cleanup()
