"""The outbound HTTP client the methods send with: SSRF guard at connect time, no redirects, TLS, pooling.

``GuardedHttpClient`` implements ``regnotify.methods.sending.HttpClient`` on one shared aiohttp
session, created lazily inside the running loop. Three layers keep requests off internal networks:

1. a literal IP host in the URL is judged before anything is sent (aiohttp never asks the
   resolver about IP literals, so the resolver alone would not see them);
2. ``GuardedResolver`` (``http_guard``) resolves host names with the injected resolver and refuses
   the host when ANY answer is forbidden; aiohttp connects only to the addresses it returns, and
   the DNS cache is off, so every new connection is judged on a fresh answer (no rebinding window);
3. a socket factory judges the exact address each socket is about to connect to, whatever path
   led there.

Redirects are never followed. Anything that keeps a request from getting an HTTP response raises
``OutboundError``, whose text is safe for the attempt log (host and port only, never a path or token).
"""

from __future__ import annotations

import asyncio
import codecs
import errno
import ssl
import time
from dataclasses import dataclass
from types import TracebackType

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from regnotify import __version__
from regnotify.config import Settings, parse_allowed_networks
from regnotify.outbound.addresses import forbidden_reason, literal_ip
from regnotify.outbound.http_guard import (
    GuardedResolver,
    Resolver,
    find_refusal,
    guarded_socket_factory,
    refused,
    system_resolve,
)

EXCERPT_BYTES = 4096
DISCARD_LIMIT = 1024 * 1024  # read (and drop) at most this much more to keep the connection reusable
USER_AGENT = f"regnotify/{__version__}"


URL_CHECK_CACHE = 4096  # URLs whose check a client remembers


