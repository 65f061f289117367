"""Offline assets: Leaflet and its plugins from Python packages, never from a CDN.

folium links every plugin to a CDN (``default_js``/``default_css``). :func:`render_html` renders a
map with those links replaced by our packaged copies — inlined into the page (``mode="inline"``,
for files and notebooks) or served by the API under ``/static/vendor/`` (``mode="static"``, so
browsers cache them across views). A folium element that asks for an asset we do not ship is an
error, not a silent CDN request: add the asset here first.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import html
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import branca.element
import folium
import xstatic.pkg.leaflet as xs_leaflet
import xstatic.pkg.leaflet_markercluster as xs_markercluster
from branca.element import CssLink, Element, Figure, JavascriptLink
from folium import __version__ as folium_version  # type: ignore[attr-defined]

AssetMode = Literal["inline", "static"]
STATIC_PREFIX: Final = "/static/vendor"
# A CSP nonce as the API makes them (``secrets.token_urlsafe``): safe inside an attribute.
NONCE_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]{16,128}")

_LEAFLET_DIR = Path(xs_leaflet.BASE_DIR)
_CLUSTER_DIR = Path(xs_markercluster.BASE_DIR)
_FOLIUM_TEMPLATES = Path(folium.__file__).resolve().parent / "templates"
# Assets no Python package carries, vendored from npm with their provenance (maps/vendor/README.md).
_VENDOR_DIR = Path(__file__).resolve().parent / "vendor"


@dataclass(frozen=True)
class Asset:
    """One packaged file, served as ``/static/vendor/<filename>``."""

    filename: str
    path: Path
    kind: Literal["js", "css"]
    origin: str  # the Python package it comes from, for the docs


ASSETS: Final[dict[str, Asset]] = {
    a.filename: a
    for a in (
        Asset(
            "leaflet.js", _LEAFLET_DIR / "leaflet.js", "js", f"xstatic-leaflet {xs_leaflet.VERSION}"
        ),
        Asset(
            "leaflet.css",
            _LEAFLET_DIR / "leaflet.css",
            "css",
            f"xstatic-leaflet {xs_leaflet.VERSION}",
        ),
        Asset(
            "leaflet.markercluster.js",
            _CLUSTER_DIR / "leaflet.markercluster.js",
            "js",
            f"xstatic-leaflet-markercluster {xs_markercluster.VERSION}",
        ),
        Asset(
            "MarkerCluster.css",
            _CLUSTER_DIR / "MarkerCluster.css",
            "css",
            f"xstatic-leaflet-markercluster {xs_markercluster.VERSION}",
        ),
        Asset(
            "MarkerCluster.Default.css",
            _CLUSTER_DIR / "MarkerCluster.Default.css",
            "css",
            f"xstatic-leaflet-markercluster {xs_markercluster.VERSION}",
        ),
        Asset(
            "leaflet-heat.js",
            _FOLIUM_TEMPLATES / "leaflet_heat.min.js",
            "js",
            f"folium {folium_version} (bundled Leaflet.heat)",
        ),
        Asset(
            "leaflet-vectorgrid.js",
            _VENDOR_DIR / "leaflet-vectorgrid.js",
            "js",
            "npm leaflet.vectorgrid 1.3.0 (bundled build; maps/vendor/README.md)",
        ),
    )
}

# folium's asset names → our files. ``None``: not needed by anything we draw (Bootstrap, jQuery
# and awesome-markers serve folium.Icon/Popup styling we do not use), so the link is dropped.
FOLIUM_ASSETS: Final[dict[str, str | None]] = {
    "leaflet": "leaflet.js",
    "leaflet_css": "leaflet.css",
    "markerclusterjs": "leaflet.markercluster.js",
    "markerclustercss": "MarkerCluster.css",
    "markerclusterdefaultcss": "MarkerCluster.Default.css",
    "leaflet-heat.js": "leaflet-heat.js",
    "leaflet-vectorgrid": "leaflet-vectorgrid.js",
    "jquery": None,
    "bootstrap": None,
    "awesome_markers": None,
    "bootstrap_css": None,
    "glyphicons_css": None,
    "awesome_markers_font_css": None,
    "awesome_markers_css": None,
    "awesome_rotate_css": None,
}

_CSS_URL = re.compile(r"url\((['\"]?)(images/[^'\")]+)\1\)")


class MissingAssetError(RuntimeError):
    """A folium element needs a script or stylesheet that is not packaged here."""


@functools.cache
def asset_text(filename: str) -> str:
    """The file's text; CSS with its images embedded as data URIs (no relative fetches)."""
    asset = ASSETS.get(filename)
    if asset is None:
        raise KeyError(filename)
    text = asset.path.read_text(encoding="utf-8")
    if asset.kind == "css":
        base = asset.path.parent

        def embed(match: re.Match[str]) -> str:
            data = (base / match.group(2)).read_bytes()
            return f"url(data:image/png;base64,{base64.b64encode(data).decode()})"

        text = _CSS_URL.sub(embed, text)
    return text


