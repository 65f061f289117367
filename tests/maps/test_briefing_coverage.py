"""The briefing's patrol-coverage figures from a hand-built track against hand-picked hot cells."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
from sqlalchemy.orm import Session

from geo.errors import PermissionDeniedError, ValidationError
from geo.field import devices, tracks
from geo.field.osmand import Position
from geo.patrol import to_utm
from geo.settings import Settings
from geo.users import Principal
from maps.briefing_coverage import collect_coverage, coverage_rows

START = dt.datetime(2026, 3, 10, 2, 0, tzinfo=dt.UTC)
ARUK = (109.6467, 1.4133)


def _cells(*rows: tuple[float, float, int]) -> Any:
    """A stand-in for a hotspot result: cell centres (lon, lat) and their Gi* bins."""
    xy = [to_utm(lon, lat) for lon, lat, _ in rows]
    frame = pd.DataFrame(
        {
            "x_utm": [x for x, _ in xy],
            "y_utm": [y for _, y in xy],
            "gi_bin": [b for _, _, b in rows],
        }
    )
    return SimpleNamespace(cells=frame)


def test_coverage_figures_from_a_hand_built_track(session: Session, settings: Settings) -> None:
    for team, ident in (("Tim A", "hp-a"), ("Tim B", "hp-b")):
        devices.register_device(
            session=session, name=f"HP {team}", team=team, kind="traccar", identifier=ident
        )
    walk = [  # Tim A: 2.2 km east in 20 minutes, a fix a minute
        Position("hp-a", START + dt.timedelta(minutes=i), ARUK[0] + 0.001 * i, ARUK[1], 5.0)
        for i in range(21)
    ]
    stand = [  # Tim B: an hour at one spot 5 km north, a fix every 5 minutes
        Position("hp-b", START + dt.timedelta(minutes=5 * i), ARUK[0], ARUK[1] + 0.045, 5.0)
        for i in range(13)
    ]
    tracks.record_positions(session=session, positions=walk + stand, margin_m=10_000.0)
    result = _cells(
        (ARUK[0] + 0.010, ARUK[1] + 0.004, 3),  # 445 m from the walk: covered by A
        (ARUK[0] + 0.030, ARUK[1], 2),  # 1.1 km past the walk's end: nobody
        (ARUK[0], ARUK[1] + 0.045, 2),  # where B stood
        (ARUK[0] + 0.005, ARUK[1], 0),  # on the walk but not hot: not counted
    )
    planner = Principal(name="p", role="planner")
    coverage = collect_coverage(
        session=session,
        settings=settings,
        principal=planner,
        start=START,
        end=START + dt.timedelta(days=1),
        result=result,
        radius_m=500.0,
    )
    assert coverage.hot_cells == 3 and coverage.covered_by_any == 2
    a, b = coverage.teams
    assert a.team == "Tim A" and a.km == pytest.approx(20 * 0.1113, rel=0.01)
    assert a.hours == pytest.approx(20 / 60) and a.positions == 21 and a.cells == {0}
    assert b.km == 0.0 and b.hours == pytest.approx(1.0) and b.cells == {2}
    rows = coverage_rows(coverage, "en")
    assert rows == [
        ["Tim A", "2.2", "0.3", "21", "1 / 3 (33%)"],
        ["Tim B", "0.0", "1.0", "13", "1 / 3 (33%)"],
        ["All teams", "2.2", "1.3", "34", "2 / 3 (67%)"],
    ]
    assert coverage_rows(coverage, "id")[0] == ["Tim A", "2,2", "0,3", "21", "1 / 3 (33%)"]
    assert len(coverage.tracks["features"]) == 2
    with pytest.raises(PermissionDeniedError):
        collect_coverage(
            session=session,
            settings=settings,
            principal=Principal(name="v", role="viewer"),
            start=START,
            end=START + dt.timedelta(days=1),
            result=result,
            radius_m=500.0,
        )
    with pytest.raises(ValidationError):
        collect_coverage(
            session=session,
            settings=settings,
            principal=planner,
            start=START,
            end=START + dt.timedelta(days=60),
            result=result,
            radius_m=500.0,
        )


def test_coverage_page_layout_with_a_long_team_name(
    session: Session, settings: Settings, artifacts_dir: Path
) -> None:
    from maps import briefing as brief
    from tests.maps.pdf_layout import layout_faults, text_runs

    team = "Tim Patroli Gabungan Imigrasi Polres Kodim Sajingan Besar Wilayah Utara"
    devices.register_device(
        session=session, name="HP Panjang", team=team, kind="traccar", identifier="hp-long"
    )
    tracks.record_positions(
        session=session,
        positions=[
            Position("hp-long", START + dt.timedelta(minutes=i), ARUK[0] + 0.001 * i, ARUK[1], 5.0)
            for i in range(30)
        ],
        margin_m=10_000.0,
    )
    for lang in ("id", "en"):
        pack = brief.collect(
            session=session,
            params=brief.parse_briefing_params(
                start=START, end=START + dt.timedelta(days=1), lang=lang, patrol_coverage=True
            ),
            settings=settings,
            principal=Principal(name="Perencana", role="planner"),
        )
        pdf = brief.render(pack)
        (artifacts_dir / f"briefing-coverage-{lang}.pdf").write_bytes(pdf)
        # The other pages of an empty period have their own checks (test_briefing_layout.py).
        assert [f for f in layout_faults(pdf) if f.page == 6] == []
        pages = ["".join(runs).replace(" ", "") for runs in text_runs(pdf)]
        assert len(pages) == 9
        assert team.replace(" ", "") in pages[5]
