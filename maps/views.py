"""The registry of map views: name → builder. ``GET /maps/{view}`` and ``timpora map`` read it.

A builder takes keyword-only ``session``, ``principal_role``, ``params`` and ``settings`` and
returns a ``folium.Map``; it never writes files. Adding a view is one line here, e.g.
``VIEWS["hotspots"] = build_hotspots``.
"""

from __future__ import annotations

from typing import Protocol

import folium
from sqlalchemy.orm import Session

from geo.errors import NotFoundError
from geo.settings import Settings
from maps.assets import AssetMode, render_html
from maps.common import MapParams, with_place_names
from maps.focus import FocusBridge
from maps.heatmap import build_heatmap
from maps.hexbins import build_hexbins
from maps.hotspots import build_hotspots
from maps.overview import build_overview
from maps.patrol import build_patrol
from maps.timeline import build_timeline
from maps.workplace_risk import build_workplace_risk


class Builder(Protocol):
    def __call__(
        self, *, session: Session, principal_role: str, params: MapParams, settings: Settings
    ) -> folium.Map: ...


VIEWS: dict[str, Builder] = {
    "heatmap": build_heatmap,
    "overview": build_overview,
    "hexbins": build_hexbins,
    "timeline": build_timeline,
    "hotspots": build_hotspots,
    "patrol": build_patrol,
    "risk": build_workplace_risk,
}


def build_view(
    view: str, *, session: Session, principal_role: str, params: MapParams, settings: Settings
) -> folium.Map:
    builder = VIEWS.get(view)
    if builder is None:
        raise NotFoundError(f"no map view {view!r}; views: {', '.join(sorted(VIEWS))}")
    params = with_place_names(params, session=session)
    return builder(session=session, principal_role=principal_role, params=params, settings=settings)


def render_view(
    view: str,
    *,
    session: Session,
    principal_role: str,
    params: MapParams,
    settings: Settings,
    mode: AssetMode = "inline",
    nonce: str | None = None,
) -> str:
    """The view as one HTML page with no request leaving the server; with ``nonce`` on every
    script element (see ``render_html``)."""
    m = build_view(
        view, session=session, principal_role=principal_role, params=params, settings=settings
    )
    m.add_child(FocusBridge())  # the dashboard's alert queue flies the map (maps/focus.py)
    return render_html(m, mode=mode, nonce=nonce)
