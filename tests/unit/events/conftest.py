"""Fixtures for event-catalogue tests: the seed's repository, another repository, the seed sample files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from regnotify.events import RepositoryRef

SHARED_ENV = "REGNOTIFY_SHARED_DIR"


def find_shared_dir() -> Path | None:
    """$REGNOTIFY_SHARED_DIR, else the ``shared`` directory next to the repository root."""
    override = os.environ.get(SHARED_ENV)
    if override:
        return Path(override)
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file():
            return (parent / ".." / "shared").resolve()
    return None


@pytest.fixture
def seed_samples_dir() -> Path:
    shared = find_shared_dir()
    samples = shared / "seed" / "samples" if shared is not None else None
    if samples is None or not samples.is_dir():
        reason = f"seed samples not found (looked in {samples}; set {SHARED_ENV} to the shared directory)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    return samples


@pytest.fixture
def seed_repo() -> RepositoryRef:
    return RepositoryRef("mynamespace", "repository", "quay.io", "https://quay.io")


@pytest.fixture
def other_repo() -> RepositoryRef:
    return RepositoryRef(
        "acme", "team/app", "registry.example.com", "https://notify.example.com/", visibility="public"
    )
