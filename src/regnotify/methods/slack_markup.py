"""HTML event messages to Slack mrkdwn, with html.parser (no regular expressions on HTML).

``<a href=X>T</a>`` becomes ``<X|T>`` (http, https and mailto links only; others keep their text),
``<b>``/``<strong>`` become ``*…*``, ``<i>``/``<em>`` ``_…_``, ``<code>`` backquotes, ``<br>`` and the
end of a ``<p>``, ``<div>`` or ``<li>`` a new line. Other tags are dropped (with the content of
``<script>`` and ``<style>``), entities are unescaped, and the plain text gets Slack's escaping of
``&``, ``<`` and ``>``.
"""

from __future__ import annotations

from html.parser import HTMLParser

_MARKS = {"b": "*", "strong": "*", "i": "_", "em": "_", "code": "`"}
_BREAK_AFTER = frozenset({"p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})
_SKIP = frozenset({"script", "style"})
_LINK_SCHEMES = ("http://", "https://", "mailto:")


def slack_escape(text: str) -> str:
    """Slack's escaping for message text: only ``&``, ``<`` and ``>``."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link_target(href: str | None) -> str | None:
    if not href:
        return None
    target = href.strip()
    if not target.lower().startswith(_LINK_SCHEMES) or any(ch.isspace() for ch in target):
        return None
    return slack_escape(target).replace("|", "%7C")


def _collapse(data: str) -> str:
    """HTML whitespace: every run becomes one space, kept at the edges so words stay apart."""
    if not data:
        return ""
    core = " ".join(data.split())
    if not core:
        return " "
    lead = " " if data[0].isspace() else ""
    trail = " " if data[-1].isspace() else ""
    return lead + core + trail


class _Converter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.links: list[tuple[str | None, list[str]]] = []  # (target, the output outside the link)
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skipping += 1
        elif tag == "a":
            self.links.append((_link_target(dict(attrs).get("href")), self.out))
            self.out = []
        elif tag in _MARKS:
            self.out.append(_MARKS[tag])
        elif tag == "br":
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skipping = max(self.skipping - 1, 0)
        elif tag == "a" and self.links:
            self._close_link()
        elif tag in _MARKS:
            self.out.append(_MARKS[tag])
        elif tag in _BREAK_AFTER:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.out.append(slack_escape(_collapse(data)))

    def _close_link(self) -> None:
        target, outer = self.links.pop()
        text = "".join(self.out).strip()
        self.out = outer
        if target is None:
            self.out.append(text)
        elif not text or text == target:
            self.out.append(f"<{target}>")
        else:
            self.out.append(f"<{target}|{text}>")

    def result(self) -> str:
        self.close()
        while self.links:
            self._close_link()
        lines = [" ".join(line.split()) for line in "".join(self.out).split("\n")]
        text = "\n".join(lines).strip("\n")
        while "\n\n\n" in text:
            text = text.replace("\n\n\n", "\n\n")
        return text


def html_to_mrkdwn(html: str) -> str:
    """Slack mrkdwn for an HTML fragment."""
    converter = _Converter()
    converter.feed(html)
    return converter.result()
