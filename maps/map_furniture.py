"""What a printed map carries besides its layers: scale bar, north arrow, "no data"."""

from __future__ import annotations

from typing import Any, Final

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from maps.labels import Lang, t

NICE_KM: Final = (1, 2, 5, 10, 20, 25, 50, 100)


def scale_length_km(map_width_m: float, share: float = 0.25) -> float:
    """A round length near ``share`` of the map width."""
    target = map_width_m * share / 1000.0
    return float(max([k for k in NICE_KM if k <= target] or [NICE_KM[0]]))


def _backing(ax: Axes, xy: tuple[float, float], width: float, height: float) -> Rectangle:
    """The white, half-transparent card under a scale bar or north arrow."""
    card = Rectangle(
        xy, width, height, facecolor="white", edgecolor="#999999", lw=0.4, alpha=0.85, zorder=40
    )
    ax.add_patch(card)
    return card


def scale_bar(ax: Axes, lang: Lang) -> list[Any]:
    """Alternating black and white bar in true metres (the axes are EPSG:32649)."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    width, height = x1 - x0, y1 - y0
    length_km = scale_length_km(width)
    length_m = length_km * 1000.0
    left, bottom = x0 + 0.04 * width, y0 + 0.045 * height
    bar_h = 0.011 * height
    artists: list[Any] = []
    backing = _backing(
        ax,
        (left - 0.02 * width, bottom - 0.03 * height),
        length_m + 0.07 * width,
        bar_h + 0.065 * height,
    )
    artists.append(backing)
    segments = 4
    for i in range(segments):
        ax.add_patch(
            Rectangle(
                (left + i * length_m / segments, bottom),
                length_m / segments,
                bar_h,
                facecolor="black" if i % 2 == 0 else "white",
                edgecolor="black",
                lw=0.5,
                zorder=41,
            )
        )
    for value in (0.0, length_km / 2, length_km):
        ax.text(
            left + value * 1000.0,
            bottom + bar_h + 0.006 * height,
            f"{value:g}".replace(".", ",") if lang == "id" else f"{value:g}",
            ha="center",
            va="bottom",
            fontsize=6.5,
            zorder=42,
        )
    ax.text(
        left + length_m + 0.012 * width,
        bottom,
        "km",
        ha="left",
        va="bottom",
        fontsize=6.5,
        zorder=42,
    )
    projection = ax.text(
        left,
        bottom - 0.006 * height,
        t("snap_projection_short", lang),
        ha="left",
        va="top",
        fontsize=5.5,
        color="#444444",
        zorder=42,
    )
    # The card holds every word on it: as wide as the longest line, whatever the language.
    renderer = ax.figure.canvas.get_renderer()  # type: ignore[attr-defined]
    right_px = projection.get_window_extent(renderer=renderer).x1
    right = float(ax.transData.inverted().transform((right_px, 0.0))[0])
    backing.set_width(max(backing.get_width(), right + 0.02 * width - backing.get_x()))
    return artists


def north_arrow(ax: Axes, lang: Lang) -> list[Any]:
    """A north arrow in the upper left; grid north of UTM 49N (convergence here < 0.1°)."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    width, height = x1 - x0, y1 - y0
    cx, top = x0 + 0.06 * width, y1 - 0.05 * height
    h, w = 0.07 * height, 0.025 * width
    backing = _backing(ax, (cx - 1.4 * w, top - h - 0.015 * height), 2.8 * w, h + 0.06 * height)
    left = np.array([[cx, top], [cx - w, top - h], [cx, top - 0.72 * h]])
    right = np.array([[cx, top], [cx + w, top - h], [cx, top - 0.72 * h]])
    ax.fill(left[:, 0], left[:, 1], color="black", zorder=41, lw=0.6)
    ax.fill(right[:, 0], right[:, 1], facecolor="white", edgecolor="black", zorder=41, lw=0.6)
    ax.text(
        cx,
        top + 0.008 * height,
        t("snap_north", lang),
        ha="center",
        va="bottom",
        fontsize=9,
        fontweight="bold",
        zorder=42,
    )
    return [backing]


def no_data(ax: Axes, lang: Lang) -> None:
    """A clear "Tidak ada data" across the middle of the map."""
    ax.text(
        0.5,
        0.5,
        t("no_data", lang),
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=22,
        fontweight="bold",
        color="#555555",
        zorder=50,
        bbox={"boxstyle": "round,pad=0.5", "fc": "white", "ec": "#888888", "alpha": 0.9},
    )
