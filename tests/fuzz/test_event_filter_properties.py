"""Event-config filters on arbitrary configs and payloads: EventConfigError or a storable config, no crash.

For every event kind: ``validate_config`` raises EventConfigError (a 400) or returns a config
that can be stored as UTF-8 JSON and that ``matches`` then applies to any payload, returning a
bool. ``matches`` also never raises on a stored value it did not normalize (an old or odd row).

ref-regex runs on RE2 but keeps Python's meaning: on generated patterns of the syntax RE2 can run
and short ASCII refs, it matches exactly when ``re.match`` does (Python's ``re`` is the reference
here only: the refs are too short for its backtracking to matter).
"""

from __future__ import annotations

import re
import warnings
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from regnotify.events import EVENT_KINDS, EventConfigError
from regnotify.events.filters import MAX_PATTERNS
from regnotify.events.linear_regex import compiled, match_start

from .strategies import FUZZ, any_text, encodable, json_values, mixed, utf8_text

EXAMPLES = 300

REF_REGEXES = [
    "",
    " ",
    "^refs/heads/main$",
    "refs/tags/v.*",
    "^(a+)+$",
    "(a)\\1",
    "refs/(?!tags)",
    "a{1001}",
    "(?x) a",
    "(",
    "[a-",
    "a{99999999999}",
    "(?P<x>",
    "\\",
    "v\ud800",
]
TAG_PATTERNS = [
    [],
    ["v*"],
    ["latest", "v[0-9]*"],
    ["*"] * (MAX_PATTERNS + 1),
    [""],
    ["x" * 300],
    [None],
    "v*",
    ["\udfff"],
]
LEVELS = [0, 5, 6, -1, "0", "3", "High", "critical", " low ", "Unknown", "severe", True, 1.5, "9999999"]
DAYS = [1, 365, 0, 366, "7", " 30 ", "7 days", -1, True, 2.0, "1e3", "０"]

filter_values = {
    "ref-regex": mixed(REF_REGEXES),
    "tag-patterns": mixed(TAG_PATTERNS) | st.lists(any_text, max_size=8),
    "level": mixed(LEVELS),
    "days": mixed(DAYS),
}


@st.composite
def configs(draw: st.DrawFn) -> tuple[str, Any]:
    """An event kind and a config for it: mostly its own keys with odd values, sometimes anything."""
    name = draw(st.sampled_from(sorted(EVENT_KINDS)))
    kind = EVENT_KINDS[name]
    own = {key: filter_values[key] for key in kind.config_keys}
    config = draw(
        st.fixed_dictionaries(own)
        | st.fixed_dictionaries(own)
        | st.fixed_dictionaries({}, optional=own)
        | st.dictionaries(any_text, json_values(), max_size=3)
        | json_values()
    )
    return name, config


@st.composite
def payloads(draw: st.DrawFn, name: str) -> Any:
    """A stored payload: the kind's sample with fields replaced by anything (valid UTF-8, as stored)."""
    sample = dict(EVENT_KINDS[name].sample_data)
    for key in draw(st.lists(st.sampled_from([*sample, "trigger_metadata", "vulnerability", "expiring_in"]))):
        sample[key] = draw(json_values(utf8_text))
    if draw(st.booleans()):
        sample["trigger_metadata"] = {"ref": draw(utf8_text)}
        sample["expiring_in"] = draw(st.sampled_from(["1 days", "30 day", " 7 days ", "x days"]) | utf8_text)
    return sample if draw(st.integers(0, 9)) else draw(json_values(utf8_text))


@settings(FUZZ, max_examples=EXAMPLES)
@given(data=st.data(), case=configs())
def test_validate_then_match_never_crashes(data: st.DataObject, case: tuple[str, Any]) -> None:
    name, config = case
    kind = EVENT_KINDS[name]
    try:
        normalized = kind.validate_config(config)
    except EventConfigError as exc:
        assert str(exc)
        return
    assert isinstance(normalized, dict)
    assert encodable(normalized), normalized
    assert set(normalized) <= set(kind.config_keys)
    assert isinstance(kind.matches(normalized, data.draw(payloads(name))), bool)


