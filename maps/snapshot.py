"""Static map snapshots for briefings: one A4 landscape page as PNG (200 dpi) or PDF.

``collect`` reads what a page needs through ``geo`` (aggregates only: counts per cell, hexagon or
kecamatan, Gi* classes, a patrol plan — never a name or a document number); ``draw`` turns it into
a matplotlib figure with our reference basemap, the layer, its legend in real counts, a scale bar,
a north arrow, the classification marking, the author, the data time and the sources;
``render`` gives the bytes. Persons (sightings) counted below 3 are shown as "<3" on every export,
whatever the caller's role: a briefing leaves the system.

Dense point layers are binned (in the database) and drawn as one image, so a million incidents
cost what a few thousand cells cost; in a PDF that image is the only raster, the linework and the
text stay vector.

The ``risk`` layer prints the dashboard's workplace risk view instead (``maps.risk_snapshot``):
the same ranking, parameters (``as_of``, ``limit``, ``kecamatan``) and privacy as that view for
the caller's role; persons are never named on it either.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from sqlalchemy.orm import Session

from geo import briefing as briefing_sql
from geo import mapdata, risk
from geo.boundaries import attributions
from geo.errors import ValidationError
from geo.hotspots.analysis import HotspotResult
from geo.hotspots.surfaces import kde_surface
from geo.mapdata import MapFilters, parse_filters
from geo.patrol import (
    DEFAULT_AVOID_RECENT_DAYS,
    DEFAULT_K,
    DEFAULT_RADIUS_M,
    PatrolPlan,
    plan_on_hotspots,
)
from geo.registry.filters import parse_cell_m
from geo.settings import Settings
from geo.times import WIB
from geo.users import Principal
from maps.hotspot_layers import hotspot_result
from maps.label_placement import Labeller
from maps.labels import Lang, check_lang, t
from maps.map_furniture import no_data, north_arrow, scale_bar
from maps.risk_labels import rt
from maps.risk_snapshot import RiskLayer, collect_risk
from maps.sheet import (
    MAP_RECT,
    PANEL_RECT,
    Sheet,
    figure_bytes,
    filter_lines,
    furnish,
    new_page,
    period_text,
    wrap,
)
from maps.static_basemap import (
    Basemap,
    NamedGeometry,
    basemap_handles,
    draw_base_over,
    draw_base_under,
    draw_places,
    load_basemap,
    map_axes,
    set_extent,
)
from maps.static_layers import (
    GridLayer,
    HotspotLayer,
    KdeLayer,
    Layer,
    Legend,
    PatrolLayer,
    PointLayer,
    PolygonLayer,
    data_name,
    grid_from_heat_cells,
    km,
    shown,
)
from maps.utm_geometry import geojson_to_utm
from maps.workplace_risk import DEFAULT_LIMIT as RISK_DEFAULT_LIMIT
from maps.workplace_risk import LIMIT as RISK_LIMIT

LAYERS: Final = (
    "heat",
    "kde",
    "hexbins",
    "choropleth",
    "hotspots",
    "incidents",
    "patrol",
    "risk",
)
FORMATS: Final = ("png", "pdf")
DENSE_POINTS: Final = 20_000  # above this, incident points are binned and drawn as one image
DENSE_CELL_M: Final = 250.0
HEAT_CELL_M: Final = 1000.0
HEX_CELL_M: Final = 2000.0
HOTSPOT_CELL_M: Final = 1000.0
KDE_BANDWIDTH_M: Final = 1500.0
STOP_MARKER_PT: Final = 11.0  # a patrol stop's numbered disc, with a margin


# --- parameters ---------------------------------------------------------------------------------


SnapshotLayer = Layer | RiskLayer


@dataclass(frozen=True)
class SnapshotParams:
    """A snapshot request: the map layer, the data filters of the map views, the language;
    for the ``risk`` layer the ranking's query (the ``risk`` view's ``as_of`` and ``limit``)."""

    layer: str = "heat"
    filters: MapFilters = field(default_factory=MapFilters)
    lang: Lang = "id"
    cell_m: float | None = None
    risk: risk.RiskQuery | None = None


def parse_snapshot_params(
    *,
    layer: str | None = None,
    source: str | None = None,
    start: str | dt.datetime | None = None,
    end: str | dt.datetime | None = None,
    kind: str | Sequence[str] | None = None,
    kecamatan: str | Sequence[str] | None = None,
    lang: str | None = None,
    cell_m: float | None = None,
    as_of: str | dt.date | None = None,
    limit: int | str | None = None,
    default_lang: str = "id",
) -> SnapshotParams:
    """Validate raw values (query string, CLI); a bad one raises ValidationError naming it.

    ``layer`` is the map layer (heat, kde, hexbins, choropleth, hotspots, incidents, patrol,
    risk); ``source`` is what the map views call ``layer``: incidents (default) or sightings.
    ``risk`` takes the ``risk`` view's options instead of the time and kind filters: ``as_of``
    (YYYY-MM-DD, default today) and ``limit`` (workplaces drawn, 1-200, default 50); ``source``
    does not apply to it (the ranking reads its own records).
    """
    layer_name = (layer or "heat").strip()
    if layer_name not in LAYERS:
        raise ValidationError(
            f"layer must be one of {', '.join(LAYERS)}; got {layer_name!r}",
            field="layer",
            value=layer_name,
        )
    query = None
    if layer_name == "risk":
        # The ranking has a reference date and its own window: a period, kind or cell size
        # would be silently ignored, so each is refused by name.
        given: dict[str, object] = {
            "start": start,
            "end": end,
            "kind": kind or None,
            "cell_m": cell_m,
        }
        for name, value in given.items():
            if value is not None:
                raise ValidationError(
                    f"{name} does not apply to layer risk (a ranking as of one day: use as_of); "
                    f"got {value!r}",
                    field=name,
                    value=value if isinstance(value, int | float) else str(value)[:100],
                )
        source = None
        number = RISK_DEFAULT_LIMIT if limit is None or limit == "" else limit
        query = risk.parse_query(limit=RISK_LIMIT.integer(number), as_of=as_of or None)
    else:
        options: tuple[tuple[str, object], ...] = (("as_of", as_of), ("limit", limit))
        for name, value in options:
            if value is not None and value != "":
                raise ValidationError(
                    f"{name} applies to layer risk only; got {name}={value!r} with layer "
                    f"{layer_name!r}",
                    field=name,
                    value=value if isinstance(value, int) else str(value)[:100],
                )
    filters = parse_filters(layer=source, start=start, end=end, kind=kind, kecamatan=kecamatan)
    if layer_name == "incidents" and filters.layer != "incidents":
        # One dot per sighting would place one identifiable person: sightings only aggregated.
        raise ValidationError(
            "layer incidents draws incident points; sightings are shown aggregated only "
            f"(heat, kde, hexbins, choropleth, hotspots); got source {filters.layer!r}",
            field="source",
            value=filters.layer,
        )
    return SnapshotParams(
        layer=layer_name,
        filters=filters,
        lang=check_lang(lang, default_lang),
        cell_m=parse_cell_m(cell_m) if cell_m is not None else None,
        risk=query,
    )


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValidationError(
            f"format must be one of {', '.join(FORMATS)}; got {fmt!r}", field="format", value=fmt
        )
    return fmt


# --- collecting ---------------------------------------------------------------------------------


def layer_title(params: SnapshotParams) -> str:
    if params.layer == "risk":
        return t("snap_title", params.lang, what=rt("risk_view", params.lang))
    what = t(f"snap_layer_{params.layer}", params.lang, data=data_name(params.filters, params.lang))
    return t("snap_title", params.lang, what=what)


def cells_utm(result: HotspotResult, mask: npt.NDArray[np.bool_] | None = None) -> list[Any]:
    cells = result.cells if mask is None else result.cells[mask]
    if not len(cells):
        return []
    return list(cells.geometry.to_crs(32649).values)


def patrol_plan(
    *,
    session: Session,
    result: HotspotResult,
    settings: Settings,
    reference_time: dt.datetime | None,
) -> PatrolPlan:
    """The plan of ``geo.patrol`` on an already computed hotspot result (no second Gi* run);
    "recent" patrols are counted back from ``reference_time`` so equal data gives equal plans."""
    return plan_on_hotspots(
        session=session,
        result=result,
        k=DEFAULT_K,
        radius_m=DEFAULT_RADIUS_M,
        area=settings.area,
        avoid_recent_days=DEFAULT_AVOID_RECENT_DAYS if reference_time is not None else None,
        now=reference_time,
    )


def collect_layer(
    *,
    session: Session,
    params: SnapshotParams,
    settings: Settings,
    data_as_of: dt.datetime | None = None,
    role: str = "viewer",
) -> SnapshotLayer:
    """Read the chosen layer through ``geo`` (aggregates only; ``risk`` as ``role`` sees it)."""
    filters, lang = params.filters, params.lang
    persons = filters.persons
    if params.layer == "risk":
        return collect_risk(
            session=session,
            query=params.risk or risk.RiskQuery(limit=RISK_DEFAULT_LIMIT),
            role=role,
            kecamatan=filters.kecamatan,
            lang=lang,
            title=rt("risk_key_title", lang),
        )
    if params.layer == "heat":
        cell_m = params.cell_m or HEAT_CELL_M
        gx, gy, n = grid_from_heat_cells(
            mapdata.heat_cells(session=session, filters=filters, cell_m=cell_m)
        )
        title = t("count_per_cell", lang, size=km(cell_m, lang))
        return GridLayer(cell_m, gx, gy, n, persons, title)
    if params.layer == "kde":
        cell_m = KDE_BANDWIDTH_M / 4
        gx, gy, n = grid_from_heat_cells(
            mapdata.heat_cells(session=session, filters=filters, cell_m=cell_m)
        )
        grid = None
        if n.size:
            # Binned KDE: cell centres weighted by their counts (the binning error is already
            # part of the method, see geo.hotspots.surfaces.kde_surface).
            grid = kde_surface(
                (gx + 0.5) * cell_m,
                (gy + 0.5) * cell_m,
                bandwidth_m=KDE_BANDWIDTH_M,
                cell_m=cell_m,
                weights=n.astype(np.float64),
            )
        title = t("snap_legend_kde", lang, bw=km(KDE_BANDWIDTH_M, lang))
        return KdeLayer(grid, int(n.sum()), persons, title)
    if params.layer == "hexbins":
        cell_m = params.cell_m or HEX_CELL_M
        cells = mapdata.hex_counts(session=session, filters=filters, cell_m=cell_m)
        return PolygonLayer(
            [geojson_to_utm(c.geometry) for c in cells],
            [c.count for c in cells],
            persons,
            t("snap_legend_hex", lang, size=km(cell_m, lang)),
        )
    if params.layer == "choropleth":
        stats = mapdata.kecamatan_stats(session=session, filters=filters)
        if filters.kecamatan:
            stats = [s for s in stats if s.code in filters.kecamatan]
        return PolygonLayer(
            [geojson_to_utm(s.geometry) for s in stats],
            [s.count for s in stats],
            persons,
            t("snap_legend_kecamatan", lang),
            zero_shown=True,
            names=[s.code for s in stats],
            lang=lang,
        )
    if params.layer == "incidents":
        total = briefing_sql.point_count(session=session, filters=filters)
        if total > DENSE_POINTS:
            gx, gy, n = grid_from_heat_cells(
                mapdata.heat_cells(session=session, filters=filters, cell_m=DENSE_CELL_M)
            )
            note = t(
                "snap_dense_note",
                lang,
                n=shown(total, persons=False, lang=lang),
                size=km(DENSE_CELL_M, lang),
            )
            title = t("snap_legend_dense", lang, size=km(DENSE_CELL_M, lang))
            return GridLayer(DENSE_CELL_M, gx, gy, n, False, title, "PuRd", (note,))
        x, y, kinds = briefing_sql.points_utm(session=session, filters=filters)
        return PointLayer(x, y, kinds, t("snap_legend_points", lang))
    cell_m = params.cell_m or HOTSPOT_CELL_M
    result = hotspot_result(session=session, filters=filters, cell_m=cell_m, settings=settings)
    if params.layer == "hotspots":
        title = t("snap_legend_hotspots", lang, size=km(cell_m, lang))
        return HotspotLayer(result, cells_utm(result), persons, title)
    reference = filters.end or data_as_of
    plan = patrol_plan(session=session, result=result, settings=settings, reference_time=reference)
    hot = result.cells["gi_bin"].to_numpy() >= 2 if len(result.cells) else None
    total = int(result.cells["count"].sum()) if len(result.cells) else 0
    return PatrolLayer(plan, cells_utm(result, hot), total, t("snap_layer_patrol", lang))


@dataclass(frozen=True)
class Snapshot:
    """Everything one page shows; ``draw`` needs no database."""

    params: SnapshotParams
    sheet: Sheet
    basemap: Basemap
    layer: SnapshotLayer
    title: str


def make_sheet(
    *,
    session: Session,
    settings: Settings,
    principal: Principal,
    filters: MapFilters,
    lang: Lang,
    basemap: Basemap,
) -> Sheet:
    return Sheet(
        marking=settings.service.classification_marking,
        lang=lang,
        author=principal.name,
        role=principal.role,
        data_as_of=briefing_sql.data_as_of(session=session),
        attributions=tuple(attributions()),
        period=period_text(filters, lang),
        filters=filter_lines(filters, lang, basemap.kecamatan_names()),
    )


def collect(
    *,
    session: Session,
    params: SnapshotParams,
    settings: Settings,
    principal: Principal,
    basemap: Basemap | None = None,
) -> Snapshot:
    basemap = basemap or load_basemap(session=session)
    sheet = make_sheet(
        session=session,
        settings=settings,
        principal=principal,
        filters=params.filters,
        lang=params.lang,
        basemap=basemap,
    )
    layer = collect_layer(
        session=session,
        params=params,
        settings=settings,
        data_as_of=sheet.data_as_of,
        role=principal.role,
    )
    if isinstance(layer, RiskLayer):
        # A ranking has a reference date, not a period; radius and window say what it counts.
        ranking = rt("risk_as_of", params.lang, day=layer.as_of.isoformat())
        counted = rt(
            "snap_risk_window",
            params.lang,
            radius=km(layer.radius_m, params.lang),
            days=layer.window_days,
        )
        sheet = replace(sheet, period=ranking, filters=(counted, *sheet.filters))
    return Snapshot(params, sheet, basemap, layer, layer_title(params))


# --- drawing ------------------------------------------------------------------------------------


def draw_map(
    ax: Axes,
    *,
    basemap: Basemap,
    layer: SnapshotLayer,
    lang: Lang,
    kecamatan: Sequence[str] = (),
) -> Legend:
    """Basemap, the layer, the linework above it, places, scale bar and north arrow."""
    set_extent(ax, basemap.extent_of(kecamatan))
    draw_base_under(ax, basemap)
    legend = layer.draw(ax, lang)
    draw_base_over(ax, basemap)
    labeller = Labeller(ax)
    # Place names keep off the layer's own words (a patrol stop's number) and the furniture.
    for artist in (*ax.texts, *scale_bar(ax, lang), *north_arrow(ax, lang)):
        labeller.reserve(artist)
    if isinstance(layer, PatrolLayer):
        for stop in layer.plan.points:
            labeller.reserve_point(stop.x_utm, stop.y_utm, STOP_MARKER_PT)
    if isinstance(layer, RiskLayer):
        layer.label(labeller)  # the best ranks' names before the place names
    label_fn: Callable[[NamedGeometry], str | None] | None = None
    if isinstance(layer, PolygonLayer) and layer.names:
        label_fn = layer.kecamatan_label
    draw_places(ax, basemap, labeller, kecamatan_label=label_fn)
    if layer.total == 0:
        no_data(ax, lang)
    return legend


def draw_panel(fig: Figure, rect: Sequence[float], *, legend: Legend, snapshot: Snapshot) -> Axes:
    """Legend of the layer (real counts), the basemap legend and notes, beside the map."""
    lang = snapshot.params.lang
    panel = fig.add_axes(tuple(rect))  # type: ignore[arg-type]
    panel.set_axis_off()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    top = 1.0
    entries = legend.entries or [(Patch(facecolor="none", edgecolor="none"), t("no_data", lang))]
    first = _panel_legend(panel, entries, title=legend.title, top=top)
    panel.add_artist(first)
    top = _below(panel, first, renderer) - 0.015
    for note in legend.notes:
        text = panel.text(0.0, top, wrap(note, 62), fontsize=7, va="top", color="#333333")
        top = _below(panel, text, renderer) - 0.008
    top -= 0.02
    handles = basemap_handles(snapshot.basemap, lang)
    second = _panel_legend(panel, handles, title=t("snap_basemap", lang), top=top)
    top = _below(panel, second, renderer) - 0.03
    sheet = snapshot.sheet
    lines = [period_line(snapshot), *sheet.filters]
    if _suppresses(snapshot):
        lines.append(t("suppressed_note", lang))
    lines.append(t("snap_note_aggregate", lang))
    panel.text(0.0, top, "\n".join(wrap(line, 62) for line in lines), fontsize=7, va="top")
    return panel


def _panel_legend(
    panel: Axes, entries: Sequence[tuple[Any, str]], *, title: str, top: float
) -> Any:
    """A frameless legend in the side panel, its top at axes fraction ``top``."""
    return panel.legend(
        [h for h, _ in entries],
        [lab for _, lab in entries],
        title=title,
        loc="upper left",
        bbox_to_anchor=(0.0, top),
        frameon=False,
        fontsize=7.5,
        title_fontsize=8.5,
        alignment="left",
        handlelength=1.6,
        borderaxespad=0.0,
    )


def _below(panel: Axes, artist: Any, renderer: Any) -> float:
    """The axes-fraction y just under an artist already placed in the panel."""
    box = artist.get_window_extent(renderer=renderer)
    return float(panel.transAxes.inverted().transform((0, box.y0))[1])


def period_line(snapshot: Snapshot) -> str:
    """ "Periode: …", or the ranking's date for the ``risk`` layer."""
    sheet = snapshot.sheet
    if isinstance(snapshot.layer, RiskLayer):
        return sheet.period
    return f"{t('period', sheet.lang)}: {sheet.period}"


