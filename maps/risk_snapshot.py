"""The ``risk`` layer of a printed snapshot (``maps.snapshot``): the workplace risk ranking as
the ``risk`` view draws it for the reader's role (``maps.workplace_risk``, docs/risk.md).

Symbols graduated by rank class (the view's classes, sizes in order and colours), the top ranks
named on the map without overlaps and listed beside it with their score and largest factors.
The ranking, its parameters and its privacy are the view's: ``geo.risk`` scores each workplace
as the role may see it (a count of persons below 3 scored as 2 for roles without personal
data), the factors are shown as the role may see them ("<3"), and for those roles a workplace
whose symbol would single out fewer than 3 persons is drawn in the grey suppressed class,
without rank, name, score or factor (docs/privacy.md). Persons are never named, for any role;
the ranking function itself leaves out the records the caller's agency may not see.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from sqlalchemy.orm import Session

from geo import risk
from geo.access import sees_personal_data
from maps.label_placement import Labeller
from maps.labels import Lang
from maps.risk_labels import factor_rows, rt
from maps.static_layers import SUPPRESSED_COLOUR, Legend, number_text
from maps.utm_geometry import lonlat_to_utm
from maps.workplace_risk import (
    COLOURS,
    RANK_BREAKS,
    class_label,
    rank_class,
    ranked_items,
    singles_out_persons,
)

# Workplaces named on the map and listed in the panel, best ranks first.
LABELLED: Final = 10
# Symbol diameters in points by rank class (the view's radii, scaled to paper).
MARKER_PT: Final = (10.0, 8.0, 6.5, 5.2, 4.4)
SUPPRESSED_PT: Final = 5.2
NAME_CHARS: Final = 32
LIST_FACTORS: Final = 1  # the largest factor (by points) listed beside a workplace


@dataclass(frozen=True)
class RiskSymbol:
    """One workplace on the page; ``rank`` None is the suppressed class (nothing but a dot)."""

    x_utm: float
    y_utm: float
    rank: int | None
    name: str
    kecamatan: str
    score: float
    factors: tuple[str, ...]

    @property
    def size_pt(self) -> float:
        return SUPPRESSED_PT if self.rank is None else MARKER_PT[rank_class(self.rank)]


@dataclass(frozen=True)
class RiskLayer:
    symbols: tuple[RiskSymbol, ...]  # best rank first, suppressed ones where they rank
    limit: int
    as_of: dt.date
    radius_m: float
    window_days: int
    personal: bool
    title: str

    @property
    def total(self) -> int:
        return len(self.symbols)

    def draw(self, ax: Axes, lang: Lang) -> Legend:
        """The symbols, lowest rank first so the top ones lie on top; the key by rank class."""
        entries: list[tuple[Any, str]] = []
        if not self.symbols:
            return Legend(self.title, entries, [rt("risk_none", lang)])
        for s in reversed(self.symbols):
            colour = SUPPRESSED_COLOUR if s.rank is None else COLOURS[rank_class(s.rank)]
            ax.scatter(
                [s.x_utm],
                [s.y_utm],
                s=s.size_pt**2,
                color=colour,
                edgecolors="#555555" if s.rank is None else "#222222",
                linewidths=0.5,
                zorder=20,
            )
        classes = {rank_class(s.rank) for s in self.symbols if s.rank is not None}
        for c in range(len(RANK_BREAKS)):
            if c in classes:
                entries.append((_dot(COLOURS[c], MARKER_PT[c]), class_label(c, lang)))
        if any(s.rank is None for s in self.symbols):
            entries.append(
                (_dot(SUPPRESSED_COLOUR, SUPPRESSED_PT), rt("risk_class_suppressed", lang))
            )
        notes = [
            rt("risk_key_note", lang, n=self.limit),
            rt("snap_risk_method", lang),
            *self.top_lines(lang),
        ]
        return Legend(self.title, entries, notes)

    def top_lines(self, lang: Lang) -> list[str]:
        """The best ranks in words: "1. PT Sawit (Paloh) — 12,3: Izin kedaluwarsa 4; …"."""
        lines: list[str] = []
        for s in self.symbols:
            if s.rank is None:
                continue
            if s.rank > LABELLED and lines:
                break
            where = f" ({s.kecamatan})" if s.kecamatan else ""
            score = number_text(s.score, lang, 1)
            factors = f": {'; '.join(s.factors)}" if s.factors else ""
            lines.append(f"{s.rank}. {s.name}{where} — {score}{factors}")
            if len(lines) == LABELLED:
                break
        return lines

    def label(self, labeller: Labeller) -> None:
        """Keep labels off every symbol, then name the best ranks (rank and name); where a
        name finds no free place around its symbol the rank alone is tried (the panel lists
        the names by rank)."""
        for s in self.symbols:
            labeller.reserve_point(s.x_utm, s.y_utm, s.size_pt)
        for s in self.symbols:
            if s.rank is None or s.rank > LABELLED:
                continue
            for text in (f"{s.rank}. {_short(s.name)}", str(s.rank)):
                placed = labeller.add(
                    s.x_utm,
                    s.y_utm,
                    text,
                    offsets=_offsets(s.size_pt),
                    fontsize=6.5,
                    fontweight="bold",
                    color="#3d0007",
                    zorder=35,
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.7},
                )
                if placed is not None:
                    break


def _offsets(size_pt: float) -> tuple[tuple[float, float, str, str], ...]:
    """Places around a symbol of ``size_pt``, clear of it (the labeller pads a label's box)."""
    d = size_pt / 2 + 3
    return (
        (d, 1, "left", "bottom"),
        (-d, 1, "right", "bottom"),
        (d, -1, "left", "top"),
        (-d, -1, "right", "top"),
        (0, d, "center", "bottom"),
        (0, -d, "center", "top"),
    )


def _dot(colour: str, size_pt: float) -> Line2D:
    return Line2D([], [], marker="o", ls="", color=colour, mec="#222222", mew=0.5, ms=size_pt)


def _short(name: str) -> str:
    return name if len(name) <= NAME_CHARS else name[: NAME_CHARS - 1].rstrip() + "…"


def _largest(factors: list[dict[str, Any]], lang: Lang) -> tuple[str, ...]:
    """The factors with the most points, in words, as ``shown_factors`` gave them."""
    present = sorted(
        (f for f in factors if f["points"] > 0), key=lambda f: (-f["points"], f["factor"])
    )[:LIST_FACTORS]
    return tuple(f"{name} {value}" for name, value in factor_rows(present, lang))


def collect_risk(
    *,
    session: Session,
    query: risk.RiskQuery,
    role: str,
    kecamatan: Sequence[str],
    lang: Lang,
    title: str,
) -> RiskLayer:
    """The view's workplaces (``maps.workplace_risk.ranked_items``) as ``role`` sees them."""
    as_of: dt.date = risk.query_params(query)["as_of"]
    query = risk.RiskQuery(
        query.limit, query.radius_m, query.window_days, query.expiring_days, as_of
    )
    personal = sees_personal_data(role)
    items = ranked_items(session=session, query=query, role=role, kecamatan=kecamatan)
    xs, ys = lonlat_to_utm([s.row.lon for _, s in items], [s.row.lat for _, s in items])
    symbols = []
    for (rank, s), x, y in zip(items, xs.tolist(), ys.tolist(), strict=True):
        row = s.row
        if not personal and singles_out_persons(row):
            symbols.append(RiskSymbol(x, y, None, "", "", 0.0, ()))
            continue
        shown = risk.shown_factors(s.factors, role)
        symbols.append(
            RiskSymbol(
                x,
                y,
                rank,
                row.name,
                row.kecamatan_name or "",
                s.score,
                _largest(shown, lang),
            )
        )
    return RiskLayer(
        tuple(symbols), query.limit, as_of, query.radius_m, query.window_days, personal, title
    )
