"""HTML event messages to Slack mrkdwn."""

from __future__ import annotations

import pytest

from regnotify.events import EVENT_KINDS, RepositoryRef
from regnotify.methods.slack_markup import html_to_mrkdwn, slack_escape

REPO = RepositoryRef("acme", "app", "registry.test", "https://regnotify.test")


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<a href="https://x.test/a">the <b>repo</b></a>', "<https://x.test/a|the *repo*>"),
        ("<b>bold</b> <strong>strong</strong>", "*bold* *strong*"),
        ("<i>it</i> <em>em</em>", "_it_ _em_"),
        ("one<br>two<br/>three", "one\ntwo\nthree"),
        ("<p>first</p>\n<p>second</p>", "first\nsecond"),
        ("<span class='x'>plain</span> <code>tag</code>", "plain `tag`"),
        ("A &amp; B &lt;c&gt; &quot;d&quot; &#39;e&#39;", "A &amp; B &lt;c&gt; \"d\" 'e'"),
        ("<p>raw < and > and & stay text</p>", "raw &lt; and &gt; and &amp; stay text"),
        ('<a href="javascript:alert(1)">click</a>', "click"),
        ('<a href="https://x.test/?a=1&amp;b=|2">q</a>', "<https://x.test/?a=1&amp;b=%7C2|q>"),
        ('<a href="https://x.test/">https://x.test/</a>', "<https://x.test/>"),
        ("<script>alert(1)</script><style>p{}</style>shown", "shown"),
        ("<p>  lots \n\n of   space </p>", "lots of space"),
        ('<a href="https://x.test/">unclosed', "<https://x.test/|unclosed>"),
        ("", ""),
    ],
)
def test_conversion(html: str, expected: str) -> None:
    assert html_to_mrkdwn(html) == expected


def test_every_event_message_converts_without_html_left() -> None:
    for kind in EVENT_KINDS.values():
        payload = kind.sample_payload(REPO)
        text = html_to_mrkdwn(kind.html_message(payload))
        assert text
        for tag in ("<p>", "</p>", "<a ", "</a>", "<code>", "<b>"):
            assert tag not in text


def test_slack_escape_touches_only_three_characters() -> None:
    assert slack_escape("a & <b> 'c' \"d\"") == "a &amp; &lt;b&gt; 'c' \"d\""
