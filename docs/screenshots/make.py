"""Rewrite the README's screenshots: ``python docs/screenshots/make.py`` (needs Chromium and the test extras).

It runs the screenshot browser test with REGNOTIFY_UPDATE_SCREENSHOTS=1, so the PNGs land here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

if __name__ == "__main__":
    environment = {**os.environ, "REGNOTIFY_UPDATE_SCREENSHOTS": "1"}
    command = [sys.executable, "-m", "pytest", "-q", "tests/browser/test_screenshots.py"]
    sys.exit(subprocess.call(command, cwd=ROOT, env=environment))  # noqa: S603
