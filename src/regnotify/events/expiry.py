"""repo_image_expiry: tags of the repository will expire soon (fired by the registry or a scheduler)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, Field, StringConstraints
from pydantic_core import PydanticCustomError

from regnotify.events.base import EventKind, Level
from regnotify.events.common import MAX_ITEMS, EventData, NonEmptyText
from regnotify.events.filters import ExpiryDaysFilter, days_value
from regnotify.events.reading import repository, strings, tag_list, text
from regnotify.events.rendering import render_html

HTML = """\
{% from "macros.html" import link, tags %}
<p>{{ tag_names | length }} tag{{ "s" if tag_names | length != 1 }} of repository \
{{ link(homepage, repository) }} will expire{% if expiring_in %} in {{ expiring_in }}{% endif %}: \
{{ tags(tag_names) }}.</p>
"""

EXPIRING_IN = re.compile(r"[0-9]{1,6} days?")


def _check_expiring_in(value: str) -> str:
    if not EXPIRING_IN.fullmatch(value):
        raise PydanticCustomError("expiring_in", 'should be a number of days such as "3 days"')
    return value


ExpiringIn = Annotated[str, StringConstraints(max_length=32), AfterValidator(_check_expiring_in)]


class ImageExpiryData(EventData):
    """``expiring_in`` is Quay's "N days" form (for example "1 days")."""

    tags: Annotated[list[NonEmptyText], Field(min_length=1, max_length=MAX_ITEMS)]
    expiring_in: ExpiringIn


class ImageExpiry(EventKind):
    name: ClassVar[str] = "repo_image_expiry"
    title: ClassVar[str] = "Image expiry trigger"
    description: ClassVar[str] = "Tags of the repository will expire soon"
    model = ImageExpiryData
    filters = (ExpiryDaysFilter(),)
    sample_data: ClassVar[dict[str, Any]] = {"tags": ["latest", "v1"], "expiring_in": "1 days"}

    def sample_fields(self, event_config: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """As Quay's ``get_sample_data``: expiring in the notification's ``days`` ("N days")."""
        fields = super().sample_fields(event_config)
        days = days_value(event_config.get("days")) if event_config is not None else None
        if days is not None:
            fields["expiring_in"] = f"{days} days"
        return fields

    def level(self, payload: Mapping[str, Any]) -> Level:
        return "info"

    def _summary(self, payload: Mapping[str, Any]) -> str:
        return f"Repository {repository(payload)} image(s) expiring"

    def html_message(self, payload: Mapping[str, Any]) -> str:
        return render_html(
            HTML,
            homepage=text(payload, "homepage"),
            repository=repository(payload),
            tag_names=strings(payload, "tags"),
            expiring_in=text(payload, "expiring_in"),
        )

    def text_message(self, payload: Mapping[str, Any]) -> str:
        tags = strings(payload, "tags")
        expiring_in = text(payload, "expiring_in")
        when = f" in {expiring_in}" if expiring_in else ""
        lines = [
            f"{len(tags)} tag{'s' if len(tags) != 1 else ''} of repository {repository(payload)} "
            f"will expire{when}: {tag_list(tags)}."
        ]
        homepage = text(payload, "homepage")
        if homepage:
            lines.append(f"Repository: {homepage}")
        return "\n".join(lines)
