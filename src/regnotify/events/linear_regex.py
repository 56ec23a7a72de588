r"""Regular expressions written for Python's ``re``, run by RE2 in time linear in the text.

``ref-regex`` filters are Python regular expressions applied with ``re.match`` (Quay's semantics:
anchored at the start only). Python's engine backtracks: ``^(a+)+$`` against 28 ``a`` and a ``!``
took 16 s, doubling with each further character. RE2 never backtracks, so a match costs at most
(text length x program size) steps. ``to_re2`` rewrites a pattern into RE2's syntax and
``compiled`` compiles it once (cached, bounded); ``RE2.match`` is also anchored at the start only.

Refused, naming the construct (``PatternError``), because RE2 cannot run them in linear time:
backreferences (``\1``, ``(?P=name)``), lookahead and lookbehind, atomic groups, possessive
quantifiers and conditionals; also verbose mode ``(?x)`` and repetition counts above 1000, which
RE2 does not have, and patterns whose RE2 program is too large (``MAX_PROGRAM_SIZE``).

Rewritten so that the meaning stays Python's: every literal is spelled ``\x{..}`` (so octal,
``\u``, ``\U`` and ``\N{...}`` escapes work, and ``[`` inside a class stays a ``[`` where RE2 would
read ``[[:alpha:]]`` as a POSIX class), ``\Z`` becomes RE2's ``\z``, ``{,n}`` and ``{,}`` become
``{0,n}`` and ``{0,}`` (RE2 reads them as literal text), ``(?#...)`` comments and group names are
dropped (only whether the pattern matches counts), and the flags ``(?u)`` and ``(?a)`` are dropped.

Differences that remain: ``\d``, ``\w``, ``\s`` and ``\b`` are ASCII-only in RE2 (Unicode in
Python; spelling ``\w`` as a Unicode class costs ~1,350 RE2 instructions, which would put ordinary
patterns over the size limit); ``$`` matches only at the very end, not also before a final newline
(a git ref holds no newline); ``\B`` matches in an empty ref (as in Python 3.14, not before); and
``(?i)`` folds case by Unicode's simple folding in both engines, but under ``(?ai)`` RE2 still
folds a few non-ASCII letters such as the Kelvin sign.

Bounds: RE2 may use ``MAX_MEM`` bytes per compiled pattern (program and DFA cache); our cache holds
``CACHE_SIZE`` compiled patterns and the binding's own cache 128 more, so at most 384 MiB in the
worst case (ordinary patterns use a few KiB). A program has at most ``MAX_PROGRAM_SIZE``
instructions. When RE2's DFA cannot cope (patterns such as ``(a|b)*a(a|b){990}!``) RE2 falls back
to its NFA, whose cost is the text's length in bytes times the program size: the worst we measured
at these limits is ~80 ms for a 4,096-character ref (Python's ``re``: longer than the universe's
age), and half the limit would halve it. The program of every realistic pattern we tried stays
under ~510 instructions (a 500-character alternation of 60 branch names: 412;
``[a-z0-9._-]{1,100}``: 503), so the limit leaves twice that. Compiling takes at most a few
milliseconds: counted repetitions that alone exceed the limit are refused before RE2 compiles.
"""

from __future__ import annotations

import functools
import unicodedata

import re2

MAX_MEM = 1 << 20
MAX_PROGRAM_SIZE = 1000
MAX_REPEAT = 1000  # RE2's own limit on {n,m}
CACHE_SIZE = 256

LINEAR = "which cannot be matched in linear time"
OCTAL_DIGITS = frozenset("01234567")
HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
# Escapes that stand for one character: Python's ESCAPES table (\b is a backspace only in a class).
SIMPLE_ESCAPES = {"a": 7, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92}
# Group openings RE2 cannot run, longest first where one prefixes another.
REFUSED_GROUPS = (
    ("(?<=", "a lookbehind ((?<=...))"),
    ("(?<!", "a negative lookbehind ((?<!...))"),
    ("(?=", "a lookahead ((?=...))"),
    ("(?!", "a negative lookahead ((?!...))"),
    ("(?>", "an atomic group ((?>...))"),
    ("(?(", "a conditional group ((?(1)...|...))"),
    ("(?P=", "a named backreference ((?P=name))"),
)


