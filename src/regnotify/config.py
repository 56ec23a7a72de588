"""Settings, read from environment variables prefixed ``REGNOTIFY_`` (pydantic-settings)."""

from __future__ import annotations

import ipaddress
import logging
import os
import stat
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

PRIVATE_DIR = 0o700  # the data directory, the maildir
PRIVATE_FILE = 0o600  # the database and its -wal/-shm, the writer lock files, the key, mails
# What regnotify keeps in a directory: the files of a SQLite database (these suffixes on its name),
# the generated key and the maildir. A directory holding nothing else is regnotify's own.
DATABASE_FILE_SUFFIXES = ("", "-wal", "-shm", "-journal", "-writers.lock", "-writers.wait", "-wakeup")
DATA_DIR_FILES = ("secret.key", "maildir")
DEFAULT_DATABASE = "regnotify.db"


def default_data_dir() -> Path:
    """Where the embedded default keeps its files: ``$XDG_DATA_HOME/regnotify``."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "regnotify"


def private_directory(path: Path, *, database: str | None = None) -> None:
    """Make ``path`` a directory only its owner can enter (0700, whatever the umask); missing
    parents are made as usual.

    One that exists and lets others in is tightened to 0700, with a warning, when it is
    regnotify's own: it holds nothing but the files of the SQLite database named ``database`` (a
    file name) or of the default one, the generated key and the maildir. Any other directory
    (shared with other files, /tmp) is left as it is: regnotify's files in it are 0600 anyway."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=PRIVATE_DIR)
    except FileExistsError:
        pass
    else:
        os.chmod(path, PRIVATE_DIR)  # mkdir's mode went through the umask
        return
    current = stat.S_IMODE(path.stat().st_mode)
    if not current & 0o077 or not _holds_only_regnotify_files(path, database):
        return
    try:
        os.chmod(path, PRIVATE_DIR)
    except OSError as exc:
        log.warning("%s is open to other users (%04o) and could not be made 0700: %s", path, current, exc)
        return
    log.warning(
        "%s was open to other users (%04o): made it 0700, as it holds password hashes, session and "
        "API tokens and e-mail addresses",
        path,
        current,
    )


def private_file(path: Path) -> None:
    """Make an existing file of regnotify's 0600 when it lets others in (with a warning)."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
        if not current & 0o077:
            return
        os.chmod(path, PRIVATE_FILE)
    except FileNotFoundError:
        return
    except OSError as exc:
        log.warning("%s is open to other users and could not be made 0600: %s", path, exc)
        return
    log.warning("%s was open to other users (%04o): made it 0600", path, current)


def _holds_only_regnotify_files(path: Path, database: str | None) -> bool:
    databases = {DEFAULT_DATABASE} | ({database} if database else set())
    ours = set(DATA_DIR_FILES) | {name + suffix for name in databases for suffix in DATABASE_FILE_SUFFIXES}
    try:
        return all(entry in ours for entry in os.listdir(path))
    except OSError:
        return False


def parse_allowed_networks(entries: Iterable[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Parse operator entries such as ``127.0.0.1``, ``10.0.0.0/8`` or ``::1``; ValueError names a bad one."""
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for entry in entries:
        text = entry.strip() if isinstance(entry, str) else entry
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"invalid allowed network {entry!r}: write an address or a CIDR range") from exc
    return networks


def _default_retry_schedule() -> list[float]:
    return [5, 300, 1800, 7200, 18000, 36000, 36000]


