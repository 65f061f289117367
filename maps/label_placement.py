"""Label placement on a printed map: by priority, without overlaps."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from matplotlib.axes import Axes
from matplotlib.text import Text
from matplotlib.transforms import Bbox


@dataclass
class Labeller:
    """Place labels by priority; a label that would overlap one already placed tries other
    positions around its anchor and is left out when none is free."""

    ax: Axes
    placed: list[Any] = field(default_factory=list)

    def _fits(self, text: Text) -> bool:
        renderer = self.ax.figure.canvas.get_renderer()  # type: ignore[attr-defined]
        box = text.get_window_extent(renderer=renderer).expanded(1.04, 1.1)
        axes_box = self.ax.get_window_extent(renderer=renderer)
        inside = (
            box.x0 >= axes_box.x0
            and box.x1 <= axes_box.x1
            and box.y0 >= axes_box.y0
            and box.y1 <= axes_box.y1
        )
        if not inside or any(box.overlaps(other) for other in self.placed):
            return False
        self.placed.append(box)
        return True

    def reserve(self, artist: Any) -> None:
        """Keep labels off an artist already drawn (scale bar, north arrow)."""
        renderer = self.ax.figure.canvas.get_renderer()  # type: ignore[attr-defined]
        self.placed.append(artist.get_window_extent(renderer=renderer))

    def reserve_point(self, x: float, y: float, size_pt: float = 6.0) -> None:
        """Keep labels off a point symbol of ``size_pt`` points at data (x, y)."""
        cx, cy = self.ax.transData.transform((x, y))
        half = size_pt / 2 * self.ax.figure.dpi / 72
        self.placed.append(Bbox([[cx - half, cy - half], [cx + half, cy + half]]))

    def add(
        self,
        x: float,
        y: float,
        label: str,
        *,
        offsets: Sequence[tuple[float, float, str, str]] = ((0, 0, "center", "center"),),
        **style: Any,
    ) -> Text | None:
        for dx, dy, ha, va in offsets:
            text = self.ax.annotate(
                label,
                (x, y),
                xytext=(dx, dy),
                textcoords="offset points",
                ha=ha,
                va=va,
                annotation_clip=True,
                **style,
            )
            if self._fits(text):
                return text
            text.remove()
        return None


POINT_OFFSETS: Final = (
    (4, 2, "left", "bottom"),
    (-4, 2, "right", "bottom"),
    (4, -2, "left", "top"),
    (-4, -2, "right", "top"),
    (0, 5, "center", "bottom"),
    (0, -5, "center", "top"),
)
