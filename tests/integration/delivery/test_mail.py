"""E-mail delivery against a real SMTP server (aiosmtpd in a thread on 127.0.0.1) and the local maildir.

Outgoing values come from the real event catalogue; messages are parsed back with the stdlib.
"""

from __future__ import annotations

import email
import logging
import socket
import ssl
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from regnotify.config import Settings
from regnotify.events import RepositoryRef, get_event_kind
from regnotify.methods.email import EmailMethod
from regnotify.methods.sending import MailClient, Outgoing, Senders, SendResult
from regnotify.outbound.mail import MaildirMailClient, MailError, SmtpMailClient, mail_client

from .support import message_with

REPO = RepositoryRef("acme", "app", "registry.test", "https://regnotify.test")
TO = "dev@example.org"
PASSWORD = "S3cret-smtp-Pa55word"
MAIL_FROM = "regnotify <notify@regnotify.test>"


@dataclass
class Recorder:
    """aiosmtpd handler: records what arrives; optional replies refuse RCPT TO or DATA."""

    rcpt_reply: str | None = None
    data_reply: str | None = None
    received: list[tuple[Envelope, bool]] = field(default_factory=list)  # (envelope, over TLS)

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: Any
    ):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if self.data_reply:
            return self.data_reply
        self.received.append((envelope, server.transport.get_extra_info("ssl_object") is not None))
        return "250 Message accepted"

    def only_message(self) -> EmailMessage:
        assert len(self.received) == 1
        content = self.received[0][0].original_content
        assert isinstance(content, bytes)
        return cast(EmailMessage, email.message_from_bytes(content, policy=policy.default))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[Any]:
    """``start(handler, **controller_options) -> port``; every server is stopped after the test."""
    controllers: list[Controller] = []

    def start(handler: Recorder, **options: Any) -> int:
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=5, **options)
        controller.start()
        controllers.append(controller)
        return port

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@dataclass
class MailSenders:
    settings: Settings
    mail: MailClient
    http: Any = None
    inbox: Any = None
    authorized: bool = True  # the worker's real check reads the database (tests/integration/worker)

    async def email_is_authorized(self, repository: str, email: str) -> bool:
        return self.authorized


def make_settings(tmp_path: Path, port: int | None, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "smtp_host": "127.0.0.1" if port else None,
        "smtp_port": port or 587,
        "smtp_security": "plain",
        "mail_from": MAIL_FROM,
    }
    values.update(changes)
    return Settings(**values)


def outgoing(event: str = "repo_push", data: dict[str, Any] | None = None, **changes: Any) -> Outgoing:
    kind = get_event_kind(event)
    payload = kind.build_payload(REPO, data) if data is not None else kind.sample_payload(REPO)
    values: dict[str, Any] = {
        "delivery_id": f"msg_{uuid.uuid4().hex}",
        "attempt": 1,
        "event": event,
        "payload": payload,
        "message": message_with(event, payload, changes),
        "repository": REPO.full_name,
        "namespace": REPO.namespace,
        "notification_uuid": str(uuid.uuid4()),
        "notification_title": "Team mail",
    }
    return Outgoing(**{**values, **changes})


async def send(
    settings: Settings, item: Outgoing, *, ssl_context: ssl.SSLContext | None = None
) -> SendResult:
    client: MailClient = (
        SmtpMailClient(settings, ssl_context=ssl_context, timeout=5)
        if settings.smtp_host
        else mail_client(settings)
    )
    senders = cast(Senders, MailSenders(settings=settings, mail=client))
    return await EmailMethod().send({"email": TO}, item, senders)


def parts(message: EmailMessage) -> tuple[str, str]:
    assert message.get_content_type() == "multipart/alternative"
    kinds = [part.get_content_type() for part in message.iter_parts()]
    assert kinds == ["text/plain", "text/html"]
    text_part, html_part = (cast(EmailMessage, part).get_content() for part in message.iter_parts())
    return text_part.replace("\r\n", "\n"), html_part.replace("\r\n", "\n")  # SMTP line ends are CRLF


