"""Secrets at rest: sealed values, several keys while rotating, resealing with the first key."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from regnotify.runtime.crypto import SEALED_PREFIX, SecretBox, is_sealed, split_keys

OLD, NEW, OTHER = (Fernet.generate_key().decode() for _ in range(3))


def test_a_sealed_value_opens_and_does_not_show_the_secret() -> None:
    box = SecretBox(OLD)
    sealed = box.seal("hunter2")
    assert is_sealed(sealed) and sealed.startswith(SEALED_PREFIX) and "hunter2" not in sealed
    assert box.open(sealed) == "hunter2"


def test_with_several_keys_the_first_seals_and_all_open() -> None:
    old_sealed = SecretBox(OLD).seal("from before")
    rotating = SecretBox(f"{NEW}, {OLD}")
    assert rotating.open(old_sealed) == "from before"
    new_sealed = rotating.seal("after")
    assert SecretBox(NEW).open(new_sealed) == "after"
    with pytest.raises(ValueError, match="does not open"):
        SecretBox(OLD).open(new_sealed)


def test_reseal_moves_a_value_to_the_first_key() -> None:
    old_sealed = SecretBox(OLD).seal("s3cret")
    resealed = SecretBox(f"{NEW}\n{OLD}").reseal(old_sealed)
    assert resealed != old_sealed and is_sealed(resealed)
    assert SecretBox(NEW).open(resealed) == "s3cret"
    with pytest.raises(ValueError):
        SecretBox(OLD).open(resealed)


def test_reseal_refuses_what_no_key_opens_and_plain_text() -> None:
    with pytest.raises(ValueError, match="any configured secret key"):
        SecretBox(f"{NEW},{OLD}").reseal(SecretBox(OTHER).seal("lost"))
    with pytest.raises(ValueError, match="not sealed"):
        SecretBox(NEW).reseal("plain")


def test_key_lists_split_on_commas_and_lines() -> None:
    assert split_keys(f" {NEW} ,\n{OLD}\n\n") == [NEW, OLD]
    with pytest.raises(ValueError, match="no secret key"):
        SecretBox(" , ")
