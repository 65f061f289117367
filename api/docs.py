"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc): the API reference, offline.

Both pages load their JavaScript and CSS from ``/docs/assets/``: the files the ``fastapi-offline``
package ships (Swagger UI 5, which reads the OpenAPI 3.1 document FastAPI writes, and ReDoc's
standalone bundle). Nothing comes from a CDN. The pages carry no inline script either: Swagger
UI is started by ``/docs/swagger-ui-init.js``, which reads its settings from the page, so the
default Content-Security-Policy (``api/middleware.py``: no inline script) holds here too.
Swagger UI's online validator is off, and ReDoc's bundle is served with the one request it
would make to another host (the Redocly logo in its sidebar) taken out.
"""

from __future__ import annotations

import functools
import html
from pathlib import Path
from typing import Final

import fastapi_offline
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

DOCS_URL: Final = "/docs"
REDOC_URL: Final = "/redoc"
ASSETS_URL: Final = "/docs/assets"
INIT_URL: Final = "/docs/swagger-ui-init.js"
REDOC_JS_URL: Final = "/docs/redoc.standalone.js"
ASSETS_DIR: Final = Path(fastapi_offline.__file__).resolve().parent / "static"
REDOC_LOGO_URL: Final = "https://cdn.redoc.ly/redoc/logo-mini.svg"
CACHE: Final = "public, max-age=86400"

SWAGGER_INIT_JS: Final = """\
// Starts Swagger UI on /docs with the settings the page carries (no inline script).
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    persistAuthorization: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset]
  });
});
"""


def _page(*, title: str, head: str = "", body: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="icon" href="{ASSETS_URL}/favicon.png">
{head}</head>
<body>
{body}</body>
</html>
"""


def swagger_ui_page(*, title: str, openapi_url: str) -> str:
    return _page(
        title=title,
        head=f'<link rel="stylesheet" href="{ASSETS_URL}/swagger-ui.css">\n',
        body=(
            f'<div id="swagger-ui" data-openapi-url="{html.escape(openapi_url, quote=True)}">'
            f'</div>\n<script src="{ASSETS_URL}/swagger-ui-bundle.js"></script>\n'
            f'<script src="{INIT_URL}"></script>\n'
        ),
    )


def redoc_page(*, title: str, openapi_url: str) -> str:
    return _page(
        title=title,
        body=(
            f'<redoc spec-url="{html.escape(openapi_url, quote=True)}"></redoc>\n'
            f'<script src="{REDOC_JS_URL}"></script>\n'
        ),
    )


@functools.cache
def redoc_bundle() -> str:
    """ReDoc's bundle without its logo request (an empty ``src`` loads nothing; ReDoc then
    hides the image)."""
    return (
        (ASSETS_DIR / "redoc.standalone.js").read_text(encoding="utf-8").replace(REDOC_LOGO_URL, "")
    )


def add_docs(app: FastAPI) -> None:
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="api-reference-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get(DOCS_URL, include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return HTMLResponse(swagger_ui_page(title=f"{app.title} — API", openapi_url=openapi_url))

    @app.get(INIT_URL, include_in_schema=False)
    def swagger_ui_init() -> Response:
        return Response(SWAGGER_INIT_JS, media_type="text/javascript; charset=utf-8")

    @app.get(REDOC_JS_URL, include_in_schema=False)
    def redoc_js() -> Response:
        return Response(
            redoc_bundle(),
            media_type="text/javascript; charset=utf-8",
            headers={"Cache-Control": CACHE},
        )

    @app.get(REDOC_URL, include_in_schema=False)
    def redoc() -> HTMLResponse:
        return HTMLResponse(redoc_page(title=f"{app.title} — API", openapi_url=openapi_url))
