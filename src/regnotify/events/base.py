"""The event-kind contract: errors, the repository an event happens in, and the EventKind base class.

An ``EventKind`` turns what a poster sends into a full Quay-shaped payload (``build_payload``),
renders that payload for people (``level``, ``summary``, ``html_message``, ``text_message``) and
owns the event filter a notification may carry (``validate_config`` at create time, ``matches``
at delivery time). Subclasses declare a pydantic model for their own fields, their filters and
their sample data; the generic parts live here.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import BaseModel

from regnotify.events.payload import dump_model, quote_names, validate_model

logger = logging.getLogger(__name__)

Level = Literal["info", "warning", "error", "primary", "success"]

COMMON_KEYS: tuple[str, ...] = ("repository", "namespace", "name", "docker_url", "homepage")


class EventError(ValueError):
    """An event problem a client can fix; ``str(exc)`` is a human message saying what is wrong."""


class UnknownEventError(EventError):
    """An event name that is not in the catalogue."""


class PayloadError(EventError):
    """Event data that does not fit the event kind's payload model."""


class EventConfigError(EventError):
    """An event config (filter) that cannot be stored."""


UpdatedTagsFormat = Literal["map", "list"]


@dataclass(frozen=True)
class PayloadStyle:
    """How payloads are shaped where Quay's running servers differ from its documentation.

    ``updated_tags``: ``map`` (documented: tag -> manifest digest) or ``list`` (what Quay sends:
    the tag names). Chosen by the operator (``REGNOTIFY_UPDATED_TAGS_FORMAT``) and applied when a
    payload is built, so the stored event and everything made from it agree."""

    updated_tags: UpdatedTagsFormat = "map"


DEFAULT_STYLE = PayloadStyle()


