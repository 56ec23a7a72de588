"""The webhook template engine's work budget: what costs steps, the limit's edge, the error's words,
and rendering off the event loop (``render_body``) giving the same bytes and the same verdicts."""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest

from regnotify.config import Settings
from regnotify.events import EVENT_KINDS, RepositoryRef
from regnotify.methods import METHODS, MethodConfigError
from regnotify.methods import template as template_module
from regnotify.methods.sending import Message, Outgoing
from regnotify.methods.template import (
    DEFAULT_MAX_STEPS,
    INLINE_STEPS,
    INLINE_TEMPLATE_CHARS,
    Budget,
    TemplateBudgetError,
    TemplateError,
    find,
    parse_path,
    render_body,
    render_json,
    render_template,
)
from regnotify.methods.template_paths import SEGMENT_STEPS

from .method_fakes import FakeContext

WEBHOOK = METHODS["webhook"]
REPO = RepositoryRef(namespace="acme", name="app", registry_host="quay.io", base_url="https://quay.io")
HOSTILE = json.dumps({f"k{i}": "${*.*.*.zz}" for i in range(1000)})

# Templates as people write them (Slack-like text, typed fields, the whole payload), per event.
REAL_TEMPLATES: dict[str, Any] = {
    "repo_push": {
        "text": "${repository} pushed: ${updated_tags}",
        "repo": "${repository}",
        "url": "${homepage}",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Push to *${name}*"}}],
    },
    "build_success": {
        "text": "Build ${build_id} of ${repository} succeeded for ${docker_tags[*]}",
        "commit": "${trigger_metadata.commit}",
        "author": "${trigger_metadata.commit_info.author.username}",
        "message": "${trigger_metadata.commit_info.message}",
        "event": "${$}",
    },
    "vulnerability_found": {
        "text": "${vulnerability.id} (${vulnerability.priority}) in ${repository}: ${tags[*]}",
        "vulnerability": "${vulnerability}",
    },
}


def steps_needed(template: Any, payload: Any) -> int:
    """The exact budget ``template`` needs on ``payload``: the least max_steps that renders it."""
    low, high = 0, 1
    while True:
        try:
            render_template(template, payload, max_steps=high)
            break
        except TemplateBudgetError:
            low, high = high, high * 2
    while high - low > 1:  # low fails, high renders
        middle = (low + high) // 2
        try:
            render_template(template, payload, max_steps=middle)
            high = middle
        except TemplateBudgetError:
            low = middle
    return high


def big_build_payload(items: int = 20_000) -> dict[str, Any]:
    """A build payload of several hundred KB, most of it in an extra trigger_metadata field."""
    payload = EVENT_KINDS["build_success"].sample_payload(REPO)
    payload["trigger_metadata"]["files"] = [{"path": f"src/file{i}.py", "size": i} for i in range(items)]
    return payload


# -- what a step is -----------------------------------------------------------------------------


def test_find_pays_for_each_segment_and_each_value_reached() -> None:
    data = {"a": list(range(10)), "b": {"c": 1}}
    path = parse_path("a[*]")  # segment a reaches 1 value, segment [*] reaches 10
    budget = Budget(100)
    assert find(path, data, budget) == list(range(10))
    needed = (SEGMENT_STEPS + 1) + (SEGMENT_STEPS + 10)
    assert budget.limit - budget.left == needed
    assert find(path, data, Budget(needed)) == list(range(10))
    with pytest.raises(TemplateBudgetError):
        find(path, data, Budget(needed - 1))


def test_a_wildcard_over_a_huge_list_stops_at_the_limit() -> None:
    data = {"a": [0] * 1_000_000}
    with pytest.raises(TemplateBudgetError):
        find(parse_path("a.*"), data, Budget(5000))
    assert len(find(parse_path("a.*"), data)) == 1_000_000  # no budget: no limit


