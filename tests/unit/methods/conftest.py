"""Fixtures for method tests: a fake validation context factory and a SecretBox with a fresh key."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import Fernet

from regnotify.config import Settings
from regnotify.runtime.crypto import SecretBox

from .method_fakes import FakeContext, MakeContext


@pytest.fixture
def make_ctx(tmp_path: Any) -> MakeContext:
    def make(
        *,
        chat_allowed_hosts: list[str] | None = None,
        outbound_allowed_networks: list[str] | None = None,
        **kwargs: Any,
    ) -> FakeContext:
        settings = Settings(
            data_dir=tmp_path / "data",
            chat_allowed_hosts=chat_allowed_hosts or [],
            outbound_allowed_networks=outbound_allowed_networks or [],
        )
        return FakeContext(settings=settings, **kwargs)

    return make


@pytest.fixture
def ctx(make_ctx: MakeContext) -> FakeContext:
    return make_ctx(users={"alice": True, "bob": False}, teams={"devs": True, "outsiders": False})


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(Fernet.generate_key())
