"""The offline asset inliner: folium's CDN links replaced, unknown plugins refused."""

from __future__ import annotations

import folium
import pytest
from folium.plugins import HeatMap, MarkerCluster

from maps.assets import ASSETS, MissingAssetError, external_urls, render_html, required_assets


def sample_map() -> folium.Map:
    m = folium.Map(location=[1.5, 109.4], zoom_start=9, tiles=None)
    HeatMap([[1.5, 109.4, 2]]).add_to(m)
    MarkerCluster().add_to(m)
    return m


def test_plain_folium_would_call_cdns() -> None:
    assert external_urls(sample_map().get_root().render())  # the check can fail


def test_inline_page_has_no_external_reference() -> None:
    m = sample_map()
    page = render_html(m)
    assert external_urls(page) == []
    assert "<script src=" not in page
    assert "L.heatLayer" in page and "L.markerClusterGroup" in page
    assert "data:image/png;base64," in page  # Leaflet's CSS images embedded
    # rendering does not break the map for a second render
    assert external_urls(render_html(m)) == []


def test_static_mode_links_to_our_vendor_path() -> None:
    page = render_html(sample_map(), mode="static")
    assert '<script src="/static/vendor/leaflet.js"></script>' in page
    assert '<script src="/static/vendor/leaflet-heat.js"></script>' in page
    assert '<link rel="stylesheet" href="/static/vendor/MarkerCluster.css"/>' in page
    assert "http://" not in page and "https://" not in page
    assert page.index("leaflet.js") < page.index("leaflet-heat.js")


def test_required_assets_in_order() -> None:
    files = required_assets(sample_map().get_root())
    assert files[0] == "leaflet.js"
    assert set(files) <= set(ASSETS)


def test_unknown_plugin_is_refused() -> None:
    from folium.plugins import Draw

    m = folium.Map(tiles=None)
    Draw().add_to(m)
    with pytest.raises(MissingAssetError, match=r"maps/assets\.py"):
        render_html(m)