class Settings(BaseSettings):
    """Everything an operator can set. Each field is ``REGNOTIFY_<FIELD>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="REGNOTIFY_", extra="ignore")

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Directory for the embedded database, the generated secret key and the maildir.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL. Default: SQLite file regnotify.db in the data directory. "
        "postgresql://user@host/db is accepted and driven through psycopg 3.",
    )
    host: str = Field(default="127.0.0.1", description="Address `serve` listens on.")
    port: int = Field(default=8080, ge=1, le=65535, description="Port `serve` listens on.")
    public_base_url: str | None = Field(
        default=None,
        description="Base URL users reach regnotify at; used in `homepage` and links. "
        "Default: http://HOST:PORT.",
    )
    registry_host: str | None = Field(
        default=None,
        description="Registry host name (and port) used in `docker_url`, e.g. registry.example.com. "
        "Unset: the host a registry's notification names, else localhost:5000.",
    )
    secret_key: str | None = Field(
        default=None,
        description="Fernet key (urlsafe base64, 32 bytes) that encrypts secrets in method configs; "
        "several, comma-separated, while rotating (the first seals, all open). "
        "Default: generated once into DATA_DIR/secret.key.",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Largest request body accepted; more is a 413."
    )
    sqlite_busy_timeout_ms: int = Field(default=15000, ge=0)
    chat_allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Extra host names chat webhook URLs (Slack, Teams, Discord) may point at, "
        "besides each service's public host. JSON list in the environment.",
    )
    outbound_allowed_networks: list[str] = Field(
        default_factory=list,
        description="Address ranges outbound requests may reach although they are internal "
        '(loopback, private, link-local...), e.g. ["10.20.0.0/16"]. JSON list in the environment.',
    )
    push_window_seconds: float = Field(
        default=600,
        ge=0,
        description="The same tag → digest reported again within this many seconds notifies once.",
    )
    updated_tags_format: Literal["map", "list"] = Field(
        default="map",
        description="Shape of repo_push's `updated_tags` in payloads built from now on: `map` "
        "(documented: tag → manifest digest) or `list` (tag names, as Quay's servers send them). "
        "Stored events keep the shape they were stored with.",
    )

    # -- delivery (the worker) ----------------------------------------------------------------
    retry_schedule: list[float] = Field(
        default_factory=_default_retry_schedule,
        description="Seconds to wait before each retry after the first try (JSON list); "
        "jitter of up to 20% is added.",
    )
    retry_after_cap: float = Field(
        default=3600, gt=0, description="Longest Retry-After (seconds) a receiver may ask for."
    )
    failure_threshold: int = Field(
        default=10, ge=1, description="Consecutive failed attempts that disable a notification."
    )
    lease_seconds: float = Field(
        default=60, gt=0, description="How long a worker holds a claimed delivery before others may take it."
    )
    delivery_retention_days: float = Field(
        default=30, gt=0, description="Finished deliveries (and their attempts) are purged after this."
    )
    expiry_scan_interval: float = Field(
        default=60,
        gt=0,
        description="Seconds between scans for expiring tags (a periodic job beside each worker).",
    )
    worker_concurrency: int = Field(default=32, ge=1, le=1024, description="Sends in flight per worker.")
    per_host_concurrency: int = Field(default=8, ge=1, description="Sends in flight per destination host.")
    poll_interval: float = Field(default=0.5, gt=0, description="Seconds between polls when idle.")
    http_connect_timeout: float = Field(default=5, gt=0)
    http_total_timeout: float = Field(default=15, gt=0)
    slow_lane_concurrency: int = Field(
        default=32,
        ge=1,
        le=1024,
        description="Sends in flight per worker to destinations marked slow (their own lane: they never "
        "hold the slots healthy destinations use).",
    )
    destination_slow_after: float = Field(
        default=1.0,
        gt=0,
        description="Seconds without an answer after which a send leaves the main lane for the slow "
        "lane and its destination is marked slow.",
    )
    destination_failure_threshold: int = Field(
        default=5,
        ge=1,
        description="Consecutive sends to one destination that got no answer (timeouts, refused or "
        "failed connections) before it is quarantined: its deliveries are held, not tried.",
    )
    destination_quarantine_seconds: float = Field(
        default=30,
        gt=0,
        description="First quarantine of a destination; each failed probe doubles it, up to "
        "destination_quarantine_max_seconds.",
    )
    destination_quarantine_max_seconds: float = Field(default=600, gt=0)
    webhook_client_cert: Path | None = Field(
        default=None, description="PEM client certificate presented on https webhooks (mTLS)."
    )
    webhook_client_key: Path | None = Field(default=None, description="Its private key (PEM).")
    webhook_ca_bundle: Path | None = Field(
        default=None, description="Extra CA certificates (PEM) trusted for https receivers."
    )
    hipchat_base_url: str = Field(default="https://api.hipchat.com")
    flowdock_base_url: str = Field(default="https://api.flowdock.com")
    smtp_host: str | None = Field(
        default=None, description="SMTP server. Unset: mails go to DATA_DIR/maildir."
    )
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: str = Field(default="starttls", pattern="^(plain|starttls|tls)$")
    smtp_username: str | None = None
    smtp_password: str | None = None
    mail_from: str = Field(default="regnotify <regnotify@localhost>")
    email_code_ttl_hours: float = Field(
        default=24, gt=0, description="How long an e-mail confirmation link stays valid."
    )
    verification_min_interval: float = Field(
        default=60, ge=0, description="Seconds between verification mails to one address for one repository."
    )
    verification_max_per_day: int = Field(
        default=5, ge=1, description="Verification mails per address and repository in 24 hours."
    )
    chat_sends_per_minute: int | None = Field(
        default=None,
        ge=1,
        description="Most messages per chat notification (Slack, Teams, Discord, HipChat, Flowdock) "
        "in any minute; more wait their turn. Unset: no limit.",
    )
    token_cache_seconds: float = Field(
        default=5,
        ge=0,
        le=300,
        description="How long an API process trusts a bearer token it found live; a token revoked "
        "meanwhile works there for at most this long. 0: look it up on every request.",
    )
    test_calls_per_minute: int = Field(
        default=10, ge=1, description="Test calls per notification per minute; more get a 429."
    )

    # -- limits on what users can make us do (isolation) --------------------------------------
    template_max_steps: int = Field(
        default=200_000,
        ge=1000,
        description="Work budget of one webhook template rendering (nodes visited); past it the "
        "delivery fails with a budget error, and a template over it on its event's sample is refused.",
    )
    max_notifications_per_repository: int = Field(
        default=100, ge=1, description="Notifications one repository may have; more are refused."
    )
    source_max_new_namespaces: int = Field(
        default=100,
        ge=0,
        description="Namespaces one source token's registry events may create (each becomes an "
        "organization only superusers administer); past it, its pushes to namespaces that do not "
        "exist yet are refused (and recorded). 0: sources create none.",
    )
    max_report_findings: int = Field(
        default=5000,
        ge=1,
        description="Distinct vulnerabilities imported from one scanner report; a bigger report is "
        "refused (split it). Envelopes and event lists have fixed caps (docs/reliability.md).",
    )
    loop_lag_warning_ms: float = Field(
        default=100,
        gt=0,
        description="A callback that keeps the event loop busy longer than this is logged (with "
        "where it was) by serve and worker.",
    )
    log_level: str = Field(default="INFO")
    log_format: str = Field(
        default="text", pattern="^(text|json)$", description="Log lines as text, or one JSON object each."
    )
    metrics_token: str | None = Field(
        default=None,
        description="Bearer token /metrics asks for. Unset: /metrics is open (counts only, no names).",
    )
    worker_metrics_port: int | None = Field(
        default=None, ge=1, le=65535, description="Port on which `regnotify worker` serves /metrics."
    )
    worker_metrics_host: str = Field(default="127.0.0.1", description="Address for the worker's /metrics.")
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or networks of the reverse proxies in front of `serve`, e.g. "
        '["127.0.0.1"] or ["10.0.0.0/8"]: only a connection from one of them may name the client '
        "(X-Forwarded-For, used by the sign-in throttle and the access log) and the scheme "
        "(X-Forwarded-Proto). Empty: those headers are ignored. JSON list in the environment.",
    )

    @field_validator("public_base_url")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @field_validator("outbound_allowed_networks")
    @classmethod
    def _valid_networks(cls, value: list[str]) -> list[str]:
        parse_allowed_networks(value)  # a bad entry stops start-up with the entry named
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_proxies(cls, value: list[str]) -> list[str]:
        """Each entry as uvicorn compares it: an address, or a network (host bits cleared)."""
        normalized = []
        for entry in value:
            text = entry.strip()
            try:
                network = ipaddress.ip_network(text, strict=False)
            except ValueError as exc:
                message = f"invalid trusted proxy {entry!r}: write an address or a CIDR range"
                raise ValueError(message) from exc
            normalized.append(str(network) if "/" in text else str(network.network_address))
        return normalized

    def make_data_dir(self) -> Path:
        """The data directory, made (or kept) private: see ``private_directory``."""
        database = None
        if self.is_embedded:
            name = make_url(self.sqlalchemy_url).database
            database = Path(name).name if name else None
        private_directory(self.data_dir, database=database)
        return self.data_dir

    @cached_property
    def base_url(self) -> str:
        """The public base URL without a trailing slash."""
        if self.public_base_url:
            return self.public_base_url
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    @cached_property
    def sqlalchemy_url(self) -> str:
        """The database URL with the async driver each engine needs."""
        url = self.database_url or f"sqlite:///{self.data_dir / 'regnotify.db'}"
        return async_driver_url(url)

    @property
    def is_embedded(self) -> bool:
        return self.sqlalchemy_url.startswith("sqlite")


def async_driver_url(url: str) -> str:
    """Map plain ``sqlite://`` and ``postgresql://`` URLs onto aiosqlite and psycopg 3."""
    for plain, driver in (
        ("sqlite://", "sqlite+aiosqlite://"),
        ("postgresql://", "postgresql+psycopg://"),
        ("postgres://", "postgresql+psycopg://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url
