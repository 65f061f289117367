"""What a map shows: the filtered point set every map aggregate reads.

The values are parsed by the filter family (:mod:`geo.registry.filters`) and become SQL there
(:mod:`geo.registry.where`), so a map, a registry list and a hotspot grid refuse the same bad
value with the same message and count the same points.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from sqlalchemy.orm import Session

from geo.registry import filters as family
from geo.registry.filters import ANALYSIS_LAYERS, ListFilters, analysis_layer
from geo.registry.layers import LAYERS as REGISTRY_LAYERS
from geo.registry.layers import Layer as RegistryLayer
from geo.registry.where import Where, where_clause
from geo.times import WIB

Layer = Literal["incidents", "sightings"]
LAYERS: Final[tuple[str, ...]] = ANALYSIS_LAYERS
PERSON_LAYERS: Final = frozenset({"sightings"})

# Kinds a filter may name: incident kinds, or sighting sources for the sightings layer.
KINDS: Final[Mapping[str, tuple[str, ...]]] = {
    name: REGISTRY_LAYERS[name].choices["kind"] for name in ANALYSIS_LAYERS
}


@dataclass(frozen=True)
class MapFilters:
    """What a map shows: one layer, a time window (aware datetimes), kinds and kecamatan
    (Kemendagri codes or names)."""

    layer: Layer = "incidents"
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    kinds: tuple[str, ...] = ()
    kecamatan: tuple[str, ...] = ()

    @property
    def persons(self) -> bool:
        return self.layer in PERSON_LAYERS

    @property
    def source(self) -> RegistryLayer:
        """The registry layer the points come from (table, time and kind columns)."""
        return REGISTRY_LAYERS[self.layer]

    def describe(self) -> dict[str, str]:
        """The filters as text for a caption (times in WIB)."""
        out: dict[str, str] = {}
        if self.start:
            out["start"] = self.start.astimezone(WIB).strftime("%Y-%m-%d %H:%M")
        if self.end:
            out["end"] = self.end.astimezone(WIB).strftime("%Y-%m-%d %H:%M")
        if self.kinds:
            out["kind"] = ", ".join(self.kinds)
        if self.kecamatan:
            out["kecamatan"] = ", ".join(self.kecamatan)
        return out


def parse_filters(
    *,
    layer: str | None = None,
    start: str | dt.datetime | None = None,
    end: str | dt.datetime | None = None,
    kind: str | Sequence[str] | None = None,
    kecamatan: str | Sequence[str] | None = None,
) -> MapFilters:
    """Validate raw filter values (query string, CLI options); errors name the bad value."""
    source = analysis_layer(layer)
    parsed = family.parse_filters(
        layer=source, start=start, end=end, kind=kind, kecamatan=kecamatan
    )
    return MapFilters(
        layer=source.name,  # type: ignore[arg-type]  # one of ANALYSIS_LAYERS
        start=parsed.start,
        end=parsed.end,
        kinds=parsed.kind,
        kecamatan=parsed.kecamatan,
    )


def point_where(*, session: Session, filters: MapFilters, alias: str = "t") -> Where:
    """The map's point set as SQL: the registry filters, and sightings inside the area only."""
    where = where_clause(
        filters.source,
        ListFilters(
            start=filters.start, end=filters.end, kind=filters.kinds, kecamatan=filters.kecamatan
        ),
        session=session,
        alias=alias,
    )
    if filters.layer == "sightings":
        where = where.and_(f"NOT {alias}.out_of_area")
    return where