class PatternError(ValueError):
    """A pattern RE2 cannot run; ``str(exc)`` completes "ref-regex …": "uses a backreference (\\1), …"."""


def literal(code: int) -> str:
    """One character as RE2 reads it literally, in or out of a class, whatever it is."""
    char = chr(code)
    if char.isascii() and (char.isalnum() or char == "_"):
        return char
    return f"\\x{{{code:x}}}"


class _Translator:
    """One left-to-right pass over a Python pattern, writing the RE2 pattern that means the same."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.at = 0
        self.repeated = 0  # instructions the counted repetitions need at least: {m,n} takes m + 2(n - m)

    def peek(self, ahead: int = 0) -> str:
        index = self.at + ahead
        return self.pattern[index] if index < len(self.pattern) else ""

    def run(self) -> str:
        out: list[str] = []
        while self.at < len(self.pattern):
            char = self.pattern[self.at]
            if char == "\\":
                out.append(self.escape(in_class=False)[0])
            elif char == "[":
                self.at += 1
                out.append(self.char_class())
            elif char == "(":
                out.append(self.group())
            elif char in "*+?":
                self.at += 1
                out.append(char + self.quantifier_suffix(char))
            elif char == "{" and (counted := self.counted_repeat()) is not None:
                out.append(counted + self.quantifier_suffix(counted))
            elif char in ".^$|)":
                self.at += 1
                out.append(char)
            else:
                self.at += 1
                out.append(literal(ord(char)))
        return "".join(out)

    def quantifier_suffix(self, quantifier: str) -> str:
        """``?`` for a lazy quantifier; a possessive one (``a++``) is refused."""
        if self.peek() == "?":
            self.at += 1
            return "?"
        if self.peek() == "+":
            raise PatternError(f"uses a possessive quantifier ({quantifier}+), {LINEAR}")
        return ""

    def counted_repeat(self) -> str | None:
        """``{m}``, ``{m,}``, ``{,n}``, ``{m,n}`` or ``{,}`` in RE2's spelling; None for a literal ``{``."""
        pattern, end = self.pattern, self.at + 1
        low = high = ""
        while end < len(pattern) and pattern[end].isdigit() and pattern[end].isascii():
            low += pattern[end]
            end += 1
        comma = end < len(pattern) and pattern[end] == ","
        if comma:
            end += 1
            while end < len(pattern) and pattern[end].isdigit() and pattern[end].isascii():
                high += pattern[end]
                end += 1
        if end >= len(pattern) or pattern[end] != "}" or end == self.at + 1:
            return None
        text = pattern[self.at : end + 1]
        if any(len(count) > 4 or int(count) > MAX_REPEAT for count in (low, high) if count):
            raise PatternError(f"uses a repetition count above {MAX_REPEAT} ({text}), more than RE2 allows")
        self.at = end + 1
        minimum = int(low or "0")
        maximum = int(high) if high else minimum
        self.repeated += minimum + 2 * max(0, maximum - minimum)
        if not comma:
            return f"{{{minimum}}}"
        return f"{{{minimum},{high}}}"

    def escape(self, in_class: bool) -> tuple[str, int | None]:
        """The escape at the cursor: RE2's spelling, and its character code when it stands for one."""
        escaped = self.peek(1)
        if not escaped:
            raise PatternError("ends with a lone backslash")
        self.at += 2
        if escaped in "dDsSwW":
            return "\\" + escaped, None
        if not in_class and escaped in "AbB":
            return "\\" + escaped, None
        if not in_class and escaped in "Zz":
            return r"\z", None
        if in_class and escaped == "b":
            return literal(8), 8
        if escaped in SIMPLE_ESCAPES:
            code = SIMPLE_ESCAPES[escaped]
        elif escaped in "xuU":
            code = self.hex_code({"x": 2, "u": 4, "U": 8}[escaped], escaped)
        elif escaped == "N":
            code = self.named_code()
        elif escaped == "0" or (in_class and escaped in OCTAL_DIGITS):
            code = self.octal_code(escaped, more=2)
        elif escaped.isdigit() and escaped.isascii():
            if in_class:
                raise PatternError(f"uses the escape \\{escaped} in a character class, which is not valid")
            if escaped in OCTAL_DIGITS and self.peek() in OCTAL_DIGITS and self.peek(1) in OCTAL_DIGITS:
                code = self.octal_code(escaped, more=2)
            else:
                number = escaped + (self.peek() if self.peek().isdigit() and self.peek().isascii() else "")
                raise PatternError(f"uses a backreference (\\{number}), {LINEAR}")
        elif escaped.isascii() and escaped.isalnum():
            raise PatternError(f"uses the escape \\{escaped}, which is not valid")
        else:
            code = ord(escaped)
        return literal(code), code

    def hex_code(self, digits: int, letter: str) -> int:
        text = self.pattern[self.at : self.at + digits]
        if len(text) != digits or any(d not in HEX_DIGITS for d in text) or int(text, 16) > 0x10FFFF:
            raise PatternError(f"uses an incomplete or invalid \\{letter} escape")
        self.at += digits
        return int(text, 16)

    def named_code(self) -> int:
        end = self.pattern.find("}", self.at)
        if self.peek() != "{" or end < 0:
            raise PatternError("uses a \\N escape without {name}")
        name = self.pattern[self.at + 1 : end]
        try:
            code = ord(unicodedata.lookup(name))
        except KeyError:
            raise PatternError(f"uses \\N{{{name}}}, which names no character") from None
        self.at = end + 1
        return code

    def octal_code(self, first: str, more: int) -> int:
        text = first
        while len(text) <= more and self.peek() in OCTAL_DIGITS:
            text += self.peek()
            self.at += 1
        if int(text, 8) > 0o377:
            raise PatternError(f"uses the octal escape \\{text}, above \\377")
        return int(text, 8)

    def char_class(self) -> str:
        """The class after its ``[``, item by item as Python reads it (``]`` first is a literal)."""
        negate = self.peek() == "^"
        if negate:
            self.at += 1
        items: list[str] = []
        while True:
            if not self.peek():
                raise PatternError("has an unterminated character set")
            if self.peek() == "]" and items:
                self.at += 1
                break
            first, low = self.class_atom()
            if self.peek() == "-" and self.peek(1) == "]":
                items += [first, literal(ord("-"))]
                self.at += 2
                break
            if self.peek() == "-" and self.peek(1):
                self.at += 1
                last, high = self.class_atom()
                if low is None or high is None or high < low:
                    raise PatternError("has a bad character range")
                items.append(f"{first}-{last}")
            else:
                items.append(first)
        return "[" + ("^" if negate else "") + "".join(items) + "]"

    def class_atom(self) -> tuple[str, int | None]:
        if self.peek() == "\\":
            return self.escape(in_class=True)
        code = ord(self.peek())
        self.at += 1
        return literal(code), code

    def group(self) -> str:
        """A group's opening: kept, simplified, dropped (comments) or refused."""
        pattern, at = self.pattern, self.at
        if not pattern.startswith("(?", at):
            self.at += 1
            return "("
        for opening, construct in REFUSED_GROUPS:
            if pattern.startswith(opening, at):
                raise PatternError(f"uses {construct}, {LINEAR}")
        if pattern.startswith("(?:", at):
            self.at += 3
            return "(?:"
        if pattern.startswith(("(?P<", "(?#"), at):
            end = pattern.find(">" if pattern[at + 2] == "P" else ")", at + 3)
            if end < 0:
                raise PatternError("has an unterminated group name or comment")
            self.at = end + 1
            return "(" if pattern[at + 2] == "P" else ""
        return self.flags()

    def flags(self) -> str:
        """``(?ims)`` or ``(?ims-ims:``: RE2 has i, m and s; a and u are dropped; x is refused."""
        pattern, end = self.pattern, self.at + 2
        on = off = ""
        while end < len(pattern) and pattern[end] in "aiLmsux":
            on += pattern[end]
            end += 1
        if end < len(pattern) and pattern[end] == "-":
            end += 1
            while end < len(pattern) and pattern[end] in "imsx":
                off += pattern[end]
                end += 1
        close = pattern[end] if end < len(pattern) else ""
        if close not in (")", ":") or not (on or off) or (close == ")" and off):
            raise PatternError(f"uses an unknown group opening ({pattern[self.at : end + 1]})")
        if "x" in on:
            raise PatternError(
                "uses verbose mode ((?x)), which RE2 does not have; write the pattern without it"
            )
        self.at = end + 1
        kept_on = "".join(flag for flag in on if flag in "ims")
        kept_off = "".join(flag for flag in off if flag in "ims")
        if close == ")":
            return f"(?{kept_on})" if kept_on else ""
        return f"(?{kept_on}{'-' + kept_off if kept_off else ''}:"


