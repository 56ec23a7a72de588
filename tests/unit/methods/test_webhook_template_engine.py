"""The webhook template engine: Quay's jsontemplate semantics, paths, and limits."""

from __future__ import annotations

import json
from typing import Any

import pytest

from regnotify.methods import TemplateError, render_template
from regnotify.methods.template import Index, Key, Wildcard, parse_path

PAYLOAD: dict[str, Any] = {
    "repository": "acme/app",
    "namespace": "acme",
    "updated_tags": ["latest", "v1"],
    "pushed_image_count": 2,
    "public": False,
    "nothing": None,
    "trigger_metadata": {"commit": "abc123", "ref": "refs/heads/main"},
    "key.with.dots": "dotted",
    "images": [{"digest": "sha256:1", "size": 10}, {"digest": "sha256:2", "size": 20}],
    "weird key": {"it's": 1},
}


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("${repository}", "acme/app"),
        ("${$.repository}", "acme/app"),
        ("${ repository }", "acme/app"),
        ("${pushed_image_count}", 2),
        ("${public}", False),
        ("${nothing}", None),
        ("${missing}", None),
        ("${missing.deeper[0]}", None),
        ("${updated_tags}", ["latest", "v1"]),
        ("${updated_tags[0]}", "latest"),
        ("${updated_tags[-1]}", "v1"),
        ("${updated_tags[2]}", None),
        ("${updated_tags[*]}", ["latest", "v1"]),
        ("${updated_tags.*}", ["latest", "v1"]),
        ("${trigger_metadata}", {"commit": "abc123", "ref": "refs/heads/main"}),
        ("${trigger_metadata.commit}", "abc123"),
        ("${trigger_metadata.*}", ["abc123", "refs/heads/main"]),
        ("${['key.with.dots']}", "dotted"),
        ('${$["key.with.dots"]}', "dotted"),
        ("${$['weird key']['it\\'s']}", 1),
        ("${images[*].digest}", ["sha256:1", "sha256:2"]),
        ("${images[1].size}", 20),
        ("${images.*.size}", [10, 20]),
        ("${repository.length}", None),
        ("${repository[0]}", None),
        ("${images.digest}", None),
    ],
)
def test_whole_string_expressions_give_typed_values(expression: str, value: Any) -> None:
    assert render_template(json.dumps({"v": expression}), PAYLOAD) == {"v": value}


def test_dollar_alone_is_the_whole_payload() -> None:
    assert render_template('"${$}"', PAYLOAD) == PAYLOAD


def test_single_wildcard_match_is_the_value_not_a_list() -> None:  # as Quay: one match is the match
    assert render_template('"${a[*]}"', {"a": ["only"]}) == "only"


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("repo ${repository}", "repo acme/app"),
        ("${namespace}/${repository}", "acme/acme/app"),
        ("count=${pushed_image_count}", "count=2"),
        ("public=${public}", "public=false"),
        ("tags: ${updated_tags[*]}", "tags: latest,v1"),
        ("list: ${updated_tags}", 'list: ["latest", "v1"]'),
        ("meta: ${trigger_metadata}", 'meta: {"commit": "abc123", "ref": "refs/heads/main"}'),
        ("gone: ${missing}", "gone: (none)"),
        ("null: ${nothing}", "null: (none)"),
        ("sizes ${images[*].size}!", "sizes 10,20!"),
        ("no expressions here", "no expressions here"),
        ("a $ sign and {braces}", "a $ sign and {braces}"),
        ("", ""),
    ],
)
def test_expressions_inside_text(text: str, rendered: str) -> None:
    assert render_template(json.dumps([text]), PAYLOAD) == [rendered]


def test_several_matches_in_text_join_with_a_bare_comma_like_quay() -> None:
    """Quay's util/jsontemplate.py joins several matches of an inline expression with "," (no space)."""
    payload = {"tags": ["latest", "v1", "v2"], "o": {"a": 1, "b": "x"}}
    assert render_template('"tags: ${tags[*]}"', payload) == "tags: latest,v1,v2"
    assert render_template('{"k ${o.*}": "${o.*}"}', payload) == {"k 1,x": [1, "x"]}


def test_keys_are_rendered_as_text() -> None:
    template = {"${repository}": 1, "tag-${updated_tags[0]}": "${updated_tags[0]}", "${missing}": True}
    assert render_template(template, PAYLOAD) == {"acme/app": 1, "tag-latest": "latest", "(none)": True}


def test_non_string_values_and_nesting_are_kept() -> None:
    template = '{"n": 1, "f": 1.5, "b": true, "z": null, "l": [1, {"r": "${repository}"}], "o": {}}'
    assert render_template(template, PAYLOAD) == {
        "n": 1,
        "f": 1.5,
        "b": True,
        "z": None,
        "l": [1, {"r": "acme/app"}],
        "o": {},
    }


def test_any_json_document_is_a_template() -> None:
    assert render_template("5", PAYLOAD) == 5
    assert render_template('"${namespace}"', PAYLOAD) == "acme"
    assert render_template("[]", PAYLOAD) == []


def test_applying_to_an_empty_payload_works_like_quays_check() -> None:
    template = '{"text": "${repository} pushed ${updated_tags[*]}", "tags": "${updated_tags}"}'
    assert render_template(template, {}) == {"text": "(none) pushed (none)", "tags": None}


