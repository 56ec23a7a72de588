"""The fault tier: each test records its figures, printed at the end of the run and kept as JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

FIGURES = pytest.StashKey[dict[str, dict[str, Any]]]()

Record = Callable[[dict[str, Any]], None]


def _figures(config: pytest.Config) -> dict[str, dict[str, Any]]:
    return config.stash.setdefault(FIGURES, {})


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Record:
    """``figures({...})`` keeps this test's figures for the summary (the last call wins)."""

    def record(values: dict[str, Any]) -> None:
        _figures(request.config)[request.node.nodeid] = values
        print(f"fault figures: {request.node.nodeid}: {json.dumps(values)}")

    return record


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """One line per fault test with its figures, and ``fault-figures.json`` in pytest's base temp dir."""
    found = config.stash.get(FIGURES, {})
    if not found:
        return
    terminalreporter.section("fault figures")
    for nodeid, values in found.items():
        terminalreporter.write_line(f"{nodeid}: " + ", ".join(f"{k}={v}" for k, v in values.items()))
    base = config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
    path = base / "fault-figures.json"
    path.write_text(json.dumps(found, indent=2) + "\n")
    terminalreporter.write_line(f"(also in {path})")
