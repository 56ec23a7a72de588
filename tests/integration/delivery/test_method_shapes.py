"""Each HTTP method against a real receiver on 127.0.0.1: the exact body, headers and URL it sends."""

from __future__ import annotations

import json
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from regnotify import __version__
from regnotify.methods.discord import DiscordMethod
from regnotify.methods.flowdock import FlowdockMethod
from regnotify.methods.hipchat import HipChatMethod
from regnotify.methods.msteams import MSTeamsMethod
from regnotify.methods.slack import SlackMethod
from regnotify.methods.webhook import WebhookMethod, generate_secret

from .conftest import MakeSenders
from .receiver import Receiver
from .support import TestSenders, make_outgoing

HOMEPAGE = "https://regnotify.test/repository/acme/app"


async def test_webhook_posts_the_payload_as_stored_with_standard_webhooks_headers(
    receiver: Receiver, senders: TestSenders
) -> None:
    outgoing = make_outgoing("repo_push")
    before = int(time.time())
    result = await WebhookMethod().send({"url": f"{receiver.base_url}/hook?x=1"}, outgoing, senders)

    assert result.ok, result.error
    assert result.status_code == 200
    assert result.response_excerpt == "ok"
    assert result.duration_ms > 0
    [request] = receiver.requests
    assert (request.method, request.path, request.query) == ("POST", "/hook", "x=1")
    assert json.loads(request.body) == outgoing.payload
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Regnotify-Event"] == "repo_push"
    assert request.headers["User-Agent"] == f"regnotify/{__version__}"
    assert request.headers["webhook-id"] == outgoing.delivery_id
    assert before <= int(request.headers["webhook-timestamp"]) <= int(time.time())
    assert "webhook-signature" not in request.headers
    assert result.request["url"] == f"{receiver.base_url}/…"
    assert result.request["method"] == "POST"


async def test_webhook_signature_verifies_over_the_exact_bytes_sent(
    receiver: Receiver, senders: TestSenders
) -> None:
    secret = generate_secret()
    outgoing = make_outgoing("build_failure")
    result = await WebhookMethod().send({"url": receiver.base_url, "secret": secret}, outgoing, senders)

    assert result.ok, result.error
    [request] = receiver.requests
    assert request.headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(request.body, request.headers) == outgoing.payload
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(request.body, request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(request.body + b" ", request.headers)
    assert secret not in json.dumps(result.request)


async def test_webhook_renders_its_template(receiver: Receiver, senders: TestSenders) -> None:
    template = json.dumps(
        {"repo": "${repository}", "tags": "${updated_tags}", "note": "pushed to ${namespace}/${name}"}
    )
    outgoing = make_outgoing("repo_push")
    result = await WebhookMethod().send(
        {"url": receiver.base_url, "template": template, "secret": generate_secret()}, outgoing, senders
    )

    assert result.ok, result.error
    [request] = receiver.requests
    assert json.loads(request.body) == {
        "repo": "acme/app",
        "tags": outgoing.payload["updated_tags"],
        "note": "pushed to acme/app",
    }


async def test_webhook_with_a_broken_secret_sends_nothing(receiver: Receiver, senders: TestSenders) -> None:
    result = await WebhookMethod().send(
        {"url": receiver.base_url, "secret": "whsec_tooshort"}, make_outgoing(), senders
    )
    assert not result.ok
    assert result.permanent
    assert "secret" in (result.error or "")
    assert "tooshort" not in (result.error or "")
    assert receiver.requests == []


async def test_slack_sends_quays_shape_with_mrkdwn(receiver: Receiver, senders: TestSenders) -> None:
    outgoing = make_outgoing("build_failure")
    result = await SlackMethod().send({"url": f"{receiver.base_url}/services/T/B/x"}, outgoing, senders)

    assert result.ok, result.error
    [request] = receiver.requests
    assert request.path == "/services/T/B/x"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == {
        "text": "Build failure for repository acme/app [build_u]",
        "username": "regnotify",
        "attachments": [
            {
                "fallback": "Build failure for repository acme/app [build_u]",
                "text": (
                    "Build <https://regnotify.test/repository/acme/app/build?current=some-fake-build|[build_u]>"
                    " failed for repository acme/app.\n"
                    "Tags: `latest`, `foo`, `bar`\n"
                    "Commit <http://path/to/the/commit|42d4a62> on `refs/heads/somebranch`: Some commit "
                    "message by <http://path/to/fake/author/in/scm|fakeauthor>\n"
                    "Error: `This is the reason the build failed`"
                ),
                "color": "danger",
                "mrkdwn_in": ["text"],
            }
        ],
    }


@pytest.mark.parametrize(
    ("event", "color"),
    [
        ("repo_push", "good"),
        ("build_queued", "#3b82f6"),
        ("build_success", "good"),
        ("build_failure", "danger"),
    ],
)
async def test_slack_colours_follow_the_level(
    receiver: Receiver, senders: TestSenders, event: str, color: str
) -> None:
    result = await SlackMethod().send({"url": receiver.base_url}, make_outgoing(event), senders)
    assert result.ok, result.error
    assert json.loads(receiver.requests[0].body)["attachments"][0]["color"] == color


async def test_msteams_sends_an_adaptive_card(receiver: Receiver, senders: TestSenders) -> None:
    outgoing = make_outgoing("vulnerability_found")
    result = await MSTeamsMethod().send({"url": f"{receiver.base_url}/webhookb2/x"}, outgoing, senders)

    assert result.ok, result.error
    assert json.loads(receiver.requests[0].body) == {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [  # TextRuns: event text is never read as markdown
                        {
                            "type": "RichTextBlock",
                            "inlines": [
                                {
                                    "type": "TextRun",
                                    "text": outgoing.summary,
                                    "weight": "bolder",
                                    "color": "attention",
                                }
                            ],
                        },
                        *(
                            {"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": line}]}
                            for line in outgoing.text.split("\n")
                        ),
                    ],
                    "actions": [{"type": "Action.OpenUrl", "title": "View repository", "url": HOMEPAGE}],
                },
            }
        ],
    }


