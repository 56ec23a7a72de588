"""HTTPS delivery with a client certificate (mTLS) against a real TLS receiver; CAs made with trustme."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from regnotify.methods.slack import SlackMethod
from regnotify.methods.webhook import WebhookMethod

from .conftest import MakeSenders
from .receiver import Receiver
from .support import make_outgoing


@dataclass
class Pki:
    ca_file: Path
    client_cert: Path
    client_key: Path
    server_context: ssl.SSLContext


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "hooks.internal.test")
    client = ca.issue_cert("regnotify-client.test")
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(ca_file)
    client_cert = tmp_path / "client.pem"
    client.cert_chain_pems[0].write_to_path(client_cert)
    for extra in client.cert_chain_pems[1:]:
        extra.write_to_path(client_cert, append=True)
    client_key = tmp_path / "client.key"
    client.private_key_pem.write_to_path(client_key)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.configure_cert(context)
    ca.configure_trust(context)
    context.verify_mode = ssl.CERT_REQUIRED
    return Pki(ca_file=ca_file, client_cert=client_cert, client_key=client_key, server_context=context)


@pytest.fixture
async def tls_receiver(pki: Pki) -> AsyncIterator[Receiver]:
    server = await Receiver(ssl_context=pki.server_context).start()
    try:
        yield server
    finally:
        await server.stop()


def subject_names(cert: dict[str, object] | None) -> list[str]:
    assert cert is not None
    names = []
    for rdn in cert.get("subjectAltName", ()):  # type: ignore[union-attr]
        names.append(rdn[1])
    return names


async def test_https_webhook_presents_the_client_certificate(
    tls_receiver: Receiver, pki: Pki, make_senders: MakeSenders
) -> None:
    senders = make_senders(
        webhook_ca_bundle=pki.ca_file, webhook_client_cert=pki.client_cert, webhook_client_key=pki.client_key
    )
    result = await WebhookMethod().send({"url": f"{tls_receiver.base_url}/hook"}, make_outgoing(), senders)

    assert result.ok, result.error
    [request] = tls_receiver.requests
    assert "regnotify-client.test" in subject_names(request.peercert)


async def test_host_names_are_checked_against_the_server_certificate(
    tls_receiver: Receiver, pki: Pki, make_senders: MakeSenders
) -> None:
    async def resolve(host: str) -> list[str]:
        return ["127.0.0.1"]

    senders = make_senders(
        resolver=resolve,
        webhook_ca_bundle=pki.ca_file,
        webhook_client_cert=pki.client_cert,
        webhook_client_key=pki.client_key,
    )
    good = f"https://hooks.internal.test:{tls_receiver.port}/hook"
    assert (await WebhookMethod().send({"url": good}, make_outgoing(), senders)).ok
    wrong = f"https://other.internal.test:{tls_receiver.port}/hook"
    result = await WebhookMethod().send({"url": wrong}, make_outgoing(), senders)
    assert not result.ok
    assert "certificate" in (result.error or "").lower()
    assert len(tls_receiver.requests) == 1


async def test_without_a_client_certificate_the_delivery_fails(
    tls_receiver: Receiver, pki: Pki, make_senders: MakeSenders
) -> None:
    senders = make_senders(webhook_ca_bundle=pki.ca_file)
    result = await WebhookMethod().send({"url": f"{tls_receiver.base_url}/hook"}, make_outgoing(), senders)

    assert not result.ok
    assert result.error
    assert result.status_code is None
    assert tls_receiver.requests == []


async def test_chat_methods_do_not_present_the_client_certificate(
    tls_receiver: Receiver, pki: Pki, make_senders: MakeSenders
) -> None:
    senders = make_senders(
        webhook_ca_bundle=pki.ca_file, webhook_client_cert=pki.client_cert, webhook_client_key=pki.client_key
    )
    result = await SlackMethod().send(
        {"url": f"{tls_receiver.base_url}/services/x"}, make_outgoing(), senders
    )
    assert not result.ok  # the receiver demands a client certificate that only webhooks present
    assert tls_receiver.requests == []


async def test_an_untrusted_server_certificate_fails(
    tls_receiver: Receiver, pki: Pki, make_senders: MakeSenders
) -> None:
    senders = make_senders(webhook_client_cert=pki.client_cert, webhook_client_key=pki.client_key)
    result = await WebhookMethod().send({"url": f"{tls_receiver.base_url}/hook"}, make_outgoing(), senders)

    assert not result.ok
    assert "certificate" in (result.error or "").lower()
    assert tls_receiver.requests == []
