"""Caps on every parameter that scales work, shared by every face (docs/api.md, "Bounded work").

Each cap is a number range with a unit; a value outside it (or not a finite number, or not an
integer where one is needed) is a :class:`geo.errors.ValidationError` naming the parameter, the
range and the value, so the API answers 422 and the CLI one line. The counts that follow from
several parameters at once (time slices, cells x slices, grid nodes, export rows) have caps here
too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from geo.errors import ValidationError


@dataclass(frozen=True)
class Cap:
    """The allowed range of one parameter."""

    name: str
    low: float
    high: float
    unit: str = ""

    def _refuse(self, value: object, kind: str) -> ValidationError:
        unit = f" {self.unit}" if self.unit else ""
        shown = value if isinstance(value, int | float) and math.isfinite(value) else str(value)
        return ValidationError(
            f"{self.name} must be {kind}between {self.low:g} and {self.high:g}{unit}; "
            f"got {value!r}"[:300],
            field=self.name,
            value=shown if not isinstance(shown, str) else shown[:100],
        )

    def number(self, value: object) -> float:
        """``value`` as a float inside the range."""
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise self._refuse(value, "a number ") from None
        if not (math.isfinite(number) and self.low <= number <= self.high):
            raise self._refuse(value, "")
        return number

    def integer(self, value: object) -> int:
        """``value`` as an int inside the range (``4`` and ``4.0`` are, ``4.5`` and ``inf`` not)."""
        if isinstance(value, bool):
            raise self._refuse(value, "an integer ")
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise self._refuse(value, "an integer ") from None
        if not (math.isfinite(number) and number.is_integer()):
            raise self._refuse(value, "an integer ")
        if not self.low <= number <= self.high:
            raise self._refuse(value, "an integer ")
        return int(number)


# Grid cells (heat cells, hex bins, the hotspot grid), square side or hexagon edge.
CELL_M: Final = Cap("cell_m", 100, 20_000, "metres")
# Kernel density: the Gaussian's standard deviation.
BANDWIDTH_M: Final = Cap("bandwidth_m", 100, 20_000, "metres")
# DBSCAN: the neighbourhood radius and the points that make a core point.
EPS_M: Final = Cap("eps_m", 10, 5_000, "metres")
MIN_SAMPLES: Final = Cap("min_samples", 1, 1_000)
# Patrol plans: points, the radius each covers, and the look-back on the patrol log.
PATROL_K: Final = Cap("k", 1, 50)
PATROL_RADIUS_M: Final = Cap("radius_m", 50, 50_000, "metres")
AVOID_RECENT_DAYS: Final = Cap("avoid_recent_days", 0, 365, "days")
RECENT_FACTOR: Final = Cap("recent_factor", 0, 1)

# Time slices of a trend or a timeline (ten years of weeks, forty-three of months).
MAX_SLICES: Final = 520
# Cells of the hotspot grid, and cells x slices of its count matrices (8 bytes each, twice).
MAX_CELLS: Final = 250_000
MAX_CELL_SLICES: Final = 10_000_000
# Nodes of a kernel density grid.
MAX_KDE_NODES: Final = 4_000_000
# Points read for an analysis that holds them all in memory (DBSCAN, KDE, maps of points).
MAX_ANALYSIS_POINTS: Final = 500_000
# Rows of one export file (narrow it with bbox, start/end or kind beyond that).
MAX_EXPORT_ROWS: Final = 1_000_000


def check_slices(count: int, *, unit: str, field: str = "slice") -> int:
    """``count`` time slices of ``unit`` (week or month), at most :data:`MAX_SLICES`."""
    if count > MAX_SLICES:
        raise ValidationError(
            f"the time window holds {count:,} {unit} slices (max {MAX_SLICES}); "
            "narrow start/end or use longer slices",
            field=field,
            value=count,
        )
    return count


def check_count(count: int, *, cap: int, what: str, field: str, advice: str) -> int:
    """A count that follows from several parameters (cells x slices, points, rows), capped."""
    if count > cap:
        raise ValidationError(
            f"{what}: {count:,} (max {cap:,}); {advice}", field=field, value=count
        )
    return count
