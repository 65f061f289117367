"""The briefing pack's optional patrol-coverage page: where the teams' tracks went in the period.

Per team: km walked, hours tracked (silences longer than the track gap left out), positions,
and how many of the patrol plan's hot cells (the cells of the plan's page, ≥ 95 % hot spots) a
track passed within the plan's radius of — the planner's meaning of "patrolled"
(docs/field.md); a small map draws the tracks over those cells and the plan. Team tracks are
officers' movements: only roles that manage patrols may ask for the page (the pack is otherwise
aggregates for every role), and the period is at most the track window (31 days).
"""

from __future__ import annotations

import datetime as dt
import textwrap
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from sqlalchemy.orm import Session

from geo import access
from geo.field import patrolled, tracks
from geo.field.patrolled import TeamCoverage
from geo.hotspots.analysis import HotspotResult
from geo.settings import Settings
from geo.times import WIB
from geo.users import Principal
from maps.field_labels import ft
from maps.labels import Lang
from maps.patrol_tracks import track_lines
from maps.printed_table import count_text, decimal_text, draw_table
from maps.snapshot import draw_map
from maps.static_basemap import map_axes
from maps.static_layers import PatrolLayer
from maps.utm_geometry import lonlat_to_utm

TEAM_COLOURS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d")


@dataclass(frozen=True)
class PatrolCoverage:
    """What the coverage page shows (no database needed to draw it)."""

    start: dt.datetime
    end: dt.datetime
    teams: list[TeamCoverage]
    hot_cells: int  # the plan's hot cells in the period's analysis
    covered_by_any: int  # of those, covered by at least one team
    radius_m: float
    gap_s: float
    tracks: dict[str, Any]  # FeatureCollection, one MultiLineString per team


def collect_coverage(
    *,
    session: Session,
    settings: Settings,
    principal: Principal,
    start: dt.datetime | None,
    end: dt.datetime | None,
    result: HotspotResult,
    radius_m: float,
) -> PatrolCoverage:
    """The period's tracks against the hot cells of ``result`` (Gi* bin ≥ 2)."""
    access.check(principal.role, access.PLAN_PATROLS)
    start_at, end_at = tracks.track_window(start, end)
    gap_s = settings.field.field_track_gap_s
    max_accuracy_m = settings.field.field_max_accuracy_m
    cells = result.cells
    hot = cells[cells["gi_bin"] >= 2] if len(cells) else cells
    centres = (
        list(zip(hot["x_utm"].to_numpy(float), hot["y_utm"].to_numpy(float), strict=True))
        if len(hot)
        else []
    )
    teams = patrolled.team_coverage(
        session=session,
        start=start_at,
        end=end_at,
        cells_xy=centres,
        radius_m=radius_m,
        gap_s=gap_s,
        max_accuracy_m=max_accuracy_m,
    )
    covered: set[int] = set()
    for team in teams:
        covered |= team.cells
    return PatrolCoverage(
        start=start_at,
        end=end_at,
        teams=teams,
        hot_cells=len(centres),
        covered_by_any=len(covered),
        radius_m=radius_m,
        gap_s=gap_s,
        tracks=tracks.team_tracks(
            session=session, start=start_at, end=end_at, gap_s=gap_s, max_accuracy_m=max_accuracy_m
        ),
    )


def period_text(coverage: PatrolCoverage) -> str:
    first = coverage.start.astimezone(WIB)
    last = (coverage.end - dt.timedelta(microseconds=1)).astimezone(WIB)
    return f"{first:%Y-%m-%d %H:%M} – {last:%Y-%m-%d %H:%M} WIB"


def coverage_rows(coverage: PatrolCoverage, lang: Lang) -> list[list[str]]:
    """The table: one row per team, then all teams together (cells counted once)."""

    def share(n: int) -> str:
        total = coverage.hot_cells
        return f"{n} / {total}" + (f" ({n / total:.0%})" if total else "")

    rows = [
        [
            team.team,
            decimal_text(team.km, lang, 1),
            decimal_text(team.hours, lang, 1),
            count_text(team.positions, lang),
            share(len(team.cells)),
        ]
        for team in coverage.teams
    ]
    if coverage.teams:
        rows.append(
            [
                ft("all_teams", lang),
                decimal_text(sum(t.km for t in coverage.teams), lang, 1),
                decimal_text(sum(t.hours for t in coverage.teams), lang, 1),
                count_text(sum(t.positions for t in coverage.teams), lang),
                share(coverage.covered_by_any),
            ]
        )
    return rows


def draw_tracks(ax: Any, coverage: PatrolCoverage) -> list[tuple[Any, str]]:
    """Each team's track on a map axes in EPSG:32649; the legend entries."""
    entries: list[tuple[Any, str]] = []
    for i, feature in enumerate(coverage.tracks["features"]):
        colour = TEAM_COLOURS[i % len(TEAM_COLOURS)]
        for line in track_lines(feature["geometry"]):
            xy = np.asarray(line, dtype=float)
            if len(xy) < 2:
                continue
            x, y = lonlat_to_utm(xy[:, 0], xy[:, 1])
            ax.plot(x, y, color=colour, lw=1.6, zorder=30, solid_capstyle="round")
        entries.append((Line2D([], [], color=colour, lw=1.6), str(feature["properties"]["team"])))
    return entries


def coverage_page(
    *,
    coverage: PatrolCoverage,
    patrol: PatrolLayer,
    basemap: Any,
    kecamatan: tuple[str, ...] | list[str],
    lang: Lang,
    new_page: Any,
) -> Figure:
    """The page: the map of tracks over the plan's hot cells, the per-team table, the note.
    ``new_page(title, subtitle)`` makes the furnished sheet (the pack's header and footer)."""
    fig: Figure = new_page(ft("coverage", lang), period_text(coverage))
    ax = map_axes(fig, (0.025, 0.095, 0.50, 0.785))
    # Tracks are data even where the plan has no hot cells: no "no data" stamp over them.
    shown = replace(patrol, total=max(patrol.total, len(coverage.tracks["features"])))
    draw_map(ax, basemap=basemap, layer=shown, lang=lang, kecamatan=kecamatan)
    entries = draw_tracks(ax, coverage)
    if entries:
        ax.legend(
            [h for h, _ in entries],
            [label for _, label in entries],
            title=ft("tracks", lang),
            loc="lower right",
            fontsize=6.5,
            title_fontsize=7,
            framealpha=0.9,
        ).set_zorder(60)
    table = fig.add_axes((0.55, 0.40, 0.43, 0.48))
    rows = coverage_rows(coverage, lang)
    draw_table(
        table,
        [
            ft("col_team", lang),
            ft("col_km", lang),
            ft("col_hours", lang),
            ft("col_positions", lang),
            ft("col_hot_cells", lang),
        ],
        rows or [[ft("coverage_none", lang), "", "", "", ""]],
        widths=[0.26, 0.16, 0.17, 0.14, 0.27],
        fontsize=7.5,
        numeric=(1, 2, 3),
        bold_last=bool(coverage.teams),
    )
    note = ft(
        "coverage_note",
        lang,
        r=f"{coverage.radius_m / 1000:g}",
        gap=f"{coverage.gap_s / 60:g}",
    )
    fig.text(0.55, 0.36, textwrap.fill(note, 90), va="top", fontsize=7.5, linespacing=1.4)
    return fig
