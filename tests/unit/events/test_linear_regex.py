r"""ref-regex patterns in Python's syntax, run by RE2: same meaning as ``re.match``, refusals that name
the construct, and hostile patterns that finish (on Python's ``re`` these take longer than any test).

Python's ``re`` appears here only on short texts, as the reference for what a pattern means.
"""

from __future__ import annotations

import re
import unicodedata
import warnings

import pytest

from regnotify.events import linear_regex
from regnotify.events.linear_regex import MAX_PROGRAM_SIZE, PatternError, compiled, match_start, to_re2

# Patterns and texts on which RE2 must agree with re.match (ASCII texts without a final newline:
# the documented differences are \d \w \s \b on non-ASCII text and $ before a final newline).
SAME_MEANING: list[tuple[str, list[str]]] = [
    (r"^refs/heads/main$", ["refs/heads/main", "refs/heads/main2", "xrefs/heads/main", ""]),
    (
        r"^refs/tags/v[0-9]+\.[0-9]+",
        ["refs/tags/v1.2", "refs/tags/v1", "refs/tags/v12.3.4", "refs/tags/vX.1"],
    ),
    (r"heads/(main|release-.*)", ["heads/main", "refs/heads/main", "heads/release-1", "heads/releas"]),
    (r"(?i)^refs/heads/feature/.*", ["REFS/HEADS/FEATURE/x", "refs/heads/Feature/", "refs/heads/feat"]),
    (
        r"^refs/tags/v\d+\.\d+\.\d+(-[\w.]+)?$",
        ["refs/tags/v1.2.3", "refs/tags/v1.2.3-rc.1", "refs/tags/v1.2"],
    ),
    (r"refs/heads/main", ["refs/heads/main", "refs/heads/main-2", "x/refs/heads/main"]),
    (r"(?i)a|b", ["A", "B", "c"]),
    (r"a{,3}b", ["aaab", "b", "a{,3}b", "aaaab"]),  # RE2 alone would read {,3} as text
    (r"a{,}b", ["aaab", "b", "a{,}b"]),
    (r"a{}b{", ["a{}b{", "ab"]),
    (r"x{2}y{1,}z{0,2}?", ["xxyz", "xyz", "xxyyyzz"]),
    (r"[[:alpha:]]+", ["a", "[", ":", "]", "[]", "a]", "[:a"]),  # Python: a set of "[:alph", then "]"
    (r"a\Z", ["a", "ab"]),
    (r"\101\0\x41\u0041\U00000041\N{LATIN CAPITAL LETTER A}", ["AA\0AAAA", "A\0AAA"]),
    (r"[\101-\103]+$", ["ABC", "ABD"]),
    (r"[]a]+$", ["]a]", "b"]),
    (r"[^]a]", ["]", "b"]),
    (r"[a-]", ["-", "a", "b"]),
    (r"[-a]", ["-", "b"]),
    (r"[\b]", ["\b", "b"]),
    (r"[\d_-]+$", ["1_-", "a"]),
    (r"[^\W\d]+$", ["ab", "a1"]),
    (r"\bfoo\b", ["foo bar", "foobar", "foo"]),
    (r"\Bo", ["o", "fo"]),
    (r"\Afoo", ["foo", "xfoo"]),
    (r"(?P<name>a+)(?#a comment)b", ["aab", "b"]),
    (r"a(?#comment)*b", ["aaab", "b"]),
    (r"(?s:a.b)", ["a\nb", "axb"]),
    (r"a.b", ["a\nb", "axb"]),
    (r"(?m).*^b", ["a\nb", "ab"]),
    (r"(?u)\w+$", ["abc", "a-b"]),
    (r"(?a)\w+$", ["abc", "a-b"]),
    (r"(?-i:a)(?i:B)", ["ab", "Ab", "aB"]),
    (r"\.\*\+\?\[\]\(\)\{\}\|\^\$\\", [".*+?[](){}|^$\\", "x"]),
    (r"a#b c\t", ["a#b c\t", "a#bc\t"]),
    (r"é+ü", ["éééü", "eü"]),
    (r"(?i)éß", ["ÉSS", "Éß", "éß"]),
    (r"[&&a]+$", ["&", "a&", "b"]),
    (r"[a-z&&[^x]]", ["a&&[^x]", "b]"]),
    (r"a*?b|a+?c|a??d|a{2,3}?e", ["aab", "aac", "ad", "aaae"]),
    (r"(a|b)*c(d|e)?", ["ababc", "abce", "abd"]),
    (r"\d+", ["123", "x1"]),
    (r"\s\S", [" a", "  "]),
]


def python_matches(pattern: str, text: str) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # "Possible nested set": meant here
        return re.match(pattern, text) is not None


@pytest.mark.parametrize(("pattern", "texts"), SAME_MEANING)
def test_re2_means_what_python_means(pattern: str, texts: list[str]) -> None:
    assert not isinstance(compiled(pattern), str), compiled(pattern)
    for text in texts:
        assert match_start(pattern, text) is python_matches(pattern, text), (pattern, to_re2(pattern), text)


def test_known_differences_from_python() -> None:
    """As documented: RE2's \\d \\w \\s \\b are ASCII; its $ does not match before a final newline."""
    assert match_start(r"\d+$", "١٢٣") is False and python_matches(r"\d+$", "١٢٣") is True
    assert match_start(r"\w+$", "fünf") is False and python_matches(r"\w+$", "fünf") is True
    assert match_start(r"a$", "a\n") is False and python_matches(r"a$", "a\n") is True
    assert match_start(r"a\Z", "a\n") is False and python_matches(r"a\Z", "a\n") is False


