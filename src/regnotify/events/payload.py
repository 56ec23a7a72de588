"""Pydantic glue for event payloads: validate with readable errors, dump in declared order (without nulls,
unless the kind's contract shows them)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar, get_args

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

MAX_LISTED_ERRORS = 8
MAX_NAME_IN_MESSAGE = 64


def short(text: str, limit: int = MAX_NAME_IN_MESSAGE) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def quote_names(names: Iterable[object], limit: int = 5) -> str:
    """``'a', 'b' (and 3 more)`` for use in error messages; long names are shortened."""
    items = list(names)
    shown = ", ".join(f"'{short(str(name))}'" for name in items[:limit])
    return shown + (f" (and {len(items) - limit} more)" if len(items) > limit else "")


def error_path(loc: Iterable[int | str]) -> str:
    """``trigger_metadata.commit_info.date`` or ``docker_tags[2]`` from a pydantic error location."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part == "[key]":
            continue
        else:
            path += ("." if path else "") + short(str(part))
    return path


def _model_at(model: type[BaseModel], loc: Iterable[int | str]) -> type[BaseModel] | None:
    """The nested model a pydantic error location points into, if it is one."""
    current: type[BaseModel] | None = model
    for part in loc:
        if isinstance(part, int) or current is None:
            continue
        field = current.model_fields.get(str(part))
        current = _find_model(field.annotation) if field is not None else None
    return current


def _find_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _find_model(arg)
        if found is not None:
            return found
    return None


def format_errors(exc: ValidationError, model: type[BaseModel]) -> str:
    """``field: message; other.field: message`` (no input values, no pydantic URLs)."""
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    parts = []
    for error in errors[:MAX_LISTED_ERRORS]:
        path = error_path(error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            parent = _model_at(model, error["loc"][:-1])
            allowed = ", ".join(parent.model_fields) if parent is not None else ""
            message = f"unknown field; allowed: {allowed}" if allowed else "unknown field"
        parts.append(f"{path}: {message}" if path else message)
    if len(errors) > MAX_LISTED_ERRORS:
        parts.append(f"and {len(errors) - MAX_LISTED_ERRORS} more errors")
    return "; ".join(parts)


def validate_model(model: type[M], data: Mapping[str, Any], error: type[Exception]) -> M:
    """``model`` validated from ``data``; ``error`` (an exception class) with a readable message if not."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise error(format_errors(exc, model)) from None
    except RecursionError:
        raise error("data is nested too deeply") from None


def dump_model(model: BaseModel, *, keep_nulls: bool = False) -> dict[str, Any]:
    """Declared fields in declared order, then any extra keys as given. Absent (None) fields are left
    out, as Quay's payloads do, unless ``keep_nulls``: then they are shown as null, at every depth."""
    result: dict[str, Any] = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        if value is not None or keep_nulls:
            result[name] = _dump_value(value, keep_nulls)
    for key, value in (model.model_extra or {}).items():
        result[key] = _dump_value(value, keep_nulls)
    return result


def _dump_value(value: Any, keep_nulls: bool) -> Any:
    if isinstance(value, BaseModel):
        return dump_model(value, keep_nulls=keep_nulls)
    if isinstance(value, list | tuple):
        return [_dump_value(item, keep_nulls) for item in value]
    if isinstance(value, dict):
        return {key: _dump_value(item, keep_nulls) for key, item in value.items()}
    return value
