"""The API docs pages (/docs, /redoc): only same-origin assets, a strict CSP, no inline script."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

ORIGIN = "http://regnotify.test"


class _Page(HTMLParser):
    """The URLs a page loads (script src, link href, img src) and the text of any inline script."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []  # (tag, url)
        self.inline_scripts: list[str] = []
        self.inline_styles: list[str] = []
        self._in: str | None = None
        self._script_has_src = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        assert not any(name.startswith("on") for name in values), f"inline handler on <{tag}>"
        assert "style" not in values, f"inline style on <{tag}>"
        for name in ("src", "href"):
            if values.get(name):
                self.urls.append((tag, values[name] or ""))
        if tag in ("script", "style"):
            self._in = tag
            self._script_has_src = bool(values.get("src"))

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "script" and data.strip():
            self.inline_scripts.append(data)
        elif self._in == "style" and data.strip():
            self.inline_styles.append(data)


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


def directives(csp: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            parsed[words[0].lower()] = words[1:]
    return parsed


async def assert_same_origin_page(client: httpx.AsyncClient, path: str) -> list[str]:
    """The page is served with a strict CSP and loads only same-origin assets; returns their URLs."""
    response = await client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "cdn" not in response.text.lower()
    assert "//" not in response.text, "an absolute URL in the page"

    csp = directives(response.headers["content-security-policy"])
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == ["'self'"]
    assert "'unsafe-inline'" not in csp.get("style-src", [])
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    for sources in csp.values():
        assert all(source.startswith("'") or source in ("data:", "blob:") for source in sources), sources
    assert response.headers["x-content-type-options"] == "nosniff"

    page = parse(response.text)
    assert page.inline_scripts == []
    assert page.inline_styles == []
    assert page.urls, "the page loads nothing"
    loaded: list[str] = []
    for _tag, url in page.urls:
        absolute = urljoin(ORIGIN + path, url)
        assert urlsplit(absolute).netloc == "regnotify.test", url
        loaded.append(urlsplit(absolute).path)
    return loaded


async def test_swagger_ui_is_served_from_our_origin_with_a_strict_csp(client: httpx.AsyncClient) -> None:
    loaded = await assert_same_origin_page(client, "/docs")
    assert any(url.endswith(".js") for url in loaded)
    assert any(url.endswith(".css") for url in loaded)
    for url in loaded:
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert asset.content, url
        assert asset.headers["x-content-type-options"] == "nosniff"
        if url.endswith(".js"):
            assert "javascript" in asset.headers["content-type"], url
        if url.endswith(".css"):
            assert asset.headers["content-type"].startswith("text/css"), url


async def test_the_swagger_init_script_loads_the_spec_from_our_origin(client: httpx.AsyncClient) -> None:
    loaded = await assert_same_origin_page(client, "/docs")
    ours = [url for url in loaded if url.endswith("-init.js")]
    assert ours, loaded
    script = (await client.get(ours[0])).text
    assert "cdn" not in script.lower()
    assert "http" not in script  # no absolute URL: the spec and every request stay on this origin
    assert "validatorUrl: null" in script  # Swagger UI would otherwise fetch validator.swagger.io


async def test_redoc_is_same_origin_or_absent(client: httpx.AsyncClient) -> None:
    response = await client.get("/redoc")
    if response.status_code == 404:
        return
    for url in await assert_same_origin_page(client, "/redoc"):
        assert (await client.get(url)).status_code == 200, url


@pytest.mark.parametrize("name", ["redoc.standalone.js", "../docs_pages.py", "missing.js", ""])
async def test_docs_assets_serve_only_what_the_page_loads(client: httpx.AsyncClient, name: str) -> None:
    assert (await client.get(f"/docs-assets/{name}")).status_code == 404


async def test_the_oauth2_redirect_page_with_its_inline_script_is_gone(client: httpx.AsyncClient) -> None:
    assert (await client.get("/docs/oauth2-redirect")).status_code == 404


async def test_openapi_json_still_works(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert "/api/v1/repository/{repository}/notification/" in response.json()["paths"]


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
async def test_docs_pages_are_not_in_the_schema(client: httpx.AsyncClient, path: str) -> None:
    assert path not in (await client.get("/openapi.json")).json()["paths"]