def test_the_payload_is_not_changed_and_output_is_independent() -> None:
    payload = {"a": {"b": [1]}}
    before = json.dumps(payload)
    render_template('{"x": "${a}"}', payload)
    assert json.dumps(payload) == before


def test_no_attribute_access_or_evaluation() -> None:
    payload = {"a": "text"}
    for expression in ("${a.__class__}", "${a.upper}", "${__import__}"):
        assert render_template(json.dumps(expression), payload) is None
    for bad in ("${a.upper()}", "${1+1}", "${a | b}", "${{{7*7}}}"):
        with pytest.raises(TemplateError):
            render_template(json.dumps(bad), payload)


def test_parse_path() -> None:
    assert parse_path("$.a[0]['b.c'].*[*]") == (Key("a"), Index(0), Key("b.c"), Wildcard(), Wildcard())
    assert parse_path("a.b") == (Key("a"), Key("b"))
    assert parse_path("$") == ()
    assert parse_path("a['b]x']") == (Key("a"), Key("b]x"))
    with pytest.raises(TemplateError, match="unclosed quote"):
        parse_path("a['b")


def test_closing_brace_inside_a_quoted_key() -> None:
    assert render_template("\"${['a}b']}\"", {"a}b": 7}) == 7


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{not json", "not valid JSON"),
        ("", "not valid JSON"),
        ('{"a": 1,}', "not valid JSON"),
        ('{"a": NaN}', "NaN is not valid JSON"),
        ('{"a": Infinity}', "not valid JSON"),
        ('{"a": 1e999}', "out of range"),
        ('"${unclosed"', "unclosed \\$\\{"),
        ('"text ${a.b"', "unclosed"),
        ('"${}"', "empty expression"),
        ('"${   }"', "empty expression"),
        ('"${a..b}"', "recursive descent"),
        ('"${a[}"', "unclosed \\["),
        ('"${a[x]}"', "expected \\*, a number or a quoted key"),
        ('"${a[0}"', "expected \\]"),
        ('"${a[\'b]}"', "unclosed"),
        ('"${$repository}"', "unexpected 'r'"),
        ('"${a.}"', "expected a key name"),
        ('"${a b}"', "unexpected ' '"),
        ('"${a[0:2]}"', "expected \\]"),
        ('"${' + "a" * 257 + '}"', "longer than 256"),
        ("[" * 33 + "]" * 33, "nested deeper than 32"),
        ('{"a":' * 33 + "1" + "}" * 33, "nested deeper than 32"),
        ("[" * 100_000, "larger than 64 KiB"),
        ('"' + "é" * 40_000 + '"', "larger than 64 KiB"),
    ],
)
def test_template_errors(template: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        render_template(template, PAYLOAD)


@pytest.mark.parametrize(
    "template",
    ['{"a": "\ud800"}', '{"a": "\\udfff"}', '{"\\ud800": 1}', {"a": ["x\ud800"]}, {"\udfff": 1}],
)
def test_lone_surrogates_are_refused(template: Any) -> None:
    """Text UTF-8 cannot hold, literal or as a JSON escape: once stored, then a 500 and an unsendable body."""
    with pytest.raises(TemplateError, match="lone surrogate"):
        render_template(template, PAYLOAD)


def test_escaped_surrogate_pairs_are_text() -> None:
    assert render_template('{"a": "\\ud83d\\ude00 ${repository}"}', PAYLOAD) == {"a": "\U0001f600 acme/app"}


def test_depth_32_is_allowed() -> None:
    assert render_template("[" * 32 + "]" * 32, {}) is not None
    assert render_template('"${' + "a" * 256 + '}"', {}) is None


@pytest.mark.parametrize(
    "template",
    [5, None, {1: "x"}, {"a": {1, 2}}, {"a": float("nan")}, [object()], b"{}"],
)
def test_python_templates_must_be_json(template: Any) -> None:
    with pytest.raises(TemplateError):
        render_template(template, PAYLOAD)


def test_deep_python_templates_are_refused() -> None:
    deep: list[Any] = []
    for _ in range(100):
        deep = [deep]
    with pytest.raises(TemplateError, match="nested deeper"):
        render_template(deep, {})
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with pytest.raises(TemplateError, match="nested deeper"):
        render_template(loop, {})


def test_output_is_capped_at_one_mebibyte() -> None:
    payload = {"big": "x" * 100_000}
    assert len(render_template(json.dumps(["${big}"] * 10), payload)) == 10
    with pytest.raises(TemplateError, match="larger than 1024 KiB"):
        render_template(json.dumps(["${big}"] * 11), payload)
    with pytest.raises(TemplateError, match="larger than 1024 KiB"):
        render_template(json.dumps(["a ${big}"] * 11), payload)
    with pytest.raises(TemplateError, match="larger than 1024 KiB"):
        render_template(json.dumps(["${$}"] * 20), {"big": ["y" * 60_000]})


def test_many_expansions_of_a_large_payload_stop_early() -> None:
    payload = {"big": "x" * 1_000_000}
    with pytest.raises(TemplateError, match="larger than"):
        render_template(json.dumps(["${big}"] * 5000), payload)


def test_unserialisable_payload_values_become_errors_not_crashes() -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with pytest.raises(TemplateError):
        render_template('"x ${a}"', {"a": loop})