async def test_discord_sends_one_embed_and_allows_no_mentions(
    receiver: Receiver, senders: TestSenders
) -> None:
    outgoing = make_outgoing("build_success", text="@everyone " + "x" * 5000, summary="s" * 300)
    result = await DiscordMethod().send({"url": f"{receiver.base_url}/api/webhooks/1/t"}, outgoing, senders)

    assert result.ok, result.error
    body = json.loads(receiver.requests[0].body)
    assert body["username"] == "regnotify"
    assert body["allowed_mentions"] == {"parse": []}
    [embed] = body["embeds"]
    assert embed["url"] == outgoing.payload["homepage"]
    assert embed["color"] == 0x38A169
    assert len(embed["title"]) == 256 and embed["title"].endswith("…")
    assert len(embed["description"]) == 4096 and embed["description"].startswith("@everyone xxx")
    assert set(embed) == {"title", "description", "url", "color"}


async def test_hipchat_puts_the_token_in_a_header_not_the_url(
    receiver: Receiver, make_senders: MakeSenders
) -> None:
    senders = make_senders(hipchat_base_url=receiver.base_url + "/")
    token = "hipchat-token-1234567890"
    outgoing = make_outgoing("build_failure")
    config = {"notification_token": token, "room_id": "ops room/1"}
    result = await HipChatMethod().send(config, outgoing, senders)

    assert result.ok, result.error
    [request] = receiver.requests
    assert request.raw_path == "/v2/room/ops%20room%2F1/notification"
    assert request.query == ""
    assert request.headers["Authorization"] == f"Bearer {token}"
    assert json.loads(request.body) == {
        "color": "red",
        "message": outgoing.html,
        "notify": True,
        "message_format": "html",
    }
    assert token not in json.dumps(result.request)
    assert "Authorization" not in result.request["headers"]


async def test_hipchat_room_is_percent_encoded(receiver: Receiver, make_senders: MakeSenders) -> None:
    senders = make_senders(hipchat_base_url=receiver.base_url)
    config = {"notification_token": "tok", "room_id": "a/b?c"}
    result = await HipChatMethod().send(config, make_outgoing("repo_push"), senders)
    assert result.ok, result.error
    [request] = receiver.requests
    assert request.raw_path == "/v2/room/a%2Fb%3Fc/notification"
    assert request.query == ""  # "?" in the room did not start a query
    assert json.loads(request.body)["color"] == "purple"
    assert json.loads(request.body)["notify"] is False


async def test_flowdock_posts_to_the_team_inbox_and_masks_the_token(
    receiver: Receiver, make_senders: MakeSenders
) -> None:
    senders = make_senders(flowdock_base_url=receiver.base_url, mail_from="Registry <noreply@example.org>")
    token = "flow-token-abcdef123456"
    outgoing = make_outgoing("repo_push", repository="acme/my-app.v2", namespace="acme")
    result = await FlowdockMethod().send({"flow_api_token": token}, outgoing, senders)

    assert result.ok, result.error
    [request] = receiver.requests
    assert request.path == f"/v1/messages/team_inbox/{token}"
    assert json.loads(request.body) == {
        "source": "regnotify",
        "from_address": "noreply@example.org",
        "subject": outgoing.summary,
        "content": outgoing.html,
        "from_name": "acme",
        "project": "acme myappv2",
        "tags": ["#repo_push"],
        "link": HOMEPAGE,
    }
    assert token not in json.dumps(result.request)
    assert result.request["url"] == f"{receiver.base_url}/…"
