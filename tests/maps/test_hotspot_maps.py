"""Hotspot and patrol maps: plain builders and the ``hotspots``/``patrol`` views, rendered offline."""

from __future__ import annotations

from sqlalchemy.orm import Session

from geo.hotspots import clusters_for_layer, clusters_frame, hotspots, kde_for_layer
from geo.patrol import plan_patrol
from geo.settings import Settings
from maps.assets import external_urls, render_html
from maps.common import parse_params
from maps.hotspot_labels import BIN_COLOURS
from maps.hotspots import hotspot_map
from maps.patrol import patrol_map
from maps.views import VIEWS, build_view
from tests.geo.hotspot_synth import SHARED_DATA, insert_incidents, planted


def test_hotspot_map_with_kde_and_clusters(session: Session) -> None:
    insert_incidents(session, planted(seed=7, per_cluster=30, background=100))
    result = hotspots(session=session, cell_m=1500.0, reference_data_dir=SHARED_DATA)
    kde = kde_for_layer(session=session, bandwidth_m=1500.0)
    clusters = clusters_frame(clusters_for_layer(session=session, eps_m=600.0, min_samples=8))
    assert kde is not None and len(clusters) == 5
    m = hotspot_map(result, lang="en", kde=kde, clusters=clusters)
    (south, west), (north, east) = m.get_bounds()
    assert 0.8 < south < north < 2.2 and 108.8 < west < east < 110.0
    page = render_html(m)
    assert external_urls(page) == []
    assert BIN_COLOURS[3] in page  # a 99 % hot spot is drawn
    assert "Hot spot 99 %" in page and "DBSCAN clusters" in page
    assert "data:image/png;base64" in page  # the KDE, inline


def test_patrol_map_draws_points_and_route(session: Session) -> None:
    insert_incidents(session, planted(seed=7, per_cluster=30, background=100))
    plan = plan_patrol(
        session=session,
        k=5,
        radius_m=2500.0,
        avoid_recent_days=None,
        reference_data_dir=SHARED_DATA,
    )
    page = render_html(patrol_map(plan, lang="id"))
    assert external_urls(page) == []
    assert "Rencana patroli" in page and "L.polyline" in page
    assert page.count("L.circle(") == 5


def test_hotspot_and_patrol_views_are_registered(session: Session, settings: Settings) -> None:
    insert_incidents(session, planted(seed=7, per_cluster=30, background=100))
    assert {"hotspots", "patrol"} <= set(VIEWS)
    for view in ("hotspots", "patrol"):
        params = parse_params(cell_m=1500.0, extra={"kde": "1", "k": "3"})
        m = build_view(view, session=session, principal_role="planner", params=params,
                       settings=settings)  # fmt: skip
        page = render_html(m)
        assert external_urls(page) == []
        assert BIN_COLOURS[3] in page


def test_hotspots_view_over_http(client, session: Session) -> None:  # type: ignore[no-untyped-def]
    from geo.users import create_user

    insert_incidents(session, planted(seed=7, per_cluster=30, background=100))
    _, token = create_user(session=session, name="map-viewer", role="viewer")
    response = client.get(
        "/maps/hotspots",
        params={"cell_m": 2000, "lang": "en", "assets": "inline"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    assert "Incident hot spots" in response.text
