"""Overview: kecamatan choropleth (counts or rates), border bands, posts, workplaces, alerts."""

from __future__ import annotations

from typing import Any

import folium
from folium.plugins import MarkerCluster
from sqlalchemy.orm import Session

from geo import mapdata
from geo.access import sees_personal_data
from geo.geometry import latlon
from geo.settings import Settings
from geo.times import WIB
from maps.basemap import add_background, add_foreground, add_zones
from maps.common import (
    SUPPRESSED_COLOUR,
    ZERO_COLOUR,
    MapParams,
    caption,
    classify,
    is_suppressed,
    layer_control,
    legend,
    new_map,
    shown_count,
)
from maps.escaping import FieldsTooltip, TextTooltip
from maps.labels import t

SEVERITY_COLOURS = {1: "#fee5d9", 2: "#fcae91", 3: "#fb6a4a", 4: "#de2d26", 5: "#a50f15"}


def _rate_text(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}".replace(".", ",")


def choropleth_features(
    stats: list[mapdata.KecamatanStat], *, params: MapParams, principal_role: str
) -> tuple[list[dict[str, Any]], Any, bool]:
    """Kecamatan features with display values and fill colours; (features, classes, suppressed).

    For roles without personal data a suppressed person count hides every value derived from it
    (a rate times the area gives the count back).
    """
    persons = params.filters.persons
    measure = params.measure
    values: dict[str, float | None] = {}
    suppressed_any = False
    for s in stats:
        hidden = is_suppressed(s.count, role=principal_role, persons=persons)
        foreigners_hidden = is_suppressed(s.foreigners, role=principal_role, persons=True)
        if hidden:
            suppressed_any = True
            values[s.code] = None
        elif measure == "per_km2":
            values[s.code] = s.per_km2
        elif measure == "per_foreigner":
            values[s.code] = None if foreigners_hidden else s.per_foreigner
            suppressed_any = suppressed_any or (foreigners_hidden and s.count > 0)
        else:
            values[s.code] = float(s.count)
    classes = classify([v for v in values.values() if v is not None], integer=measure == "count")
    features = []
    for s in stats:
        value = values[s.code]
        hidden = is_suppressed(s.count, role=principal_role, persons=persons)
        if hidden:
            fill = SUPPRESSED_COLOUR
        elif value is None or value <= 0 or classes is None:
            fill = ZERO_COLOUR
        else:
            fill = classes.colour(value)
        features.append(
            {
                "type": "Feature",
                "geometry": s.geometry,
                "properties": {
                    "code": s.code,
                    "name": s.name,
                    "count": str(shown_count(s.count, role=principal_role, persons=persons)),
                    "per_km2": "<3" if hidden else _rate_text(s.per_km2),
                    "foreigners": str(shown_count(s.foreigners, role=principal_role, persons=True)),
                    "per_foreigner": "<3"
                    if values[s.code] is None and s.count > 0 and measure == "per_foreigner"
                    else _rate_text(s.per_foreigner),
                    "area_km2": f"{s.area_km2:.1f}",
                    "fill": fill,
                },
            }
        )
    return features, classes, suppressed_any


def add_choropleth(
    m: folium.Map, *, session: Session, params: MapParams, principal_role: str
) -> tuple[Any, bool, bool]:
    """The choropleth; (classes, whether a value is suppressed, whether a kecamatan is 0)."""
    lang = params.lang
    stats = mapdata.kecamatan_stats(session=session, filters=params.filters)
    features, classes, suppressed = choropleth_features(
        stats, params=params, principal_role=principal_role
    )
    if features:
        folium.GeoJson(
            {"type": "FeatureCollection", "features": features},
            name=t("choropleth", lang),
            style_function=lambda f: {
                "fillColor": f["properties"]["fill"],
                "fillOpacity": 0.7,
                "color": "#555",
                "weight": 1,
            },
            highlight_function=lambda _f: {"weight": 3, "color": "#000"},
            tooltip=FieldsTooltip(
                fields=["name", "code", "count", "per_km2", "foreigners", "per_foreigner"],
                aliases=[
                    t("kecamatan", lang),
                    "Kode",
                    t(params.filters.layer, lang),
                    t("per_km2", lang),
                    t("foreigners", lang),
                    t("per_foreigner", lang),
                ],
            ),
        ).add_to(m)
    zero = any(f["properties"]["fill"] == ZERO_COLOUR for f in features)
    return classes, suppressed, zero


def add_workplaces(m: folium.Map, *, session: Session, params: MapParams) -> int:
    lang = params.lang
    points = mapdata.workplaces(session=session, kecamatan=params.filters.kecamatan)
    if not points:
        return 0
    cluster = MarkerCluster(name=t("workplaces", lang))  # type: ignore[no-untyped-call]
    for w in points:
        quota = (
            ""
            if w.foreign_worker_quota is None
            else f" · {t('quota', lang)} {w.foreign_worker_quota}"
        )
        folium.Marker(
            latlon(w.lon, w.lat),
            icon=folium.DivIcon(html='<div class="tpm-dot"></div>', icon_size=(14, 14)),
            tooltip=TextTooltip(f"{w.name} ({t('sector', lang)}: {w.sector}){quota}"),
        ).add_to(cluster)
    cluster.add_to(m)
    return len(points)


def add_alerts(m: folium.Map, *, session: Session, params: MapParams, principal_role: str) -> int:
    lang = params.lang
    alerts = mapdata.latest_alerts(
        session=session,
        personal=sees_personal_data(principal_role),
        kecamatan=params.filters.kecamatan,
        start=params.filters.start,
        end=params.filters.end,
    )
    if not alerts:
        return 0
    group = folium.FeatureGroup(name=t("alerts", lang))
    for a in alerts:
        where = ", ".join(x for x in (a.desa_name, a.kecamatan_name) if x)
        distance = (
            f" · {t('distance', lang)} {a.distance_m:.0f} m" if a.distance_m is not None else ""
        )
        when = a.event_at.astimezone(WIB).strftime("%Y-%m-%d %H:%M WIB")
        folium.CircleMarker(
            latlon(a.lon, a.lat),
            radius=7,
            color="#000",
            weight=1,
            fill=True,
            fill_color=SEVERITY_COLOURS.get(a.severity, "#de2d26"),
            fill_opacity=0.95,
            tooltip=TextTooltip(
                f"#{a.id} {a.rule_kind} · {t('severity', lang)} {a.severity} · "
                f"{where}{distance} · {when}"
            ),
        ).add_to(group)
    group.add_to(m)
    return len(alerts)


def build_overview(
    *, session: Session, principal_role: str, params: MapParams, settings: Settings
) -> folium.Map:
    """The border zone at a glance."""
    lang = params.lang
    m = new_map(session=session, settings=settings, lang=lang, params=params)
    layers = add_background(m, session=session, lang=lang, kecamatan=False)
    classes, suppressed, zero = add_choropleth(
        m, session=session, params=params, principal_role=principal_role
    )
    add_zones(m, session=session, lang=lang)
    add_foreground(m, layers=layers, lang=lang)
    add_workplaces(m, session=session, params=params)
    add_alerts(m, session=session, params=params, principal_role=principal_role)
    caption(title=f"{t('overview', lang)}", params=params).add_to(m)
    measure_label = {
        "count": t("count", lang),
        "per_km2": t("per_km2", lang),
        "per_foreigner": t("per_foreigner", lang),
    }[params.measure]
    legend(
        classes,
        title=f"{t(params.filters.layer, lang)} — {measure_label}",
        lang=lang,
        suppressed=suppressed,
        zero=zero,
    ).add_to(m)
    layer_control(m)
    return m
