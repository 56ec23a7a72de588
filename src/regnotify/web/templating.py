"""The Jinja2 environment for pages: templates from this package, autoescape always on, a few filters."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from fastapi.templating import Jinja2Templates

TEMPLATES_DIR = Path(__file__).parent / "templates"


def when(value: datetime | None) -> str:
    """A timestamp as people read it: ``2026-11-29 10:04:05 UTC``; an em dash for none."""
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value is not None else "—"


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)


environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True, trim_blocks=True, lstrip_blocks=True
)
environment.filters["when"] = when
environment.filters["pretty_json"] = pretty_json
templates = Jinja2Templates(env=environment)