def to_re2(pattern: str) -> str:
    """``pattern`` (Python ``re`` syntax) in RE2's syntax; PatternError names what RE2 cannot run.

    Counted repetitions needing more than MAX_PROGRAM_SIZE instructions are refused here, before RE2
    spends up to tens of milliseconds compiling a program that the size limit would refuse anyway.
    """
    translator = _Translator(pattern)
    try:
        translated = translator.run()
    except (ValueError, IndexError, OverflowError) as exc:
        if isinstance(exc, PatternError):
            raise
        raise PatternError(f"is not a valid regular expression: {exc}") from None
    if translator.repeated > MAX_PROGRAM_SIZE:
        raise PatternError(
            f"is too complex: its repetitions alone need at least {translator.repeated} RE2 instructions; "
            f"at most {MAX_PROGRAM_SIZE} are allowed"
        )
    return translated


def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # RE2 would print every refused pattern to standard error
    options.max_mem = MAX_MEM
    options.never_capture = True  # only whether it matches counts; no groups lets RE2 use its DFA
    return options


OPTIONS = _options()


def program_size(regexp: object) -> int | None:
    """The number of instructions of a compiled pattern's RE2 program (None if the binding hides it)."""
    size = getattr(getattr(regexp, "_regexp", None), "ProgramSize", None)
    return size() if callable(size) else None