@pytest.mark.parametrize(
    ("template", "payload"),
    [
        ('"${a[*]}"', {"a": list(range(50))}),
        ('"x ${a[*]} y"', {"a": list(range(50))}),
        ('{"${a[0]}": "${a}", "l": [1, 2, [3, {"k": null}]], "t": "${b}"}', {"a": ["k"], "b": {"c": [1, 2]}}),
        (json.dumps(["${$}"] * 20), {"a": {"b": ["c"] * 30}}),
        (json.dumps("${*.*}" * 40), {"a": {"b": 1, "c": [2]}, "d": [{"e": "f"}]}),
        ("[" * 20 + "1" + "]" * 20, {}),
        (HOSTILE, EVENT_KINDS["build_success"].sample_payload(REPO)),
    ],
)
def test_exactly_the_budget_renders_and_one_step_less_fails(template: str, payload: Any) -> None:
    needed = steps_needed(template, payload)
    assert needed > 1
    rendered = render_template(template, payload, max_steps=needed)
    assert render_template(template, payload, max_steps=DEFAULT_MAX_STEPS) == rendered
    with pytest.raises(TemplateBudgetError):
        render_template(template, payload, max_steps=needed - 1)
    assert render_json(template, payload, max_steps=needed) == render_json(template, payload)
    with pytest.raises(TemplateBudgetError):
        render_json(template, payload, max_steps=needed - 1)


def test_work_grows_with_what_expressions_reach_not_only_with_the_template() -> None:
    template = '"${a.*.zz}"'  # finds nothing: all the work is in the search
    small = steps_needed(template, {"a": [{"b": 1}] * 10})
    large = steps_needed(template, {"a": [{"b": 1}] * 1000})
    assert large - small == 990  # a step for each element the wildcard reaches


def test_every_copy_of_a_large_value_in_the_output_is_paid_for() -> None:
    payload = {"a": [{"k": "v"}] * 100}
    once = steps_needed('["${a}"]', payload)
    twice = steps_needed('["${a}", "${a}"]', payload)
    assert twice - once > 300  # 301 nodes written again (the second is not walked again, but encoded)


def test_the_error_names_the_setting_and_the_limit() -> None:
    with pytest.raises(TemplateBudgetError) as caught:
        render_template(HOSTILE, big_build_payload(), max_steps=12_345)
    message = str(caught.value)
    assert "12,345 steps" in message
    assert "REGNOTIFY_TEMPLATE_MAX_STEPS" in message
    assert caught.value.max_steps == 12_345
    assert isinstance(caught.value, TemplateError)  # callers that catch TemplateError still do


def test_the_default_budget_is_the_settings_default() -> None:
    assert Settings.model_fields["template_max_steps"].default == DEFAULT_MAX_STEPS


def test_the_hostile_template_is_stopped_on_a_big_payload() -> None:
    payload = big_build_payload()
    assert len(json.dumps(payload)) > 500_000
    with pytest.raises(TemplateBudgetError, match="200,000 steps"):
        render_template(HOSTILE, payload)


@pytest.mark.parametrize("event", sorted(REAL_TEMPLATES))
def test_real_templates_need_little_of_the_budget(event: str) -> None:
    payload = EVENT_KINDS[event].sample_payload(REPO)
    needed = steps_needed(REAL_TEMPLATES[event], payload)
    assert needed < INLINE_STEPS // 4  # rendered on the event loop, with room to spare


def test_the_output_cap_still_applies_within_the_budget() -> None:
    with pytest.raises(TemplateError, match="larger than 1024 KiB") as caught:
        render_template(json.dumps(["${big}"] * 11), {"big": "x" * 100_000}, max_steps=10**9)
    assert not isinstance(caught.value, TemplateBudgetError)


def test_literal_parts_render_as_fresh_copies() -> None:
    template = '{"a": "${x}", "static": {"list": [1, 2, {"k": "v"}], "n": null}}'
    first = render_template(template, {"x": 1})
    first["static"]["list"].append("changed")
    assert render_template(template, {"x": 1}) == {"a": 1, "static": {"list": [1, 2, {"k": "v"}], "n": None}}


