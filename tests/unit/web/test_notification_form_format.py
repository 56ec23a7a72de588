"""The create form's webhook body format: it becomes the config's ``format``; its errors land beside it."""

from __future__ import annotations

import pytest

from regnotify.methods.cloudevents import FORMATS
from regnotify.web.notification_form import WEBHOOK_FORMATS, NotificationForm


@pytest.mark.parametrize("chosen", ["", "quay"])
def test_the_default_format_adds_nothing_to_the_config(chosen: str) -> None:
    form = NotificationForm.from_form(
        {"method": "webhook", "webhook_url": "https://x/", "webhook_format": chosen}
    )
    assert form.config() == {"url": "https://x/"}


@pytest.mark.parametrize("chosen", ["cloudevents", "cloudevents-binary"])
def test_a_cloudevents_format_is_passed_on(chosen: str) -> None:
    form = NotificationForm.from_form(
        {"method": "webhook", "webhook_url": "https://x/", "sign": "yes", "webhook_format": chosen}
    )
    assert form.config() == {"url": "https://x/", "secret": True, "format": chosen}


def test_other_methods_ignore_the_field() -> None:
    form = NotificationForm.from_form(
        {"method": "email", "email": "a@example.com", "webhook_format": "cloudevents"}
    )
    assert form.config() == {"email": "a@example.com"}


def test_the_choices_are_the_methods_formats() -> None:
    assert tuple(value for value, _label in WEBHOOK_FORMATS) == FORMATS


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ("unknown webhook format 'xml'; use one of: quay, cloudevents, cloudevents-binary", "webhook_format"),
        ("webhook format must be a string, not number; use one of: quay", "webhook_format"),
        ("webhook template is invalid: not JSON", "template"),
        ("webhook url resolves to a private address", "webhook_url"),
    ],
)
def test_format_errors_are_placed_at_the_format_field(message: str, field: str) -> None:
    form = NotificationForm.from_form({"method": "webhook"})
    form.method_error(message)
    assert form.errors == {field: message}
