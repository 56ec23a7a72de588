"""Waiting for a `regnotify serve` process the test started to answer."""

from __future__ import annotations

import subprocess
import time

import httpx
import pytest


def wait_until_serving(process: subprocess.Popen[str], base: str, seconds: float = 30) -> None:
    """Return once ``base``/healthz answers 200; fail the test with what the process printed if it
    exits or takes longer than ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"regnotify serve did not come up:\n{process.communicate()[0]}")
        time.sleep(0.1)