class OutboundError(Exception):
    """A request that got no HTTP response. ``str(exc)`` names host and port at most, never a secret."""

    def __init__(self, message: str, *, permanent: bool = False, timed_out: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.timed_out = timed_out


@dataclass(frozen=True)
class HttpResult:
    """An HTTP response as the methods see it (``regnotify.methods.sending.HttpResponse``)."""

    status: int
    headers: CIMultiDictProxy[str]  # aiohttp's own (immutable) view of the response headers
    body_excerpt: str
    duration_ms: float


def build_ssl_context(settings: Settings, *, client_cert: bool) -> ssl.SSLContext:
    """Server certificates checked against the system CAs plus ``webhook_ca_bundle``; optional mTLS."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if settings.webhook_ca_bundle is not None:
        try:
            context.load_verify_locations(cafile=str(settings.webhook_ca_bundle))
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"cannot load webhook_ca_bundle {settings.webhook_ca_bundle}: {exc}") from exc
    if client_cert and settings.webhook_client_cert is not None and settings.webhook_client_key is not None:
        try:
            context.load_cert_chain(str(settings.webhook_client_cert), str(settings.webhook_client_key))
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(
                f"cannot load webhook_client_cert {settings.webhook_client_cert} "
                f"with webhook_client_key {settings.webhook_client_key}: {exc}"
            ) from exc
    return context


async def read_excerpt(response: aiohttp.ClientResponse) -> str:
    """The first 4 KiB of the body, decoded leniently; the rest is read and dropped, never buffered."""
    content = response.content
    if content.at_eof() and content.exception() is None:  # no body (e.g. 204): every read gives b""
        return ""
    data = bytearray()
    while len(data) < EXCERPT_BYTES:
        chunk = await content.read(EXCERPT_BYTES - len(data))
        if not chunk:
            break
        data += chunk
    if len(data) < EXCERPT_BYTES:  # an empty read ended it: the body is all read, none to drop
        return data.decode("utf-8", errors="replace")
    discarded = 0
    while discarded <= DISCARD_LIMIT:
        chunk = await content.read(64 * 1024)
        if not chunk:
            break
        discarded += len(chunk)
    else:
        response.close()  # a huge body: drop the connection rather than read on
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    return decoder.decode(bytes(data), final=False)  # no half character at the cut


def _os_text(error: BaseException | None) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) if error is not None else "unknown error"


class GuardedHttpClient:
    """Outbound POSTs for the methods; see the module docstring for the guarantees."""

    def __init__(self, settings: Settings, resolver: Resolver | None = None) -> None:
        self._settings = settings
        self._resolve = resolver or system_resolve
        self._allowed = parse_allowed_networks(settings.outbound_allowed_networks)
        self._ssl_plain = build_ssl_context(settings, client_cert=False)
        self._ssl_client = build_ssl_context(settings, client_cert=True)
        self._session: aiohttp.ClientSession | None = None
        self._checked: dict[str, URL | str] = {}  # url → parsed, or why it is refused (it never changes)

    async def __aenter__(self) -> GuardedHttpClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            settings = self._settings
            connector = aiohttp.TCPConnector(
                # The worker's lanes and destination gate bound what is in flight; a connector-wide
                # cap here would let sends to a slow destination hold connections healthy ones need.
                limit=0,
                limit_per_host=settings.per_host_concurrency,
                resolver=GuardedResolver(self._resolve, self._allowed),
                use_dns_cache=False,
                socket_factory=guarded_socket_factory(self._allowed),
                ssl=self._ssl_plain,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(
                    total=settings.http_total_timeout, sock_connect=settings.http_connect_timeout
                ),
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,  # no proxy from the environment: it would resolve names for us
            )
        return self._session

    def _check_url(self, url: str) -> URL:
        """The parsed URL, unless it cannot be sent to at all (a literal address is refused here:
        aiohttp does not ask the resolver for one). Remembered per URL, which a worker sends to
        again and again."""
        verdict = self._checked.get(url)
        if verdict is None:
            verdict = self._judge_url(url)
            if len(self._checked) >= URL_CHECK_CACHE:
                self._checked.clear()
            self._checked[url] = verdict
        if isinstance(verdict, str):
            raise OutboundError(verdict, permanent=True)
        return verdict

    def _judge_url(self, url: str) -> URL | str:
        try:
            target = URL(url)
        except (ValueError, TypeError):
            return "invalid url"
        if target.scheme not in ("http", "https") or not target.raw_host:
            return "only absolute http and https urls can be sent to"
        address = literal_ip(target.raw_host)
        if address is not None:
            reason = forbidden_reason(address, self._allowed)
            if reason is not None:
                return refused(address, reason)
        return target

    async def post(
        self, url: str, *, body: bytes, headers: dict[str, str], client_cert: bool = False
    ) -> HttpResult:
        """POST ``body``; an HttpResult for any HTTP status, OutboundError when there is no response."""
        target = self._check_url(url)
        session = self._get_session()
        sent_headers = {**headers, "User-Agent": USER_AGENT}
        context = self._ssl_client if client_cert else self._ssl_plain
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._settings.http_total_timeout + 1):  # backstop for aiohttp's own
                async with session.post(
                    target, data=body, headers=sent_headers, allow_redirects=False, ssl=context
                ) as response:
                    excerpt = await read_excerpt(response)
                    return HttpResult(
                        status=response.status,
                        headers=response.headers,  # immutable already: no copy
                        body_excerpt=excerpt,
                        duration_ms=(time.perf_counter() - started) * 1000,
                    )
        except Exception as exc:
            raise self._describe(exc, target) from exc

    def _describe(self, exc: Exception, target: URL) -> OutboundError:
        """An OutboundError whose text says what went wrong without showing the URL's path or query."""
        where = f"{target.raw_host}:{target.port}"
        refusal = find_refusal(exc)
        if refusal is not None:
            return OutboundError(str(refusal), permanent=True)
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            return OutboundError(
                f"timed out connecting to {where} after {self._settings.http_connect_timeout:g}s",
                timed_out=True,
            )
        if isinstance(exc, TimeoutError):
            return OutboundError(
                f"timed out after {self._settings.http_total_timeout:g}s waiting for {where}", timed_out=True
            )
        if isinstance(exc, aiohttp.ClientConnectorCertificateError):
            detail = getattr(exc.certificate_error, "verify_message", None) or _os_text(exc.certificate_error)
            return OutboundError(f"TLS certificate of {where} was not accepted: {detail}")
        if isinstance(exc, aiohttp.ClientConnectorSSLError | aiohttp.ClientSSLError):
            return OutboundError(f"TLS handshake with {where} failed: {_os_text(exc.os_error)}")
        if isinstance(exc, aiohttp.ClientConnectorDNSError):
            detail = _os_text(exc.os_error)
            if detail.startswith("cannot resolve host"):  # already worded by GuardedResolver
                return OutboundError(detail)
            return OutboundError(f"cannot resolve host {target.raw_host}: {detail}")
        if isinstance(exc, aiohttp.ClientConnectorError):
            if exc.os_error.errno == errno.ECONNREFUSED:
                return OutboundError(f"connection refused by {where}")
            return OutboundError(f"cannot connect to {where}: {_os_text(exc.os_error)}")
        if isinstance(exc, aiohttp.ServerDisconnectedError):
            return OutboundError(f"{where} closed the connection without a complete response")
        if isinstance(exc, aiohttp.ClientResponseError):
            return OutboundError(f"invalid HTTP response from {where}: {exc.message}")
        if isinstance(exc, aiohttp.ClientPayloadError):
            return OutboundError(f"the response body from {where} could not be read")
        if isinstance(exc, ssl.SSLError):
            return OutboundError(f"TLS error with {where}: {exc.reason or exc}")
        if isinstance(exc, aiohttp.ClientOSError | OSError):
            return OutboundError(f"connection to {where} failed: {_os_text(exc)}")
        if isinstance(exc, aiohttp.InvalidURL | ValueError):
            return OutboundError("invalid url or request headers", permanent=True)
        return OutboundError(f"request to {where} failed: {type(exc).__name__}")
