"""Discord and Microsoft Teams messages with hostile event text: no disguised links, no formatting.

Event text (build names, tag names, commit messages, vulnerability descriptions, error messages)
comes from whoever pushes or builds. In Discord it is escaped for Discord's markdown; in Teams it
goes only into TextRun elements, which render text as it is (no markdown). The links we write
ourselves (the repository page) stay links.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest

from regnotify.events import RepositoryRef, get_event_kind
from regnotify.methods.discord import discord_escape, discord_message
from regnotify.methods.msteams import teams_message
from regnotify.methods.sending import Message, Outgoing

REPO = RepositoryRef("acme", "app", "registry.test", "https://regnotify.test")
MASKED_LINK = "[Urgent](https://evil.example/login)"
HOSTILE = [
    MASKED_LINK,
    "**bold** __under__ *it* _it_ ~~strike~~ ||spoiler|| `code`",
    "# Heading",
    "> quoted",
    "<@&123456> <#42> <t:0:R> <https://evil.example/auto>",
    "\\[escaped?](https://evil.example/x)",
]
# A Discord masked link: [text](target), the "[" not escaped.
_DISCORD_MASKED = re.compile(r"(?<!\\)(?:\\\\)*\[[^\]\n]*(?<!\\)\]\(")


def outgoing(event: str, changes: dict[str, Any]) -> Outgoing:
    payload = get_event_kind(event).sample_payload(REPO)
    for key, value in changes.items():
        target = payload
        *path, last = key.split(".")
        for part in path:
            target = target[part]
        target[last] = value
    return Outgoing(
        delivery_id=f"msg_{uuid.uuid4().hex}",
        attempt=1,
        event=event,
        payload=payload,
        message=Message(event, payload),
        repository=REPO.full_name,
        namespace=REPO.namespace,
        notification_uuid=str(uuid.uuid4()),
        notification_title=None,
    )


def hostile_outgoings(text: str) -> list[Outgoing]:
    """The same hostile text in each field people see: build name, tag, commit, CVE description…"""
    return [
        outgoing("build_success", {"build_name": text}),
        outgoing("build_failure", {"error_message": text}),
        outgoing("build_queued", {"docker_tags": [text, "latest"]}),
        outgoing("build_start", {"trigger_metadata.commit_info.message": text}),
        outgoing("build_start", {"trigger_metadata.commit_info.author.username": text}),
        outgoing("build_start", {"trigger_metadata.ref": text}),
        outgoing("repo_push", {"updated_tags": {text: "sha256:abc"}}),
        outgoing("vulnerability_found", {"vulnerability.description": text}),
        outgoing("vulnerability_found", {"vulnerability.id": text}),
        outgoing("vulnerability_found", {"tags": [text]}),
        outgoing("repo_mirror_sync_failed", {"message": text}),
        outgoing("repo_image_expiry", {"tags": [text]}),
        outgoing("scan_completed", {"scanner.name": text}),
        outgoing("scan_failed", {"reason": text}),
    ]


def discord_unescaped(text: str) -> str:
    """What Discord shows for escaped text: ``\\x`` is ``x`` for any x that is not a letter or digit."""
    return re.sub(r"\\([^0-9A-Za-z\s])", r"\1", text)


# -- Discord ------------------------------------------------------------------------------------


def unescaped_specials(escaped: str) -> list[str]:
    """Markdown characters Discord would act on: not escaped, and not inside a bare URL it links."""
    bare_urls = [m.span() for m in re.finditer(r"https?://[^\s<]+", escaped) if "\\" not in m.group()]
    found = []
    index = 0
    while index < len(escaped):
        ch = escaped[index]
        if ch == "\\":
            index += 2
            continue
        if ch in "*_~`|>#<[]()" and not any(start <= index < end for start, end in bare_urls):
            found.append(ch)
        index += 1
    return found


@pytest.mark.parametrize("text", HOSTILE)
def test_discord_escape_leaves_no_markup(text: str) -> None:
    escaped = discord_escape(text)
    assert discord_unescaped(escaped) == text  # people read exactly the text
    assert not _DISCORD_MASKED.search(escaped)
    assert unescaped_specials(escaped) == [], escaped


@pytest.mark.parametrize(
    "text",
    ["https://a.example/<@&123>", "https://a.example/<https://b.example/<@1>", "https://*", "http://"],
)
def test_discord_escape_of_urls_that_discord_would_cut_short(text: str) -> None:
    # Discord ends a bare link at "<" (taking a backslash before it into the link) and needs two
    # characters after "://": such words are escaped whole, ":" too, so Discord links none of them.
    escaped = discord_escape(text)
    assert discord_unescaped(escaped) == text
    assert not re.search("https?://", escaped)
    assert unescaped_specials(escaped) == [], escaped


def test_discord_escape_of_a_masked_link() -> None:
    assert discord_escape(MASKED_LINK) == "\\[Urgent\\]\\(https://evil.example/login)"


def test_discord_escape_keeps_bare_urls_whole() -> None:
    # A bare URL shows its real target; escaping inside it would break it (Discord links it as typed).
    url = "https://regnotify.test/repository/acme/my_app/build?current=a_b*c"
    assert discord_escape(f"Repository: {url}") == f"Repository: {url}"
    assert discord_escape(f"see {url}.") == f"see {url}."
    assert discord_escape(f"({url})") == f"\\({url})"


@pytest.mark.parametrize("text", HOSTILE)
def test_discord_messages_with_hostile_event_text(text: str) -> None:
    for item in hostile_outgoings(text):
        message = discord_message(item)
        [embed] = message["embeds"]
        for part in (embed["title"], embed["description"]):
            assert not _DISCORD_MASKED.search(part), (item.event, part)
            assert unescaped_specials(part) == [], (item.event, part)
        assert text in discord_unescaped(embed["description"])
        assert message["allowed_mentions"] == {"parse": []}
        # our own link to the repository (or build) page stays a link
        assert embed["url"] == item.payload["homepage"]


def test_discord_description_reads_as_the_event_text() -> None:
    item = outgoing("build_success", {"build_name": MASKED_LINK})
    [embed] = discord_message(item)["embeds"]
    assert discord_unescaped(embed["description"]) == item.text
    assert "(\\[Urgent\\]\\(https://evil.example/login))" in embed["description"]
    # the build page link we wrote is a bare URL, unescaped, so Discord links it
    assert embed["description"].endswith("Build: " + item.payload["homepage"])


def test_discord_title_is_escaped() -> None:
    item = outgoing("build_failure", {"build_id": "[x](https://evil.example)"})
    [embed] = discord_message(item)["embeds"]
    assert "[x](" not in embed["title"]
    assert discord_unescaped(embed["title"]) == item.summary


def test_discord_vulnerability_description_link_is_not_disguised() -> None:
    text = "[Click here](https://evil.example/fix) _now_"
    item = outgoing("vulnerability_found", {"vulnerability.description": text})
    [embed] = discord_message(item)["embeds"]
    assert "\\[Click here\\]\\(https://evil.example/fix) \\_now\\_" in embed["description"]
    assert "Details: http://url/to/vuln/info" in embed["description"]  # a bare URL, shown as it is


def test_discord_escaping_survives_clipping() -> None:
    item = outgoing("vulnerability_found", {"vulnerability.description": "[" * 5000})
    [embed] = discord_message(item)["embeds"]
    assert len(embed["description"]) <= 4096
    assert not _DISCORD_MASKED.search(embed["description"])


# -- Microsoft Teams ----------------------------------------------------------------------------


def walk(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        found.append(node)
        for value in node.values():
            found.extend(walk(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(walk(value))
    return found


def card_of(message: dict[str, Any]) -> dict[str, Any]:
    [attachment] = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    return attachment["content"]  # type: ignore[no-any-return]


# Adaptive Card properties that Teams renders as markdown.
MARKDOWN_PROPERTIES = {("TextBlock", "text"), ("Fact", "title"), ("Fact", "value")}


@pytest.mark.parametrize("text", HOSTILE)
def test_teams_puts_event_text_only_where_no_markdown_is_parsed(text: str) -> None:
    for item in hostile_outgoings(text):
        card = card_of(teams_message(item))
        assert card["type"] == "AdaptiveCard"
        assert tuple(int(n) for n in card["version"].split(".")) >= (1, 2)  # RichTextBlock, TextRun
        elements = walk(card["body"])
        for element in elements:
            kind = element.get("type")
            if kind == "TextBlock":
                raise AssertionError(f"markdown TextBlock in the card: {element}")
            if kind == "Fact" or "facts" in element:
                raise AssertionError(f"markdown facts in the card: {element}")
        runs = [element["text"] for element in elements if element.get("type") == "TextRun"]
        shown = "\n".join(runs)
        assert text in shown, (item.event, runs)


def test_teams_text_runs_keep_the_event_text_exactly() -> None:
    item = outgoing("build_success", {"build_name": MASKED_LINK})
    card = card_of(teams_message(item))
    runs = [element for element in walk(card["body"]) if element.get("type") == "TextRun"]
    assert runs[0]["text"] == item.summary
    assert runs[0]["weight"] == "bolder"
    assert [run["text"] for run in runs[1:]] == [line for line in item.text.split("\n") if line.strip()]
    assert not any("selectAction" in run for run in runs)  # no event text is made a link


def test_teams_keeps_our_repository_link_as_an_action() -> None:
    item = outgoing("vulnerability_found", {"vulnerability.description": MASKED_LINK})
    card = card_of(teams_message(item))
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "View repository", "url": item.payload["homepage"]}
    ]
    links = [e for e in walk(card) if e.get("type") == "Action.OpenUrl"]
    assert [link["url"] for link in links] == [item.payload["homepage"]]
    assert "evil.example" not in json.dumps(card["actions"])
