"""Config values that go into a URL path as exactly one segment (HipChat's room, Flowdock's token).

The HTTP client resolves dot segments, percent-encoded ones too (``%2e%2e``), so a value of
``..`` would climb out of the configured base URL. Validation refuses dot segments and the
characters that only make sense as URL syntax (``/ \\ ? # %``) and control characters; sending
percent-encodes everything else and refuses, without sending, what is still no single segment
(configs stored before validation refused it).
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

from regnotify.methods.base import MethodConfigError

URL_SYNTAX = frozenset("/\\?#%")
DOT_SEGMENTS = frozenset({".", ".."})
ALLOWED = 'not "." or "..", and without / \\ ? # % or control characters'


class NotOneSegment(ValueError):
    """A value that percent-encoding cannot make one path segment (empty, ``.`` or ``..``)."""


def is_one_segment(value: str) -> bool:
    """Whether ``value`` may be stored: no dot segment, no URL syntax, no control characters.

    Checked on the NFKC form too, so that look-alikes (a fullwidth "．", "／") do not pass.
    """
    for form in (value, unicodedata.normalize("NFKC", value)):
        if not form.strip() or form.strip() in DOT_SEGMENTS:
            return False
        if any(ch in URL_SYNTAX or unicodedata.category(ch)[0] == "C" for ch in form):
            return False
    return True


def check_segment(value: str, key: str, allowed: str) -> str:
    """``value`` if it can be one path segment, else MethodConfigError saying what is allowed."""
    if not is_one_segment(value):
        raise MethodConfigError(f"{key} must be {allowed}, {ALLOWED}: it goes into the URL path")
    return value


def path_segment(value: str, key: str) -> str:
    """``value`` percent-encoded as exactly one URL path segment; NotOneSegment when it cannot be.

    The message names ``key`` but never the value (a token is a secret).
    """
    segment = quote(value, safe="")
    if segment in DOT_SEGMENTS or not segment:
        raise NotOneSegment(
            f"{key} is not a single URL path segment (it is empty, '.' or '..'), so nothing was sent; "
            f"edit the notification and enter it again"
        )
    return segment
