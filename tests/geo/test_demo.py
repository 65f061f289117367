"""Demo data: deterministic, plausible, with the planted hotspots where the answer key says."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.demo import HOTSPOTS, generate, load_geography, seed
from geo.models import PERMIT_TYPES
from geo.settings import Settings

END = dt.date(2025, 7, 1)


def test_same_seed_same_data_other_seed_other_data(session: Session) -> None:
    geo = load_geography(session)
    one = generate(geo=geo, seed=11, size="small", end=END)
    two = generate(geo=geo, seed=11, size="small", end=END)
    other = generate(geo=geo, seed=12, size="small", end=END)
    for (layer, a), (_, b), (_, c) in zip(one.tables(), two.tables(), other.tables(), strict=True):
        pd.testing.assert_frame_equal(a, b, obj=layer)
        assert not a.equals(c), layer


def _metres(lon: np.ndarray, lat: np.ndarray, lon0: float, lat0: float) -> np.ndarray:
    return np.hypot((lon - lon0) * 111_320 * np.cos(np.radians(lat0)), (lat - lat0) * 110_574)


def test_small_seed_loads_plausible_data_and_ground_truth(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    started = time.perf_counter()
    report = seed(
        session=session,
        seed=7,
        size="small",
        end=END,
        area=settings.area,
        ground_truth_path=tmp_path / "truth.json",
    )
    print(f"\ndemo small loaded in {time.perf_counter() - started:.1f} s")
    counts = dict(
        session.execute(
            text(
                "SELECT 'workplaces', count(*) FROM workplace UNION ALL "
                "SELECT 'foreigners', count(*) FROM foreigner UNION ALL "
                "SELECT 'incidents', count(*) FROM incident UNION ALL "
                "SELECT 'sightings', count(*) FROM sighting WHERE source <> 'inspection' UNION ALL "
                "SELECT 'inspections', count(*) FROM inspection UNION ALL "
                "SELECT 'checked', count(*) FROM inspection_finding UNION ALL "
                "SELECT 'sighted', count(*) FROM sighting WHERE source = 'inspection'"
            )
        ).all()
    )
    # The generated rows, then the demo's inspections: each person checked sighted once.
    assert {k: counts[k] for k in ("workplaces", "foreigners", "incidents", "sightings")} == {
        "workplaces": 60,
        "foreigners": 300,
        "incidents": 400,
        "sightings": 20_000,
    }
    assert report.inspections == counts["inspections"] == 4
    assert counts["checked"] == counts["sighted"] > 0
    # Plantations where they are; names obviously fake.
    plantation_kec = set(
        session.execute(
            text("SELECT DISTINCT kecamatan_name FROM workplace WHERE sector = 'plantation'")
        ).scalars()
    )
    assert plantation_kec <= {"Sajingan Besar", "Galing", "Subah", "Sejangkung"}
    assert session.execute(
        text("SELECT bool_and(full_name LIKE '%(Sintetis)') FROM foreigner")
    ).scalar_one()
    mix = dict(
        session.execute(text("SELECT nationality, count(*) FROM foreigner GROUP BY 1")).all()
    )
    assert max(mix, key=mix.__getitem__) == "MYS" and {"CHN", "VNM", "IND"} <= set(mix)
    permits = set(session.execute(text("SELECT DISTINCT permit_type FROM foreigner")).scalars())
    assert permits == set(PERMIT_TYPES)
    expired = session.execute(
        text("SELECT count(*) FROM foreigner WHERE permit_expires_on < :end"), {"end": END}
    ).scalar_one()
    assert 10 < expired < 150
    sides = dict(
        session.execute(text("SELECT border_side, count(*) FROM sighting GROUP BY 1")).all()
    )
    assert 0 < sides.get("MY", 0) < 500
    # The answer key matches the data.
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert truth == report.ground_truth and len(truth["hotspots"]) == len(HOTSPOTS)
    incidents = pd.DataFrame(
        session.execute(
            text("SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat, kind, occurred_at FROM incident")
        ).all()
    )
    for spot in truth["hotspots"]:
        d = _metres(
            incidents["lon"].to_numpy(),
            incidents["lat"].to_numpy(),
            spot["centre"]["lon"],
            spot["centre"]["lat"],
        )
        near = incidents[d <= spot["radius_m"]]
        assert len(near) >= spot["n_incidents"], spot["name"]
        if spot["pattern"] == "emerging":
            # Intensifying: incidents in every weekly slice, counts rising over the year.
            counts = spot["weekly_counts"]
            assert spot["expected_trend"] == "intensifying_hot"
            assert counts == sorted(counts) and sum(counts) == spot["n_incidents"]
            assert min(counts) >= 1 and counts[-1] >= 3 * counts[0]
            planted = near[near["kind"].isin(spot["kinds"])]
            edges = [pd.Timestamp(t) for t in spot["weekly_slices"]] + [pd.Timestamp(spot["end"])]
            per_slice = pd.cut(planted["occurred_at"], edges, right=False).value_counts(sort=False)
            assert len(per_slice) == len(counts) and (per_slice.to_numpy() >= counts).all()
    # Meetings and follow-up actions: some overdue, some closed, linked to demo incidents.
    assert report.followup == {"meetings": 3, "actions": 13}
    statuses = dict(
        session.execute(
            text(
                "SELECT CASE WHEN status IN ('open', 'in_progress') AND due_on < :end "
                "THEN 'overdue' ELSE status END, count(*) FROM follow_up_action GROUP BY 1"
            ),
            {"end": END},
        ).all()
    )
    assert statuses.get("overdue", 0) >= 2 and statuses["done"] >= 4 and statuses["dropped"] >= 1
    linked = session.execute(
        text(
            "SELECT count(*) FROM follow_up_link l JOIN incident i ON i.id::text = l.target "
            "WHERE l.kind = 'incident' AND i.external_ref LIKE 'DEMO-I-%'"
        )
    ).scalar_one()
    assert linked == 13
    again = seed(session=session, seed=7, size="small", end=END, area=settings.area)
    assert all(v["inserted"] == 0 and v["updated"] == 0 for v in again.layers.values())
    assert again.followup == {"meetings": 0, "actions": 0}