@settings(FUZZ, max_examples=EXAMPLES)
@given(data=st.data(), name=st.sampled_from(sorted(EVENT_KINDS)), stored=json_values(utf8_text))
def test_matching_odd_stored_configs_never_crashes(data: st.DataObject, name: str, stored: Any) -> None:
    kind = EVENT_KINDS[name]
    payload = data.draw(payloads(name))
    assert isinstance(kind.matches(stored, payload), bool)
    if isinstance(payload, dict):  # what EventKind.matches hands its filters
        for flt in kind.filters:
            assert isinstance(flt.matches(stored, payload), bool)


# -- ref-regex: RE2 means what Python's re means ------------------------------------------------------

LITERALS = ["a", "b", "A", "1", "-", "/", ":", "_", " ", "{", "}", "{}", ",", "]"]
ESCAPES = ["\\.", "\\[", "\\{", "\\(", "\\*", "\\|", "\\$", "\\\\", "\\x61", "\\141", "\\0", "\\u0062", "\\t"]
ESCAPES += ["\\N{LATIN SMALL LETTER A}", "\\d", "\\D", "\\w", "\\W", "\\s", "\\S"]
ANCHORS = ["^", "$", "\\A", "\\Z", "\\b", "\\B"]
CLASS_ITEMS = ["a", "b-d", "A-Z", "0-9", "\\d", "\\w", "\\s", "\\W", "[", ":", "\\]", "\\-", "\\x41", "\\101"]
CLASS_ITEMS += ["\\b", "_", " ", "&", "~", "|", "^"]
QUANTIFIERS = ["*", "+", "?", "{2}", "{1,}", "{,2}", "{0,3}", "{1,2}", "{,}", "{0}"]
GROUPS = ["(", "(?:", "(?P<g>", "(?i:", "(?-i:", "(?s:", "(?m:", "(?a:"]
FLAGS = ["", "", "(?i)", "(?s)", "(?m)", "(?a)", "(?u)"]


@st.composite
def char_classes(draw: st.DrawFn) -> str:
    first = draw(st.sampled_from(["", "", "]", "-", "^"]))
    items = draw(st.lists(st.sampled_from(CLASS_ITEMS), min_size=0 if first else 1, max_size=4))
    last = draw(st.sampled_from(["", "", "-"]))
    return "[" + first + "".join(items) + last + "]"


atoms = st.sampled_from(LITERALS) | st.sampled_from(ESCAPES) | st.just(".") | char_classes()


def regexes() -> st.SearchStrategy[str]:
    """Python patterns built only of what RE2 can run (nested at most a few levels)."""

    def element(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        quantified = st.tuples(inner, st.sampled_from(QUANTIFIERS), st.sampled_from(["", "", "?"]))
        return inner | st.sampled_from(ANCHORS) | quantified.map("".join) | st.just("(?#note)")

    def sequences(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.lists(element(inner), min_size=1, max_size=4).map("".join)

    def grouped(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        alternatives = st.lists(sequences(inner), min_size=1, max_size=3).map("|".join)
        return st.tuples(st.sampled_from(GROUPS), alternatives).map(lambda t: t[0] + t[1] + ")")

    body = st.recursive(atoms, grouped, max_leaves=8)
    alternatives = st.lists(sequences(body), min_size=1, max_size=3).map("|".join)
    return st.tuples(st.sampled_from(FLAGS), alternatives).map("".join)


REF_TEXT = st.text(alphabet="ab-/.[]{}:,AB1 _\t*", max_size=10)


@settings(FUZZ, max_examples=EXAMPLES)
@given(pattern=regexes(), refs=st.lists(REF_TEXT, min_size=1, max_size=6))
def test_ref_regex_means_what_python_re_means(pattern: str, refs: list[str]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FutureWarning for "[[" and "&&": Python's meaning is the one kept
        try:
            python = re.compile(pattern)
        except (re.error, OverflowError, RecursionError):
            assume(False)
            return
    runnable = compiled(pattern)
    assert not isinstance(runnable, str), (pattern, runnable)
    for ref in refs:
        if ref or "\\B" not in pattern:  # Python before 3.14 never matches \B in an empty text; RE2 does
            assert match_start(pattern, ref) is (python.match(ref) is not None), (pattern, ref)