def _walk(element: Any) -> Iterator[Any]:
    yield element
    for child in list(getattr(element, "_children", {}).values()):
        yield from _walk(child)


def required_assets(root: Any) -> list[str]:
    """Our filenames needed by the elements under ``root``, JS before CSS, Leaflet first."""
    needed: dict[str, None] = {"leaflet.js": None, "leaflet.css": None}
    for element in _walk(root):
        for name, url in [
            *getattr(element, "default_js", []),
            *getattr(element, "default_css", []),
        ]:
            if name not in FOLIUM_ASSETS:
                raise MissingAssetError(
                    f"{type(element).__name__} needs {name!r} ({url}); "
                    "package it in maps/assets.py "
                    "instead of loading it from the network"
                )
            local = FOLIUM_ASSETS[name]
            if local is not None:
                needed[local] = None
    ordered = sorted(
        needed, key=lambda f: (ASSETS[f].kind != "js", f != "leaflet.js", f != "leaflet.css")
    )
    return ordered


def _tag(filename: str, mode: AssetMode, prefix: str, nonce: str | None) -> str:
    asset = ASSETS[filename]
    nonce_attr = f' nonce="{nonce}"' if nonce else ""
    if mode == "static":
        url = html.escape(f"{prefix}/{filename}", quote=True)
        if asset.kind == "js":
            return f'<script{nonce_attr} src="{url}"></script>'
        return f'<link rel="stylesheet" href="{url}"/>'
    body = asset_text(filename)
    if asset.kind == "js":
        return f"<script{nonce_attr}>" + body.replace("</script", "<\\/script") + "</script>"
    return "<style>" + body.replace("</style", "<\\/style") + "</style>"


class _RenderedText(Element):
    """Text a template has already produced: written out as it is.

    branca keeps each element's rendered header, HTML and script as a new ``Element`` whose
    text is compiled and rendered as a Jinja template once more, so a value containing
    ``{{ … }}`` (a workplace name, a zone from an imported file) would be evaluated on the
    server. While a page renders, those elements are made of this class instead.
    """

    def __init__(self, template: str | None = None, template_name: str | None = None) -> None:
        super().__init__(template_name=template_name)
        self._text = template

    def render(self, **kwargs: Any) -> str:
        if self._text is None:
            return str(super().render(**kwargs))
        return self._text


# branca's MacroElement.render looks ``Element`` up in its module at call time; swapping it is
# process-wide, so pages render one at a time (a map renders in well under a second).
_RENDER_LOCK: Final = threading.Lock()


@contextlib.contextmanager
def _rendered_text_kept() -> Iterator[None]:
    with _RENDER_LOCK:
        original = branca.element.Element
        branca.element.Element = _RenderedText  # type: ignore[misc]
        try:
            yield
        finally:
            branca.element.Element = original  # type: ignore[misc]


_SCRIPT_TAG = re.compile(r"<\s*/?\s*script", re.IGNORECASE)


def _part_text(part: Element) -> str:
    return "".join(str(child.render()) for child in part._children.values())


