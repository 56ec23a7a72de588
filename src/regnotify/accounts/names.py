"""Name rules for users, organizations, teams and repositories (Distribution's repository grammar)."""

from __future__ import annotations

import re

from regnotify.accounts.errors import InvalidName

# One path component of a repository name, as CNCF Distribution accepts it.
COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_COMPONENT_RE = re.compile(rf"^{COMPONENT}$")
_TEAM_RE = re.compile(r"^[a-z][a-z0-9_-]{0,254}$")
MAX_REPOSITORY_LENGTH = 255


def check_namespace(name: str, what: str = "namespace") -> str:
    if not isinstance(name, str) or not _COMPONENT_RE.match(name) or len(name) > 255:
        raise InvalidName(
            f"invalid {what} name {name!r}: use lower-case letters, digits and single "
            "separators (. _ -) between them, at most 255 characters"
        )
    return name


def check_team_name(name: str) -> str:
    if not isinstance(name, str) or not _TEAM_RE.match(name):
        raise InvalidName(
            f"invalid team name {name!r}: start with a lower-case letter, then letters, "
            "digits, _ or -, at most 255 characters"
        )
    return name


def split_repository(full_name: str) -> tuple[str, str]:
    """``ns/name`` or ``ns/team/app`` into (namespace, name): the first component and the rest."""
    if not isinstance(full_name, str) or "/" not in full_name:
        raise InvalidName(f"invalid repository {full_name!r}: write it as namespace/name, e.g. acme/app")
    if len(full_name) > MAX_REPOSITORY_LENGTH:
        raise InvalidName(f"invalid repository name: longer than {MAX_REPOSITORY_LENGTH} characters")
    components = full_name.split("/")
    for component in components:
        if not _COMPONENT_RE.match(component):
            raise InvalidName(
                f"invalid repository {full_name!r}: component {component!r} must be lower-case "
                "letters and digits with single separators (. _ -) between them"
            )
    return components[0], "/".join(components[1:])
