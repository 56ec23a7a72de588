"""Encryption at rest for secrets in method configs (Fernet: AES-128-CBC + HMAC-SHA256).

The secret key setting may hold several keys, separated by commas or new lines: the first seals,
every one opens. That is how the key is rotated without downtime: put a new key first and keep the
old one after it on every process, run ``regnotify secret-key rotate`` to reseal everything with
the new key, then drop the old one (docs/operations.md).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeGuard

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from regnotify.config import PRIVATE_FILE, Settings, private_file

SEALED_PREFIX = "enc:v1:"


class SecretBox:
    """Seals and opens secret strings. Sealed values carry a prefix so they are recognisable."""

    def __init__(self, key: str | bytes) -> None:
        keys = split_keys(key.decode("ascii") if isinstance(key, bytes) else key)
        if not keys:
            raise ValueError("no secret key given")
        self._fernet = MultiFernet([Fernet(one) for one in keys])

    def seal(self, plaintext: str) -> str:
        token = self._fernet.encrypt(plaintext.encode("utf-8"))
        return SEALED_PREFIX + token.decode("ascii")

    def open(self, sealed: str) -> str:
        if not is_sealed(sealed):
            raise ValueError("value is not sealed")
        try:
            return self._fernet.decrypt(sealed[len(SEALED_PREFIX) :].encode("ascii")).decode()
        except InvalidToken as exc:
            raise ValueError("sealed value does not open with the configured secret key") from exc

    def reseal(self, sealed: str) -> str:
        """The same secret sealed with the first key; ValueError when no configured key opens it."""
        if not is_sealed(sealed):
            raise ValueError("value is not sealed")
        try:
            token = self._fernet.rotate(sealed[len(SEALED_PREFIX) :].encode("ascii"))
        except InvalidToken as exc:
            raise ValueError("sealed value does not open with any configured secret key") from exc
        return SEALED_PREFIX + token.decode("ascii")


def split_keys(value: str) -> list[str]:
    """The keys in a secret key setting: comma- or line-separated, first one current."""
    return [part.strip() for part in value.replace("\n", ",").split(",") if part.strip()]


def is_sealed(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and value.startswith(SEALED_PREFIX)


def load_secret_key(settings: Settings) -> str:
    """The configured key, or the one generated into the data directory on first use."""
    if settings.secret_key:
        return settings.secret_key
    path: Path = settings.make_data_dir() / "secret.key"  # 0700, and the key 0600
    if path.exists():
        private_file(path)
        return path.read_text().strip()
    key = Fernet.generate_key().decode("ascii")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:  # another process generated it first: use theirs
        return path.read_text().strip()
    os.fchmod(fd, PRIVATE_FILE)  # os.open's mode went through the umask
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def secret_box(settings: Settings) -> SecretBox:
    return SecretBox(load_secret_key(settings))