async def test_message_format(tmp_path: Path, smtp_server: Any) -> None:
    handler = Recorder()
    port = smtp_server(handler)
    item = outgoing()
    result = await send(make_settings(tmp_path, port), item)

    assert result.ok, result.error
    assert result.response_excerpt == f"smtp:127.0.0.1:{port} accepted"
    assert result.request == {"to": TO, "subject": f"[regnotify] {item.summary}"}
    envelope = handler.received[0][0]
    assert envelope.mail_from == "notify@regnotify.test"
    assert envelope.rcpt_tos == [TO]
    assert handler.received[0][1] is False
    message = handler.only_message()
    assert message["Subject"] == f"[regnotify] {item.summary}"
    assert message["From"] == MAIL_FROM
    assert message["To"] == TO
    assert message["Date"].datetime is not None
    assert message["Message-ID"].endswith("@regnotify.test>")
    assert message["X-Regnotify-Delivery"] == item.delivery_id
    assert message["X-Regnotify-Event"] == "repo_push"
    assert message["Auto-Submitted"] == "auto-generated"
    text, html = parts(message)
    assert item.text.strip() in text
    assert (
        f"You receive this because repository acme/app has an e-mail notification for {TO} "
        f'("Team mail", {item.notification_uuid}).'
    ) in text
    assert item.html in html
    assert html.lstrip().startswith("<!DOCTYPE html>")
    assert '<a href="https://regnotify.test/repository/acme/app">acme/app</a>' in html


async def test_html_escapes_event_values_and_title(tmp_path: Path, smtp_server: Any) -> None:
    handler = Recorder()
    port = smtp_server(handler)
    data = {"build_id": "b1", "docker_tags": ["latest"], "error_message": "<script>alert(1)</script>"}
    item = outgoing("build_failure", data, notification_title="<b>loud</b>")
    result = await send(make_settings(tmp_path, port), item)

    assert result.ok, result.error
    text, html = parts(handler.only_message())
    assert "<script>" not in html and "<b>loud</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;loud&lt;/b&gt;" in html
    assert "<script>alert(1)</script>" in text  # plain text carries the value as it is


async def test_header_injection_through_summary_and_header_values(tmp_path: Path, smtp_server: Any) -> None:
    handler = Recorder()
    port = smtp_server(handler)
    item = outgoing(summary="Pushed\r\nBcc: victim@evil.test\r\n\r\nbody", delivery_id="d1\r\nX-Evil: 1")
    result = await send(make_settings(tmp_path, port), item)

    assert result.ok, result.error
    assert handler.received[0][0].rcpt_tos == [TO]
    message = handler.only_message()
    assert message["Bcc"] is None and message["X-Evil"] is None
    assert message["Subject"] == "[regnotify] Pushed Bcc: victim@evil.test body"
    assert message["X-Regnotify-Delivery"] == "d1 X-Evil: 1"


