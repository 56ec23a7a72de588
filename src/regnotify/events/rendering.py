"""HTML rendering of event messages: one Jinja2 environment with autoescape on, and safe links.

Every value from a payload is escaped. ``link(url, text)`` emits an anchor only for absolute
http(s) URLs; anything else (``javascript:``, relative paths, junk) is shown as plain text.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from jinja2 import ChainableUndefined, DictLoader, Environment, Template

MACROS = """\
{%- macro link(url, label) -%}
{%- if url | safe_url -%}<a href="{{ url }}">{{ label }}</a>{%- else -%}{{ label }}{%- endif -%}
{%- endmacro -%}
{%- macro tags(names, limit=20) -%}
{%- for name in names[:limit] -%}<code>{{ name }}</code>{% if not loop.last %}, {% endif %}{%- endfor -%}
{%- if names | length > limit %} (and {{ names | length - limit }} more){% endif -%}
{%- endmacro -%}
"""


def safe_url(value: object) -> str | None:
    """``value`` when it is an absolute http or https URL with a host, else None."""
    if not isinstance(value, str) or not value or len(value) > 4096:
        return None
    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return value


ENVIRONMENT = Environment(
    loader=DictLoader({"macros.html": MACROS}),
    autoescape=True,
    undefined=ChainableUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENVIRONMENT.filters["safe_url"] = safe_url


@lru_cache(maxsize=64)
def _compile(source: str) -> Template:
    return ENVIRONMENT.from_string(source)


def render_html(source: str, **context: Any) -> str:
    """Render a message template (which may import ``link`` and ``tags`` from "macros.html")."""
    return _compile(source).render(**context).strip()