def _with_nonce(page: str, figure: Figure, nonce: str) -> str:
    """``nonce`` on every script element of the page, after checking that the page's markup
    and its script carry no script tag of their own (a value that escaped its escaping)."""
    for part in (figure.html, figure.script):
        found = _SCRIPT_TAG.search(_part_text(part))
        if found is not None:
            raise RuntimeError("a script tag in the map's markup or script: refusing to serve")
    stamped = page.replace("<script>", f'<script nonce="{nonce}">')
    if len(_SCRIPT_TAG.findall(stamped)) != 2 * stamped.count(f'<script nonce="{nonce}">'):
        raise RuntimeError("a script element of the map page would run without the nonce")
    return stamped


def render_html(
    m: folium.Map | Figure,
    *,
    mode: AssetMode = "inline",
    static_prefix: str = STATIC_PREFIX,
    nonce: str | None = None,
) -> str:
    """The map as one HTML page whose scripts and styles come from this server or the page.

    With ``nonce`` every script element carries it, for a Content-Security-Policy that runs no
    other script (``script-src 'nonce-…'``).
    """
    if nonce is not None and not NONCE_PATTERN.fullmatch(nonce):
        raise ValueError("nonce must be 16 to 128 characters of A-Z, a-z, 0-9, _ and -")
    figure = m.get_root() if isinstance(m, folium.Map) else m
    if not isinstance(figure, Figure):
        raise TypeError(f"expected a folium.Map inside a Figure, got {type(figure).__name__}")
    files = required_assets(figure)
    # folium re-adds CDN links on every render: silence them on each element for this render.
    silenced: list[tuple[Any, dict[str, Any]]] = []
    for element in _walk(figure):
        if getattr(element, "default_js", None) or getattr(element, "default_css", None):
            silenced.append((element, dict(element.__dict__)))
            element.default_js = []
            element.default_css = []
    header = figure.header
    for key, child in list(header._children.items()):
        if isinstance(child, JavascriptLink | CssLink) or key.startswith("timpora_asset_"):
            del header._children[key]
    # Placeholders: the libraries' text joins the page after the nonce is set on its scripts.
    for index, filename in enumerate(files):
        header.add_child(
            _RenderedText(f"<!--timpora-asset:{filename}-->"),
            name=f"timpora_asset_{filename}",
            index=index,
        )
    try:
        with _rendered_text_kept():
            page = str(figure.render())
            if nonce is not None:
                page = _with_nonce(page, figure, nonce)
    finally:
        for element, saved in silenced:
            for attr in ("default_js", "default_css"):
                if attr in saved:
                    setattr(element, attr, saved[attr])
                else:
                    element.__dict__.pop(attr, None)
    for filename in files:
        page = page.replace(
            f"<!--timpora-asset:{filename}-->", _tag(filename, mode, static_prefix, nonce), 1
        )
    return page


def external_urls(page: str) -> list[str]:
    """``http(s)://`` URLs in a rendered page outside the packaged libraries' own text.

    The libraries carry URLs in comments and the SVG namespace; none of them is fetched.
    """
    stripped = page
    for filename in ASSETS:
        stripped = stripped.replace(asset_text(filename).replace("</script", "<\\/script"), "")
        stripped = stripped.replace(asset_text(filename).replace("</style", "<\\/style"), "")
    return re.findall(r"https?://[^\s\"'<>)]+", stripped)


class OfflineMap:
    """A map for Jupyter: shown in an ``iframe srcdoc`` with the assets inlined.

    folium's own notebook display links to CDNs; this one works with no network.
    """

    def __init__(self, m: folium.Map, *, height_px: int = 520) -> None:
        self.page = render_html(m, mode="inline")
        self.height_px = height_px

    def _repr_html_(self) -> str:
        srcdoc = html.escape(self.page, quote=True)
        return (
            f'<iframe srcdoc="{srcdoc}" style="width:100%;height:{self.height_px}px;border:0" '
            'loading="lazy"></iframe>'
        )