def _re2_reason(exc: Exception) -> str:
    text = exc.args[0] if exc.args else str(exc)
    message = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    if "pattern too large" in message:
        return f"is too large: RE2 would need more than {MAX_MEM // 1024} KiB to compile it"
    if "invalid repetition size" in message:
        return f"nests repetitions whose counts multiply to more than {MAX_REPEAT}, more than RE2 allows"
    return f"cannot be run by RE2: {message}"


@functools.lru_cache(maxsize=CACHE_SIZE)
def compiled(pattern: str) -> re2._Regexp | str:
    """``pattern`` (Python syntax) compiled by RE2, or why it cannot be (the text of a PatternError)."""
    try:
        regexp = re2.compile(to_re2(pattern), OPTIONS)
    except PatternError as exc:
        return str(exc)
    except (re2.error, TypeError, ValueError) as exc:
        return _re2_reason(exc)
    size = program_size(regexp)
    if size is not None and size > MAX_PROGRAM_SIZE:
        return (
            f"is too complex: RE2 compiles it to {size} instructions; at most {MAX_PROGRAM_SIZE} are allowed"
        )
    return regexp


def check(pattern: str) -> None:
    """Raise PatternError when RE2 cannot run ``pattern`` (Python syntax) within the bounds."""
    result = compiled(pattern)
    if isinstance(result, str):
        raise PatternError(result)


def match_start(pattern: str, text: str) -> bool | None:
    """Whether ``pattern`` matches at the start of ``text`` (``re.match``); None when RE2 cannot run it."""
    result = compiled(pattern)
    if isinstance(result, str):
        return None
    try:
        return result.match(text) is not None
    except UnicodeEncodeError:  # a lone surrogate: no ref that could be stored
        return False
