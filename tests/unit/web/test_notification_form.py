"""The create form's fields become configs; server messages land next to the field they concern."""

from __future__ import annotations

import pytest

from regnotify.web.notification_form import NotificationForm


def test_event_config_takes_only_the_chosen_events_filters() -> None:
    form = NotificationForm.from_form(
        {"event": "repo_push", "tag_patterns": " v*, latest  rc-*", "level": "1", "ref_regex": "^main$"}
    )
    assert form.event_config() == {"tag-patterns": ["v*", "latest", "rc-*"]}
    vulnerability = NotificationForm.from_form(
        {"event": "vulnerability_found", "level": "1", "tag_patterns": ""}
    )
    assert vulnerability.event_config() == {"level": "1"}


@pytest.mark.parametrize(
    "method, fields, config",
    [
        ("webhook", {"webhook_url": " https://x/ ", "sign": "yes"}, {"url": "https://x/", "secret": True}),
        (
            "webhook",
            {"webhook_url": "https://x/", "template": '{"a": 1}'},
            {"url": "https://x/", "template": '{"a": 1}'},
        ),
        (
            "slack",
            {"chat_url": "https://hooks.slack.com/services/a"},
            {"url": "https://hooks.slack.com/services/a"},
        ),
        ("email", {"email": " a@example.com "}, {"email": "a@example.com"}),
        (
            "quay_notification",
            {"target_kind": "team", "target_name": "devs"},
            {"target": {"kind": "team", "name": "devs"}},
        ),
        (
            "hipchat",
            {"hipchat_room_id": "42", "hipchat_token": "t"},
            {"room_id": "42", "notification_token": "t"},
        ),
        ("flowdock", {"flowdock_token": "t"}, {"flow_api_token": "t"}),
    ],
)
def test_method_config(method: str, fields: dict[str, str], config: dict[str, object]) -> None:
    assert NotificationForm.from_form({"method": method, **fields}).config() == config


@pytest.mark.parametrize(
    "method, message, field",
    [
        ("webhook", "webhook template is invalid: not JSON", "template"),
        ("webhook", "secret must be a string or true", "sign"),
        ("webhook", "webhook url resolves to a private address", "webhook_url"),
        ("slack", "Slack url must start with https://", "chat_url"),
        ("quay_notification", "Unknown target kind 'x': use user, team or org", "target_kind"),
        ("quay_notification", "Unknown user ghost", "target_name"),
        ("hipchat", "Missing room_id: the hipchat method needs a room id or name", "hipchat_room_id"),
        ("webhook", "title is too long: at most 255 characters", "title"),
        ("carrier_pigeon", "Unknown method 'carrier_pigeon'", "method"),
    ],
)
def test_method_errors_find_their_field(method: str, message: str, field: str) -> None:
    form = NotificationForm.from_form({"method": method})
    form.method_error(message)
    assert form.errors == {field: message}


@pytest.mark.parametrize(
    "message, field",
    [
        ("tag-patterns[0] must be a glob string of 1 to 255 characters", "tag_patterns"),
        ("ref-regex is not a valid regular expression: x", "ref_regex"),
        ("days is required for repo_image_expiry", "days"),
        ("level must be a vulnerability priority name", "level"),
        ("unknown event 'x'; valid events: repo_push", "event"),
    ],
)
def test_event_errors_find_their_field(message: str, field: str) -> None:
    form = NotificationForm()
    form.event_error(message)
    assert form.errors == {field: message}
