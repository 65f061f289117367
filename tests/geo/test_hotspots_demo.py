"""The planted hotspots of the demo data (geo.demo) come out of the Gi* analysis."""

from __future__ import annotations

import datetime as dt

import numpy as np
from sqlalchemy import insert
from sqlalchemy.orm import Session

from geo.demo import HOTSPOTS
from geo.demo.generate import generate, load_geography
from geo.demo.truth import window
from geo.hotspots import hotspots
from geo.models import Incident
from geo.patrol import to_utm
from geo.settings import Settings

END = dt.date(2026, 6, 1)


def test_demo_hotspots_are_hot_and_the_emerging_one_is_recognised(
    session: Session, settings: Settings
) -> None:
    data = generate(geo=load_geography(session), seed=7, size="small", end=END)
    frame = data.incidents  # incidents only: the hotspot analysis reads nothing else
    session.execute(
        insert(Incident),
        [
            {
                "kind": r["kind"],
                "severity": int(r["severity"]),
                "occurred_at": r["occurred_at"],
                "geom": f"SRID=4326;POINT({r['lon']} {r['lat']})",
            }
            for r in frame.to_dict("records")
        ],
    )
    start, stop = window(END)
    result = hotspots(
        session=session,
        cell_m=1000.0,
        start=start,
        end=stop - dt.timedelta(microseconds=1),
        reference_data_dir=settings.area.reference_data_dir,
    )
    cells = result.cells
    for spot in HOTSPOTS:
        x, y = to_utm(spot.lon, spot.lat)
        near = (np.hypot(cells["x_utm"] - x, cells["y_utm"] - y) <= spot.radius_m).to_numpy()
        assert cells.loc[near, "gi_bin"].max() >= 2, spot.name  # hot at >= 95 % after FDR
        if spot.pattern == "emerging":
            best = cells[near].sort_values("gi_z").iloc[-1]
            # The emerging hotspot is "new" or "intensifying" (ArcGIS's categories; not
            # "consecutive"). The demo plants an intensifying one: hot in >= 90 % of the weekly
            # slices including the last, with a significant upward Mann-Kendall trend.
            assert best["trend"] in {"new_hot", "intensifying_hot"}, best["trend"]
            assert best["trend_z"] > 1.96
