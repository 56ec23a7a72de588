"""Shared payload types: bounded strings, tag names, digests, and the build trigger metadata (commit,
author...).

Every event's own fields are validated strictly (``EventData``: no unknown fields, no type
coercion). ``trigger_metadata`` is the exception: CI systems add their own keys to it, so its
models keep unknown keys (they must be plain JSON values) while the declared ones are type-checked.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from regnotify.events.reading import is_unicode_text

MAX_TEXT = 4096
MAX_LONG_TEXT = 65536
MAX_ITEMS = 1000
MAX_JSON_DEPTH = 16
MAX_JSON_NODES = 10000

Text = Annotated[str, StringConstraints(max_length=MAX_TEXT)]
NonEmptyText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT)]
LongText = Annotated[str, StringConstraints(max_length=MAX_LONG_TEXT)]
TextList = Annotated[list[NonEmptyText], Field(max_length=MAX_ITEMS)]

TAG_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")


def _check_tag(value: str) -> str:
    if not TAG_PATTERN.fullmatch(value):
        raise PydanticCustomError(
            "tag_name",
            "invalid tag name: a tag is 1 to 128 letters, digits, '_', '.' or '-' "
            "and does not start with '.' or '-'",
        )
    return value


TagName = Annotated[str, StringConstraints(max_length=MAX_TEXT), AfterValidator(_check_tag)]

MAX_DIGEST = 255
# The OCI image spec's digest grammar: algorithm ":" encoded.
DIGEST_PATTERN = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")


def _check_digest(value: str) -> str:
    if not DIGEST_PATTERN.fullmatch(value):
        raise PydanticCustomError(
            "digest", "invalid digest: a manifest digest is algorithm:hex, such as sha256:<64 hex digits>"
        )
    return value


Digest = Annotated[str, StringConstraints(max_length=MAX_DIGEST), AfterValidator(_check_digest)]


def _check_date(value: object) -> int | str:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and len(value) <= 64:
        return value
    raise PydanticCustomError(
        "commit_date", "Input should be a Unix timestamp (integer) or a date string of at most 64 characters"
    )


CommitDate = Annotated[int | str, PlainValidator(_check_date, json_schema_input_type=int | str)]


class EventData(BaseModel):
    """An event's own fields: strict types, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", strict=True)


class OpenData(BaseModel):
    """Declared fields are type-checked; other keys are kept when they are plain, bounded JSON values."""

    model_config = ConfigDict(extra="allow", strict=True)

    @model_validator(mode="after")
    def _extras_are_json(self) -> OpenData:
        for key, value in (self.model_extra or {}).items():
            problem = json_problem(value)
            if problem:
                raise PydanticCustomError("json_value", "{key}: {problem}", {"key": key, "problem": problem})
        return self


LONE_SURROGATE = "text must be Unicode, not lone surrogates such as \\ud800"


def json_problem(value: Any) -> str | None:
    """Why ``value`` is not a plain JSON value of bounded size, or None when it is one."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    nodes = 0
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if nodes > MAX_JSON_NODES:
            return f"too many values (at most {MAX_JSON_NODES})"
        if depth > MAX_JSON_DEPTH:
            return f"nested too deeply (at most {MAX_JSON_DEPTH} levels)"
        if item is None or isinstance(item, bool | int):
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                return "numbers must be finite"
        elif isinstance(item, str):
            if len(item) > MAX_LONG_TEXT:
                return f"strings must be at most {MAX_LONG_TEXT} characters"
            if not is_unicode_text(item):
                return LONE_SURROGATE
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, dict):
            if not all(isinstance(k, str) for k in item):
                return "object keys must be strings"
            if not all(is_unicode_text(k) for k in item):
                return LONE_SURROGATE
            stack.extend((child, depth + 1) for child in item.values())
        else:
            return "must be a JSON value (string, number, boolean, null, array or object)"
    return None


class Person(OpenData):
    """A commit author or committer in the source control system."""

    username: NonEmptyText
    url: Text | None = None
    avatar_url: Text | None = None


class CommitInfo(OpenData):
    """What the source control system says about the commit a build is for."""

    url: Text | None = None
    message: LongText
    date: CommitDate | None = None
    author: Person | None = None
    committer: Person | None = None


class TriggerMetadata(OpenData):
    """The git details of the trigger that started a build."""

    default_branch: Text | None = None
    ref: Text | None = None
    commit: Text | None = None
    commit_info: CommitInfo | None = None


SAMPLE_TRIGGER_METADATA: dict[str, Any] = {
    "default_branch": "master",
    "ref": "refs/heads/somebranch",
    "commit": "42d4a62c53350993ea41069e9f2cfdefb0df097d",
    "commit_info": {
        "url": "http://path/to/the/commit",
        "message": "Some commit message",
        "date": 2395748365,
        "author": {
            "username": "fakeauthor",
            "url": "http://path/to/fake/author/in/scm",
            "avatar_url": "http://www.gravatar.com/avatar/fakehash",
        },
        "committer": {
            "username": "fakecommitter",
            "url": "http://path/to/fake/comitter/in/scm",
            "avatar_url": "http://www.gravatar.com/avatar/fakehash",
        },
    },
}