@dataclass(frozen=True)
class RepositoryRef:
    """The repository an event happens in, where it can be seen, and how its payloads are shaped."""

    namespace: str
    name: str
    registry_host: str
    base_url: str
    visibility: str = "private"
    style: PayloadStyle = DEFAULT_STYLE

    @property
    def full_name(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def docker_url(self) -> str:
        return f"{self.registry_host}/{self.full_name}"

    @property
    def homepage(self) -> str:
        return f"{self.base_url.rstrip('/')}/repository/{self.full_name}"


class EventFilter:
    """One key of an event config: how to check and normalize its value, and when it lets an event fire.

    ``normalize`` raises EventConfigError for a bad value and returns None when the value means
    "no filter" (it is then not stored). ``matches`` receives whatever is stored and any payload;
    it must return a bool and never raise.
    """

    key: ClassVar[str]
    required: ClassVar[bool] = False

    def normalize(self, value: object, event: str) -> object | None:
        raise NotImplementedError

    def matches(self, value: object, payload: Mapping[str, Any]) -> bool:
        raise NotImplementedError

    def work(self, value: object, payload: Mapping[str, Any]) -> int:
        """A rough count of the steps ``matches`` takes for this value and payload (1: trivial)."""
        return 1

    def missing_message(self, event: str) -> str:
        return f"{self.key} is required for {event}"


class EventKind:
    """One kind of repository event.

    Subclasses set ``name``, ``title``, ``description``, ``model`` (pydantic, fields in the order
    the payload shows them), ``filters`` and ``sample_data`` (and ``keeps_nulls`` to show absent
    optional fields as null), and implement ``level``, ``_summary``, ``html_message`` and
    ``text_message``.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str]
    model: ClassVar[type[BaseModel]]
    filters: ClassVar[tuple[EventFilter, ...]] = ()
    sample_data: ClassVar[dict[str, Any]]
    envelope_keys: ClassVar[tuple[str, ...]] = COMMON_KEYS
    # Quay's kinds leave an absent optional field out; kinds of our own whose contract names a field
    # "or null" (the scan events) show it as null, so a receiver can tell "the source did not say".
    keeps_nulls: ClassVar[bool] = False

    def __repr__(self) -> str:
        return f"<EventKind {self.name}>"

    @property
    def config_keys(self) -> tuple[str, ...]:
        return tuple(f.key for f in self.filters)

    @property
    def fields(self) -> tuple[str, ...]:
        """The kind's own payload fields, in payload order."""
        return tuple(self.model.model_fields)

    # -- payloads -----------------------------------------------------------------------------

    def common_fields(self, repo: RepositoryRef) -> dict[str, Any]:
        """The envelope every repository event starts with."""
        return {
            "repository": repo.full_name,
            "namespace": repo.namespace,
            "name": repo.name,
            "docker_url": repo.docker_url,
            "homepage": repo.homepage,
        }

    def envelope(self, repo: RepositoryRef, fields: Mapping[str, Any]) -> dict[str, Any]:
        """The envelope for a payload with these own fields (build events point homepage at the build)."""
        return self.common_fields(repo)

    def sample_envelope(self, repo: RepositoryRef) -> dict[str, Any]:
        return self.envelope(repo, self.sample_data)

    def build_payload(self, repo: RepositoryRef, data: Mapping[str, Any]) -> dict[str, Any]:
        """Validate ``data`` (the kind's own fields) and return the full JSON-ready payload."""
        if not isinstance(data, Mapping):
            raise PayloadError(f"data for event {self.name} must be a JSON object")
        own: dict[str, Any] = {}
        unknown: list[object] = []
        for key, value in data.items():
            if key in self.envelope_keys:
                continue
            if key in self.model.model_fields:
                own[key] = value
            else:
                unknown.append(key)
        if unknown:
            plural = "s" if len(unknown) > 1 else ""
            raise PayloadError(
                f"unknown field{plural} {quote_names(unknown)} for event {self.name}; "
                f"allowed: {', '.join(self.fields)}"
            )
        fields = dump_model(validate_model(self.model, own, PayloadError), keep_nulls=self.keeps_nulls)
        return {**self.envelope(repo, fields), **self.styled(fields, repo.style)}

    def sample_fields(self, event_config: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """This kind's sample fields (a fresh copy) for a notification with this event config;
        kinds whose sample depends on the config (Quay's ``get_sample_data``) override this."""
        return copy.deepcopy(self.sample_data)

    def sample_payload(
        self, repo: RepositoryRef, event_config: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Sample data for the test button: the repository's envelope plus this kind's sample fields
        (``event_config``: the notification's stored filter, which some kinds' samples use)."""
        fields = self.sample_fields(event_config if isinstance(event_config, Mapping) else None)
        return {**self.sample_envelope(repo), **self.styled(fields, repo.style)}

    def styled(self, fields: dict[str, Any], style: PayloadStyle) -> dict[str, Any]:
        """The kind's validated own fields in the operator's payload style (``PayloadStyle``);
        both real and sample payloads go through here. Default: unchanged."""
        return fields

    # -- rendering ----------------------------------------------------------------------------

    def level(self, payload: Mapping[str, Any]) -> Level:
        raise NotImplementedError

    def summary(self, payload: Mapping[str, Any]) -> str:
        """One line of plain text (newlines and runs of whitespace collapse to one space)."""
        return " ".join(self._summary(payload).split())

    def _summary(self, payload: Mapping[str, Any]) -> str:
        raise NotImplementedError

    def html_message(self, payload: Mapping[str, Any]) -> str:
        raise NotImplementedError

    def text_message(self, payload: Mapping[str, Any]) -> str:
        raise NotImplementedError

    # -- event filters ------------------------------------------------------------------------

    def validate_config(self, config: Mapping[str, Any] | None) -> dict[str, Any]:
        """The normalized event config to store, or EventConfigError saying what to fix."""
        if config is None:
            config = {}
        if not isinstance(config, Mapping):
            raise EventConfigError(f"eventConfig for event {self.name} must be a JSON object")
        allowed = self.config_keys
        unknown = [key for key in config if key not in allowed]
        if unknown:
            plural = "s" if len(unknown) > 1 else ""
            allowed_text = ", ".join(allowed) if allowed else "none (this event takes no eventConfig)"
            raise EventConfigError(
                f"unknown eventConfig key{plural} {quote_names(unknown)} for event {self.name}; "
                f"allowed: {allowed_text}"
            )
        normalized: dict[str, Any] = {}
        for flt in self.filters:
            value = config.get(flt.key)
            if value is None:
                if flt.required:
                    raise EventConfigError(flt.missing_message(self.name))
                continue
            result = flt.normalize(value, self.name)
            if result is not None:
                normalized[flt.key] = result
        return normalized

    def match_work(self, config: Mapping[str, Any] | None, payload: Mapping[str, Any]) -> int:
        """About how much work ``matches`` is for this config and payload (``EventFilter.work``)."""
        if not isinstance(config, Mapping) or not isinstance(payload, Mapping):
            return 1
        try:
            return sum(
                flt.work(config[flt.key], payload) for flt in self.filters if config.get(flt.key) is not None
            )
        except Exception:  # an odd stored value: matching it is cheap (it does not match)
            return 1

    def matches(self, config: Mapping[str, Any] | None, payload: Mapping[str, Any]) -> bool:
        """Whether a notification with this stored config fires for this payload; never raises."""
        if config is None:
            return True
        if not isinstance(config, Mapping) or not isinstance(payload, Mapping):
            return False
        try:
            for flt in self.filters:
                value = config.get(flt.key)
                if value is None:
                    if flt.required:
                        return False
                    continue
                if not flt.matches(value, payload):
                    return False
        except Exception:
            logger.warning("event filter for %s failed; not firing", self.name, exc_info=True)
            return False
        return True
