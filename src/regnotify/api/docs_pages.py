"""The API docs page, /docs (Swagger UI), served entirely from this origin.

FastAPI's own pages load unpinned scripts from a CDN and start them with an inline script; a
compromised CDN package would run on our origin with a signed-in admin's cookies. Here the
Swagger UI bundle comes from the ``fastapi-offline`` package (installed with regnotify, so
pinned by its version), our start-up script and style from ``docs_static/``, all under
``/docs-assets/``, and the page carries a Content-Security-Policy that allows only same-origin
scripts and styles and no inline code.

Not served: ReDoc (/redoc), whose bundle writes its styles into inline ``<style>`` elements
(which the policy refuses, so it does not render) and loads a logo from its vendor's CDN; and
FastAPI's OAuth2 redirect page, an inline script, since the API takes bearer tokens, not OAuth2.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import Scope

ASSETS_PATH = "/docs-assets"
OWN_ASSETS = Path(__file__).parent / "docs_static"
VENDOR_PACKAGE = ("fastapi_offline", "static")  # swagger-ui-bundle.js, swagger-ui.css, favicon.png

# Only this origin's scripts, styles and requests (Swagger UI's "Try it out" calls this API);
# its icons are data: images; no inline code; no framing.
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
DOCS_HEADERS = {
    "Content-Security-Policy": DOCS_CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

SWAGGER_PAGE = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - Swagger UI</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="stylesheet" href="{assets}/docs.css">
<link rel="icon" href="{assets}/favicon.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/swagger-init.js"></script>
</body>
</html>
"""
# What /docs-assets/ serves: our own files, then the vendored ones the page loads (the vendor
# package also holds a ReDoc bundle, which is not served).
SERVED = frozenset({"swagger-init.js", "docs.css", "swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"})


class DocsAssets(StaticFiles):
    """The files in SERVED, ours first, then the vendored bundle's; with ``nosniff``."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path not in SERVED:
            raise HTTPException(status_code=404)
        return await super().get_response(path, scope)

    def file_response(self, *args: object, **kwargs: object) -> Response:
        response = super().file_response(*args, **kwargs)  # type: ignore[arg-type]
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def docs_assets() -> DocsAssets:
    return DocsAssets(directory=OWN_ASSETS, packages=[VENDOR_PACKAGE])


def swagger_page(app: FastAPI, scope: Scope) -> HTMLResponse:
    root = str(scope.get("root_path") or "")
    html = SWAGGER_PAGE.format(
        title=escape(app.title),
        assets=escape(root + ASSETS_PATH),
        openapi_url=escape(root + (app.openapi_url or "")),
    )
    return HTMLResponse(html, headers=DOCS_HEADERS)


def install_docs(app: FastAPI, *, docs_url: str = "/docs") -> None:
    """Serve the docs page and its assets on ``app`` (created with FastAPI's own docs pages off)."""
    app.mount(ASSETS_PATH, docs_assets(), name="docs-assets")

    @app.get(docs_url, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        return swagger_page(app, request.scope)
