"""Hypothesis settings and strategies shared by the property tests: JSON values, hostile text, small sizes."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Every property test runs from a fixed seed (derandomize), with no example database and no deadline,
# so that a run in CI tries exactly what a run on a laptop tried.
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# Text of any code point, and often one of the awkward ones: lone surrogates (JSON's \ud800 escapes
# decode to them), NUL, line separators, quotes, and the template and glob syntax.
AWKWARD = "\ud800\udfff\x00\n\u2028\"'\\${}[]*?.$"
ANY_CHARACTER = st.characters(exclude_categories=()) | st.sampled_from(AWKWARD)
# (st.text drops surrogates whatever its alphabet, so the characters are joined by hand.)
any_text = st.lists(ANY_CHARACTER, max_size=24).map("".join)
# Text as a stored payload holds it: valid UTF-8 (the database could not have stored anything else).
utf8_text = st.text(max_size=24)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
)


def json_values(text: st.SearchStrategy[str] = any_text, max_leaves: int = 24) -> st.SearchStrategy[Any]:
    """Any JSON value (what ``json.loads`` can return), nested a few levels."""
    return st.recursive(
        scalars | text,
        lambda children: st.lists(children, max_size=6) | st.dictionaries(text, children, max_size=6),
        max_leaves=max_leaves,
    )


def mixed(known: list[Any], text: st.SearchStrategy[str] = any_text) -> st.SearchStrategy[Any]:
    """One of ``known`` (realistic values) or any JSON value, so that both deep and odd paths are tried."""
    return st.sampled_from(known) | st.sampled_from(known) | json_values(text, max_leaves=6)


def encodable(value: Any) -> bool:
    """Whether ``value`` can be written as JSON in UTF-8 (stored, sent, shown)."""
    try:
        json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError):  # UnicodeEncodeError is a ValueError
        return False
    return True