def _suppresses(snapshot: Snapshot) -> bool:
    """Whether the page shows counts of persons below 3 as "<3": always for persons on the
    density layers; on the ``risk`` layer for roles without personal data, as its view does."""
    if isinstance(snapshot.layer, RiskLayer):
        return not snapshot.layer.personal
    return snapshot.params.filters.persons


def subtitle(snapshot: Snapshot) -> str:
    return "   ·   ".join([period_line(snapshot), *snapshot.sheet.filters])


def draw(snapshot: Snapshot, *, page: int = 1, pages: int = 1) -> Figure:
    """The A4 landscape page of a snapshot."""
    fig = new_page()
    params = snapshot.params
    ax = map_axes(fig, MAP_RECT)
    legend = draw_map(
        ax,
        basemap=snapshot.basemap,
        layer=snapshot.layer,
        lang=params.lang,
        kecamatan=params.filters.kecamatan,
    )
    draw_panel(fig, PANEL_RECT, legend=legend, snapshot=snapshot)
    furnish(
        fig,
        snapshot.sheet,
        title=snapshot.title,
        subtitle=subtitle(snapshot),
        page=page,
        pages=pages,
    )
    return fig


def render(snapshot: Snapshot, fmt: str) -> bytes:
    """PNG (200 dpi) or PDF bytes of the snapshot."""
    return figure_bytes(draw(snapshot), check_format(fmt))


def render_snapshot(
    *,
    session: Session,
    params: SnapshotParams,
    settings: Settings,
    principal: Principal,
    fmt: str,
) -> tuple[bytes, Snapshot]:
    """Collect and render: what ``GET /maps/snapshot.{png,pdf}`` and ``timpora snapshot`` do."""
    check_format(fmt)
    snapshot = collect(session=session, params=params, settings=settings, principal=principal)
    return render(snapshot, fmt), snapshot


def file_name(params: SnapshotParams, fmt: str) -> str:
    """A file name that says what it is: timpora-heat-incidents-20250101-20250401.png,
    timpora-risk-20261207.png."""
    if params.risk is not None:
        as_of: dt.date = risk.query_params(params.risk)["as_of"]
        return f"timpora-risk-{as_of.strftime('%Y%m%d')}.{fmt}"
    parts = ["timpora", params.layer, params.filters.layer]
    f = params.filters
    if f.start:
        parts.append(f.start.astimezone(WIB).strftime("%Y%m%d"))
    if f.end:
        parts.append(f.end.astimezone(WIB).strftime("%Y%m%d"))
    return "-".join(parts) + f".{fmt}"
