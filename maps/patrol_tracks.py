"""The patrol view's field layers: the day's team tracks, and the planned stops marked visited
or missed with a list of them. Roles that manage patrols only (the caller checks): tracks are
officers' movements. Team names reach the page through ``maps.escaping`` only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import folium

from geo.field.patrolled import StopVisit
from geo.times import WIB
from maps.common import Box
from maps.escaping import TextTooltip, html_text
from maps.field_labels import ft

TEAM_COLOURS: Final = (
    "#1b9e77",
    "#d95f02",
    "#7570b3",
    "#e7298a",
    "#66a61e",
    "#e6ab02",
    "#a6761d",
    "#1f78b4",
)
VISITED_COLOUR: Final = "#1a9850"
MISSED_COLOUR: Final = "#d73027"


def track_lines(geometry: dict[str, Any]) -> list[list[list[float]]]:
    """The lines of a team's track geometry: a part heard from once is a point, so a track is
    a MultiLineString, or a collection of lines and points (the points are left out here)."""
    kind = geometry["type"]
    if kind == "LineString":
        return [geometry["coordinates"]]
    if kind == "MultiLineString":
        return list(geometry["coordinates"])
    if kind == "GeometryCollection":
        return [line for g in geometry["geometries"] for line in track_lines(g)]
    return []


def team_colour(index: int) -> str:
    return TEAM_COLOURS[index % len(TEAM_COLOURS)]


def tracks_layer(tracks: dict[str, Any], *, lang: str = "id") -> folium.FeatureGroup:
    """Each team's track (a MultiLineString feature per team, ``geo.field.tracks``)."""
    group = folium.FeatureGroup(name=ft("tracks", lang))
    for i, feature in enumerate(tracks["features"]):
        props = feature["properties"]
        tip = ft("track_tip", lang, team=props["team"], km=f"{props['length_m'] / 1000:.1f}")
        for line in track_lines(feature["geometry"]):
            if len(line) < 2:
                continue
            folium.PolyLine(  # type: ignore[no-untyped-call]
                [(lat, lon) for lon, lat, *_ in line],
                color=team_colour(i),
                weight=4,
                opacity=0.85,
                tooltip=TextTooltip(tip),
                class_name="tpm-track",
            ).add_to(group)
    return group


def _visit_text(visit: StopVisit, lang: str) -> str:
    parts = [visit.stop.label, ft("visited" if visit.visited else "missed", lang)]
    if visit.visited:
        parts.append(ft("by", lang, teams=", ".join(visit.teams)))
        if visit.first_at is not None:
            parts.append(ft("at", lang, time=visit.first_at.astimezone(WIB).strftime("%H:%M WIB")))
    elif visit.closest_m is None:
        parts.append(ft("no_track", lang))
    else:
        parts.append(ft("closest", lang, m=f"{visit.closest_m:.0f}"))
    return " · ".join(parts)


def visits_layer(visits: Sequence[StopVisit], *, lang: str = "id") -> folium.FeatureGroup:
    """Each planned stop's radius, green where a track passed within it, red where none did."""
    group = folium.FeatureGroup(name=ft("stops", lang))
    for visit in visits:
        colour = VISITED_COLOUR if visit.visited else MISSED_COLOUR
        folium.Circle(
            (visit.stop.lat, visit.stop.lon),
            radius=visit.stop.radius_m,
            color=colour,
            weight=3,
            fill=True,
            fill_color=colour,
            fill_opacity=0.15,
            tooltip=TextTooltip(_visit_text(visit, lang)),
            class_name="tpm-stop-visited" if visit.visited else "tpm-stop-missed",
        ).add_to(group)
    return group


def visits_box(visits: Sequence[StopVisit], *, day: str, lang: str = "id") -> Box:
    """The stops listed, visited or missed, with who passed and when."""
    visited = sum(v.visited for v in visits)
    rows = "".join(
        f'<li class="{"visited" if v.visited else "missed"}" style="color:'
        f'{VISITED_COLOUR if v.visited else MISSED_COLOUR}">{html_text(_visit_text(v, lang))}</li>'
        for v in visits
    )
    content = (
        f"<h4>{html_text(ft('visits_title', lang, day=day))}</h4>"
        f"<div>{html_text(ft('visits_summary', lang, visited=visited, total=len(visits)))}</div>"
        f'<ul class="tpm-visits" style="margin:4px 0 0;padding-left:16px">{rows}</ul>'
    )
    return Box(content, position="topright", css_class="tpm-visits-box")