async def test_test_sends_are_marked(tmp_path: Path) -> None:
    result = await send(make_settings(tmp_path, None), outgoing(is_test=True))
    assert result.ok, result.error
    assert result.request["subject"].startswith("[regnotify test] ")


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
async def test_login_over_plain_and_password_never_shown(
    tmp_path: Path, smtp_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        logins.append((data.login, data.password))
        return AuthResult(success=data.password == PASSWORD.encode(), handled=False)

    options = {"authenticator": authenticator, "auth_required": True, "auth_require_tls": False}
    port = smtp_server(Recorder(), **options)
    good = make_settings(tmp_path, port, smtp_username="mailer", smtp_password=PASSWORD)
    assert (await send(good, outgoing())).ok
    assert logins == [(b"mailer", PASSWORD.encode())]

    handler = Recorder()
    port = smtp_server(handler, **options)
    bad = make_settings(tmp_path, port, smtp_username="mailer", smtp_password=PASSWORD + "-old")
    result = await send(bad, outgoing())
    assert not result.ok and not result.permanent  # the operator fixes the login, retries then work
    assert "login" in (result.error or "") and handler.received == []
    for shown in (repr(result), caplog.text):
        assert PASSWORD not in shown


@pytest.mark.parametrize(("security", "server_option"), [("starttls", "tls_context"), ("tls", "ssl_context")])
async def test_tls_with_a_trusted_certificate(
    tmp_path: Path, smtp_server: Any, ca: trustme.CA, security: str, server_option: str
) -> None:
    handler = Recorder()
    options: dict[str, Any] = {server_option: server_context(ca)}
    if security == "starttls":
        options["require_starttls"] = True
    port = smtp_server(handler, **options)
    result = await send(
        make_settings(tmp_path, port, smtp_security=security), outgoing(), ssl_context=client_context(ca)
    )

    assert result.ok, result.error
    assert handler.received[0][1] is True  # the server saw the message over TLS
    parts(handler.only_message())


@pytest.mark.parametrize(
    ("server_tls", "expected"), [(True, "certificate verify failed"), (False, "STARTTLS")]
)
async def test_starttls_untrusted_or_not_offered(
    tmp_path: Path, smtp_server: Any, ca: trustme.CA, server_tls: bool, expected: str
) -> None:
    handler = Recorder()
    options = {"tls_context": server_context(ca), "require_starttls": True} if server_tls else {}
    port = smtp_server(handler, **options)
    result = await send(make_settings(tmp_path, port, smtp_security="starttls"), outgoing())  # system CAs

    assert not result.ok and not result.permanent
    assert expected in (result.error or "")
    assert handler.received == []


@pytest.mark.parametrize(
    ("rcpt_reply", "data_reply", "permanent", "code"),
    [
        ("550 5.1.1 No such user", None, True, "550"),
        ("450 4.2.1 Mailbox busy", None, False, "450"),
        (None, "451 4.3.0 Try again later", False, "451"),
        (None, "554 5.7.1 Rejected as spam", True, "554"),
    ],
)
async def test_refusals_are_classified(
    tmp_path: Path,
    smtp_server: Any,
    rcpt_reply: str | None,
    data_reply: str | None,
    permanent: bool,
    code: str,
) -> None:
    port = smtp_server(Recorder(rcpt_reply=rcpt_reply, data_reply=data_reply))
    result = await send(make_settings(tmp_path, port), outgoing())

    assert not result.ok
    assert result.permanent is permanent
    assert code in (result.error or "")
    assert result.request["to"] == TO


async def test_nothing_listening(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    settings = make_settings(tmp_path, free_port(), smtp_username="mailer", smtp_password=PASSWORD)
    result = await send(settings, outgoing())

    assert not result.ok and not result.permanent
    assert "connection" in (result.error or "").lower()
    assert PASSWORD not in repr(result) and PASSWORD not in caplog.text


async def test_maildir_when_no_smtp_host(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="regnotify")
    settings = make_settings(tmp_path, None)
    assert isinstance(mail_client(settings), MaildirMailClient)
    item = outgoing("build_failure", {"build_id": "b1", "docker_tags": ["latest"], "error_message": "<x>"})
    result = await send(settings, item)

    assert result.ok, result.error
    assert (result.response_excerpt or "").startswith("maildir:")
    files = list((settings.data_dir / "maildir" / "new").iterdir())
    assert len(files) == 1 and files[0].name == (result.response_excerpt or "").removeprefix("maildir:")
    message = cast(EmailMessage, email.message_from_bytes(files[0].read_bytes(), policy=policy.default))
    assert message["To"] == TO and message["X-Regnotify-Delivery"] == item.delivery_id
    text, html = parts(message)
    assert "Error: <x>" in text and "&lt;x&gt;" in html
    assert f"no SMTP server configured: mail to {TO} written to {files[0]}" in caplog.text


def test_factory_picks_smtp_when_a_host_is_set(tmp_path: Path) -> None:
    client = mail_client(make_settings(tmp_path, 2525))
    assert isinstance(client, SmtpMailClient) and client.where == "smtp:127.0.0.1:2525"


async def test_client_keeps_subject_on_one_line_and_refuses_bad_headers(tmp_path: Path) -> None:
    client = MaildirMailClient(make_settings(tmp_path, None))
    body = {"text": "t", "html": "<p>h</p>"}
    key = await client.send(to=TO, subject="a\r\nBcc: x@evil.test", headers={}, **body)
    path = tmp_path / "data" / "maildir" / "new" / key.removeprefix("maildir:")
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message["Subject"] == "a Bcc: x@evil.test" and message["Bcc"] is None
    for to, headers in ((f"{TO}\r\nBcc: x@evil.test", {}), (f"{TO}, x@evil.test", {}), (TO, {"To": "x"})):
        with pytest.raises(MailError) as caught:
            await client.send(to=to, subject="s", headers=headers, **body)
        assert caught.value.permanent
