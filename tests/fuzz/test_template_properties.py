"""The webhook template engine on arbitrary templates and payloads: TemplateError or sendable JSON, no crash.

A template accepted by the webhook config check (MethodConfigError otherwise, a 400) is text that
can be stored; rendering it against any stored payload either gives a document that encodes to
the bytes the webhook sends, or raises TemplateError (a failed delivery that says why).
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from regnotify.methods.base import MethodConfigError
from regnotify.methods.http_send import encode_json
from regnotify.methods.template import TemplateError, parse_path, render_template
from regnotify.methods.webhook import _check_template

from .strategies import FUZZ, any_text, json_values, utf8_text

EXAMPLES = 400

NAMES = ["repository", "updated_tags", "trigger_metadata", "ref", "a", "0", "key.with.dots", "", "-", "@"]
segments = st.one_of(
    st.sampled_from(NAMES).map(lambda name: f".{name}"),
    st.sampled_from(["[*]", ".*", "[0]", "[-1]", "[99999999999999999999]", "[", "]", "..", "[ 1 ]"]),
    st.sampled_from(NAMES).map(lambda name: f"['{name}']"),
    any_text.map(lambda text: f"[{json.dumps(text, ensure_ascii=False)}]"),
    any_text,
)
paths = st.tuples(st.sampled_from(["$", "", "$.", " "]), st.lists(segments, max_size=6)).map(
    lambda parts: parts[0] + "".join(parts[1])
)
expressions = paths.map(lambda path: "${" + path + "}")
template_strings = st.lists(expressions | any_text, max_size=5).map("".join)
templates = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | template_strings,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(template_strings, children, max_size=5),
    max_leaves=16,
)
template_texts = templates.map(lambda doc: json.dumps(doc, ensure_ascii=False)) | any_text | template_strings
payloads = st.fixed_dictionaries(
    {"repository": utf8_text, "updated_tags": st.lists(utf8_text, max_size=4)},
    optional={"trigger_metadata": json_values(utf8_text)},
) | json_values(utf8_text)


@settings(FUZZ, max_examples=EXAMPLES)
@given(expression=paths | any_text)
def test_parse_path_raises_only_template_error(expression: str) -> None:
    try:
        segments = parse_path(expression)
    except TemplateError as exc:
        assert str(exc)
        return
    assert isinstance(segments, tuple)


@settings(FUZZ, max_examples=EXAMPLES)
@given(template=template_texts | templates, payload=payloads)
def test_render_gives_sendable_json_or_template_error(template: Any, payload: Any) -> None:
    try:
        document = render_template(template, payload)
    except TemplateError as exc:
        assert str(exc)
        return
    assert isinstance(encode_json(document), bytes)


@settings(FUZZ, max_examples=EXAMPLES)
@given(template=template_texts | templates | json_values(), payload=payloads)
def test_accepted_templates_store_and_render(template: Any, payload: Any) -> None:
    try:
        stored = _check_template(template)
    except MethodConfigError as exc:
        assert str(exc)
        return
    if stored is None:
        return
    assert isinstance(stored.encode("utf-8"), bytes)  # the config is stored (encrypted) as UTF-8
    try:
        document = render_template(stored, payload)
    except TemplateError:
        return
    assert isinstance(encode_json(document), bytes)