def test_spend() -> None:
    budget = Budget(10)
    budget.spend(7)
    budget.spend(3)
    assert budget.left == 0
    with pytest.raises(TemplateBudgetError, match="more than 10 steps"):
        budget.spend(1)


# -- render_body: on the loop when small, in a thread otherwise ----------------------------------


@pytest.fixture
def threads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Each rendering render_body starts: the thread it ran in, and its budget."""
    seen: list[tuple[str, int]] = []
    original = template_module._render_json

    def spy(template: str, payload: Any, budget: Budget) -> bytes:
        seen.append((threading.current_thread().name, budget.limit))
        return original(template, payload, budget)

    monkeypatch.setattr(template_module, "_render_json", spy)
    return seen


async def test_render_body_renders_small_work_on_the_loop(threads: list[tuple[str, int]]) -> None:
    payload = EVENT_KINDS["repo_push"].sample_payload(REPO)
    template = json.dumps(REAL_TEMPLATES["repo_push"])
    assert await render_body(template, payload) == render_json(template, payload)
    assert threads[0] == (threading.current_thread().name, INLINE_STEPS)
    assert len(threads) == 2  # and the render_json call of the comparison


async def test_render_body_moves_more_work_off_the_loop_with_the_full_budget(
    threads: list[tuple[str, int]],
) -> None:
    payload = {"a": [{"b": i} for i in range(3 * INLINE_STEPS)]}
    template = '"${a.*.zz}"'
    needed = steps_needed(template, payload)
    assert INLINE_STEPS < needed < DEFAULT_MAX_STEPS
    threads.clear()
    body = await render_body(template, payload)
    loop_thread = threading.current_thread().name
    assert [(name == loop_thread, limit) for name, limit in threads] == [
        (True, INLINE_STEPS),
        (False, DEFAULT_MAX_STEPS),
    ]
    assert body == render_json(template, payload)
    assert await render_body(template, payload, max_steps=needed) == body
    with pytest.raises(TemplateBudgetError, match=f"more than {needed - 1:,} steps"):
        await render_body(template, payload, max_steps=needed - 1)  # names the limit, not INLINE_STEPS


async def test_render_body_with_a_small_limit_names_that_limit() -> None:
    with pytest.raises(TemplateBudgetError, match="more than 1,000 steps"):
        await render_body(HOSTILE, EVENT_KINDS["build_success"].sample_payload(REPO), max_steps=1000)


async def test_render_body_parses_long_templates_in_the_thread(threads: list[tuple[str, int]]) -> None:
    template = json.dumps({f"key{i}": "${repository}" for i in range(400)} | {"new": str(uuid.uuid4())})
    assert len(template) > INLINE_TEMPLATE_CHARS
    payload = EVENT_KINDS["repo_push"].sample_payload(REPO)
    body = await render_body(template, payload)
    assert await render_body(template, payload) == body  # parsed now: rendered on the loop
    loop_thread = threading.current_thread().name
    assert [(name == loop_thread, limit) for name, limit in threads] == [
        (False, DEFAULT_MAX_STEPS),
        (True, INLINE_STEPS),
    ]
    assert body == render_json(template, payload)
    with pytest.raises(TemplateError, match="not valid JSON"):
        await render_body("[" + "1," * INLINE_TEMPLATE_CHARS, payload)


async def test_render_body_hostile_on_a_big_payload_fails_with_the_budget_error() -> None:
    with pytest.raises(TemplateBudgetError, match="200,000 steps"):
        await render_body(HOSTILE, big_build_payload())


# -- the webhook method: refused at create, a retried failure at send ------------------------------


@dataclass
class EventContext(FakeContext):
    """A validation context that names the notification's event, as the real one does."""

    event: str | None = None


