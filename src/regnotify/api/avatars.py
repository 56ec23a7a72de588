"""Quay's avatar objects for users, organizations and teams: a name, its hash and a colour."""

from __future__ import annotations

import hashlib
from typing import Literal

AvatarKind = Literal["user", "org", "team"]

# Ten of the colours Quay draws its default avatars in.
PALETTE = (
    "#969696",
    "#aec7e8",
    "#ff7f0e",
    "#ffbb78",
    "#2ca02c",
    "#98df8a",
    "#d62728",
    "#ff9896",
    "#9467bd",
    "#c5b0d5",
)


def avatar(name: str, kind: AvatarKind) -> dict[str, str]:
    """``{name, hash, color, kind}``; the hash is the MD5 of the name (Quay hashes the e-mail address,
    which would disclose it), and picks the colour the way Quay does: its first hex digit."""
    digest = hashlib.md5(name.encode("utf-8", "backslashreplace"), usedforsecurity=False).hexdigest()
    return {"name": name, "hash": digest, "color": PALETTE[int(digest[0], 16) % len(PALETTE)], "kind": kind}
