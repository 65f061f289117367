"""A plain table on a printed page, and the numbers in it as the pack prints them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from matplotlib.axes import Axes
from matplotlib.transforms import Bbox

from maps.static_layers import shown

HEADER_COLOUR: Final = "#e8e8e8"


def count_text(value: int) -> str:
    """A count of things (incidents, cells, alerts) with a thousands separator."""
    return shown(value, persons=False)


def persons_text(value: int) -> str:
    """A count of persons: below 3 printed as "<3" (docs/privacy.md)."""
    return shown(value, persons=True)


def decimal_text(value: float, digits: int = 2) -> str:
    """A decimal with the comma the Indonesian pages use."""
    return f"{value:.{digits}f}".replace(".", ",")


def draw_table(
    ax: Axes,
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    widths: Sequence[float],
    fontsize: float = 7.5,
    numeric: Sequence[int] | None = None,
    bold_last: bool = False,
) -> None:
    """A plain table at the top of ``ax``: header shaded, numbers right-aligned."""
    ax.set_axis_off()
    if not rows:
        ax.text(0.0, 0.98, "—", va="top", fontsize=fontsize)
        return
    row_h = min(0.055, 0.98 / (len(rows) + 1))
    table = ax.table(
        cellText=[list(r) for r in rows],
        colLabels=list(columns),
        colWidths=list(widths),
        loc="upper left",
        cellLoc="left",
        bbox=Bbox.from_bounds(
            0.0, 1.0 - row_h * (len(rows) + 1), float(sum(widths)), row_h * (len(rows) + 1)
        ),
    )
    table.auto_set_font_size(False)
    table.set_fontsize(fontsize)
    for (r, c), cell in table.get_celld().items():
        cell.set_linewidth(0.3)
        cell.set_edgecolor("#bbbbbb")
        if r == 0:
            cell.set_facecolor(HEADER_COLOUR)
            cell.get_text().set_fontweight("bold")
        if c in (numeric if numeric is not None else range(1, len(columns))):
            cell.get_text().set_horizontalalignment("right")
            setattr(cell, "_loc", "right")  # noqa: B010  # Cell places its text by _loc
        if bold_last and r == len(rows):
            cell.get_text().set_fontweight("bold")