async def test_create_refuses_a_template_over_the_budget_on_every_sample(ctx: FakeContext) -> None:
    ctx.settings = ctx.settings.model_copy(update={"template_max_steps": 1000})
    template = json.dumps(["${*}"] * 200)
    with pytest.raises(MethodConfigError) as caught:
        await WEBHOOK.validate({"url": "https://example.com/hook", "template": template}, ctx)
    message = str(caught.value)
    assert "too expensive" in message and "sample" in message
    assert "more than 1,000 steps" in message and "REGNOTIFY_TEMPLATE_MAX_STEPS" in message
    cheap = json.dumps(REAL_TEMPLATES["repo_push"])
    stored = await WEBHOOK.validate({"url": "https://example.com/hook", "template": cheap}, ctx)
    assert stored["template"] == cheap


async def test_create_renders_the_sample_of_the_notifications_event(ctx: FakeContext) -> None:
    template = json.dumps(["${trigger_metadata.*.*.*}"] * 40)  # nothing to find in a push
    push = steps_needed(template, EVENT_KINDS["repo_push"].sample_payload(REPO))
    build = steps_needed(template, EVENT_KINDS["build_success"].sample_payload(REPO))
    limit = max(push + 100, 1000)
    assert build > limit
    settings = ctx.settings.model_copy(update={"template_max_steps": limit})
    config = {"url": "https://example.com/hook", "template": template}
    assert (await WEBHOOK.validate(config, EventContext(settings=settings, event="repo_push")))["template"]
    with pytest.raises(MethodConfigError, match="sample build_success event"):
        await WEBHOOK.validate(config, EventContext(settings=settings, event="build_success"))


async def test_create_refuses_a_template_that_fails_on_the_sample(ctx: FakeContext) -> None:
    template = json.dumps("${$}" * 3000)  # over 1 MiB of text from the ~400-byte sample
    with pytest.raises(MethodConfigError, match="larger than 1024 KiB"):
        await WEBHOOK.validate({"url": "https://example.com/hook", "template": template}, ctx)


async def test_create_checks_long_and_parsed_templates_too(ctx: FakeContext) -> None:
    long = {f"key{i}": "${repository}" for i in range(400)}
    stored = await WEBHOOK.validate({"url": "https://example.com/hook", "template": long}, ctx)
    assert json.loads(stored["template"]) == long
    with pytest.raises(MethodConfigError, match="template is invalid"):
        await WEBHOOK.validate({"url": "https://example.com/hook", "template": "[" + "1," * 5000}, ctx)


@dataclass
class NoHttp:
    calls: list[str] = field(default_factory=list)

    async def post(self, url: str, *, body: bytes, headers: dict[str, str], client_cert: bool = False) -> Any:
        self.calls.append(url)
        raise AssertionError("nothing is sent when the template cannot be rendered")


@dataclass
class BudgetSenders:
    settings: Settings
    http: NoHttp = field(default_factory=NoHttp)
    mail: Any = None
    inbox: Any = None


async def test_send_over_the_budget_is_a_failure_that_is_retried(ctx: FakeContext) -> None:
    payload = big_build_payload()
    outgoing = Outgoing(
        delivery_id="d-1",
        attempt=1,
        event="build_success",
        payload=payload,
        message=Message("build_success", payload),
        repository="acme/app",
        namespace="acme",
        notification_uuid="n-1",
        notification_title=None,
    )
    senders = BudgetSenders(settings=ctx.settings)
    config = {"url": "https://example.com/hook", "template": HOSTILE}
    result = await WEBHOOK.send(config, outgoing, senders)
    assert not result.ok and not result.permanent and not result.gone
    assert result.error == (
        "webhook template could not be rendered: the template needs more than 200,000 steps of work for "
        "this event (setting REGNOTIFY_TEMPLATE_MAX_STEPS); simplify its ${…} expressions"
    )
    assert senders.http.calls == []