def test_literals_are_spelled_so_that_re2_reads_them_as_text() -> None:
    assert to_re2("refs/heads/main") == r"refs\x{2f}heads\x{2f}main"
    assert to_re2(r"[[:alpha:]]") == r"[\x{5b}\x{3a}alpha\x{3a}]\x{5d}"
    assert to_re2(r"a{,3}\Z") == r"a{0,3}\z"
    assert to_re2(r"(?P<n>x)(?#c)(?u)(?ai:y)") == r"(x)(?i:y)"


@pytest.mark.parametrize(
    ("pattern", "construct"),
    [
        (r"(a)\1", r"a backreference (\1)"),
        (r"(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)(l)\12", r"a backreference (\12)"),
        (r"(?P<x>a)(?P=x)", "a named backreference ((?P=name))"),
        (r"refs/(?=heads)", "a lookahead ((?=...))"),
        (r"refs/(?!tags)", "a negative lookahead ((?!...))"),
        (r"(?<=refs/)heads", "a lookbehind ((?<=...))"),
        (r"(?<!refs/)heads", "a negative lookbehind ((?<!...))"),
        (r"(?>a+)b", "an atomic group ((?>...))"),
        (r"a++b", "a possessive quantifier (++)"),
        (r"a*+b", "a possessive quantifier (*+)"),
        (r"a?+b", "a possessive quantifier (?+)"),
        (r"a{2,3}+b", "a possessive quantifier ({2,3}+)"),
        (r"(a)?(?(1)b|c)", "a conditional group ((?(1)...|...))"),
    ],
)
def test_refusals_name_the_construct(pattern: str, construct: str) -> None:
    re.compile(pattern)  # valid Python: only RE2 cannot run it
    with pytest.raises(PatternError) as info:
        linear_regex.check(pattern)
    assert str(info.value) == f"uses {construct}, which cannot be matched in linear time"


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        (r"(?x) a b ", "uses verbose mode ((?x)), which RE2 does not have"),
        (r"a{1001}", "uses a repetition count above 1000 ({1001}), more than RE2 allows"),
        (r"(a{100}){100}", "nests repetitions whose counts multiply to more than 1000"),
        (
            r"x{0,999}",
            f"its repetitions alone need at least 1998 RE2 instructions; at most {MAX_PROGRAM_SIZE}",
        ),
        (r"(?s).{0,499}", f"RE2 compiles it to 3996 instructions; at most {MAX_PROGRAM_SIZE} are allowed"),
    ],
)
def test_other_refusals(pattern: str, message: str) -> None:
    re.compile(pattern)
    with pytest.raises(PatternError, match=re.escape(message)):
        linear_regex.check(pattern)


def test_other_re2_errors_are_reported_in_re2s_words() -> None:
    """A stored pattern Python never accepted, which the translation passes through to RE2."""
    assert compiled("a**") == "cannot be run by RE2: bad repetition operator: **"


def test_realistic_long_patterns_fit() -> None:
    branches = "|".join(f"release-{i}\\.x|hotfix-{i}" for i in range(25))
    for pattern in (
        rf"^refs/heads/({branches})$",
        r"^refs/heads/[a-z0-9._-]{1,100}$",
        "refs/heads/" + "x" * 500,
    ):
        linear_regex.check(pattern)


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        (r"^(a+)+$", "a" * 4096 + "!", False),
        (r"^(a+)+$", "a" * 4096, True),
        (r"^(a|aa)+$", "a" * 4095 + "!", False),
        (r"^(a|a?)+$", "a" * 4095 + "!", False),
        (r"(.*a){20}", "a" * 4096, True),
        (r"(.*a){20}x", "a" * 4096, False),
        (r"^(\w+\s?)*$", "word " * 800 + "!", False),
        (r"(x+x+)+y", "x" * 4096, False),
        (r"(?i)^(A+)+$", "a" * 4095 + "!", False),
    ],
)
def test_hostile_patterns_are_matched_correctly(pattern: str, text: str, expected: bool) -> None:
    """Each of these backtracks for hours or more in Python's re on this text; RE2 answers at once."""
    assert match_start(pattern, text) is expected


def test_match_is_anchored_at_the_start_only() -> None:
    assert match_start("b", "ab") is False
    assert match_start("a", "ab") is True
    assert match_start("a|b", "ba") is True


def test_unrunnable_patterns_give_none_and_never_raise() -> None:
    for pattern in (r"(a)\1", "(unclosed", "\\", "[z-a]", r"\q", "a{5,2}", "(?<name>a)"):
        assert match_start(pattern, "aa") is None, pattern
    assert match_start("a", "a\ud800") is False  # text no stored ref can hold
    assert match_start("\ud800", "\ud800") is False  # nor can a ref hold the surrogate this pattern wants


def test_escape_edge_cases_translate_or_refuse() -> None:
    assert to_re2(r"\N{DIGIT ONE}\x7e\u00e9") == r"1\x{7e}\x{e9}"
    assert to_re2(r"[\0\7\12\101]") == r"[\x{0}\x{7}\x{a}A]"
    for bad in (r"\N{NOT A NAME}", r"\N", r"\x4", r"\u12", r"\400", r"[\8]", "(?", "(?P<x", "(?#", "(?q)"):
        with pytest.raises(PatternError):
            to_re2(bad)


def test_unicode_named_characters_resolve_as_python_does() -> None:
    name = unicodedata.name("é")
    assert match_start(rf"\N{{{name}}}+$", "éé") is True
