"""A plain table on a printed page, and the numbers in it as the pack prints them.

Every cell's text fits its cell: words wrap onto more lines (a word longer than its column is
broken), rows grow to hold them, and when the table would then overrun its axes the whole table
takes a smaller font. Numbers follow the page's language (4.914 and 0,032 in Bahasa Indonesia,
4,914 and 0.032 in English).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Final

from matplotlib.axes import Axes
from matplotlib.font_manager import FontProperties
from matplotlib.table import Cell
from matplotlib.transforms import Bbox

from maps.labels import Lang
from maps.sheet import FONT_FAMILY
from maps.static_layers import number_text, shown

HEADER_COLOUR: Final = "#e8e8e8"
MIN_FONTSIZE: Final = 5.0
LINE_SPACING: Final = 1.25  # line height in font sizes
ROW_PAD_EM: Final = 0.7  # space above and below a cell's lines, in font sizes
CELL_PAD_EM: Final = 0.6  # space left and right of a cell's text, in font sizes
MAX_ROW_FRACTION: Final = 0.055  # rows no taller than this share of the axes when one line
# Font metrics of the screen renderer (hinted, at 100 dpi) and of the PDF differ: a long line of
# 7.5 pt text is up to 6 % wider in the PDF. Keep this much spare.
MEASURE_SLACK: Final = 1.08


def count_text(value: int, lang: Lang) -> str:
    """A count of things (incidents, cells, alerts) with the language's thousands separator."""
    return shown(value, persons=False, lang=lang)


def persons_text(value: int, lang: Lang) -> str:
    """A count of persons: below 3 printed as "<3" (docs/privacy.md)."""
    return shown(value, persons=True, lang=lang)


def decimal_text(value: float, lang: Lang, digits: int = 2) -> str:
    """A decimal with the language's decimal mark (0,032 or 0.032)."""
    return number_text(value, lang, digits)


Measure = Callable[[str, float, bool], float]


def wrap_to_width(text: str, width_px: float, measure: Callable[[str], float]) -> list[str]:
    """``text`` in lines no wider than ``width_px``: words kept whole where they fit, a word
    longer than a line broken where it must be."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        current = ""
        for word in _words(paragraph):
            joiner = "" if current.endswith("/") else " "
            candidate = f"{current}{joiner}{word}" if current else word
            if measure(candidate) <= width_px:
                current = candidate
                continue
            if current:
                lines.append(current)
            current = ""
            while measure(word) > width_px and len(word) > 1:
                cut = len(word) - 1
                while cut > 1 and measure(word[:cut] + "-") > width_px:
                    cut -= 1
                lines.append(word[:cut] + "-")
                word = word[cut:]
            current = word
        lines.append(current)
    return lines


def _measurer(ax: Axes) -> Measure:
    renderer = ax.figure.canvas.get_renderer()  # type: ignore[attr-defined]

    def measure(text: str, fontsize: float, bold: bool) -> float:
        if not text:
            return 0.0
        prop = FontProperties(family=FONT_FAMILY, size=fontsize, weight="bold" if bold else None)
        width, _, _ = renderer.get_text_width_height_descent(text, prop, ismath=False)
        return float(width) * MEASURE_SLACK

    return measure


def _words(text: str) -> list[str]:
    """The pieces a line may break between: words, and after a slash ("Incidents/ km²")."""
    return [piece for word in text.split() for piece in re.split(r"(?<=/)", word) if piece]


def fit_widths(
    preferred: Sequence[float], least: Sequence[float], total: float
) -> list[float] | None:
    """Column widths summing to ``total``: the preferred shares, except that no column is
    narrower than its ``least`` (its longest word); the room it takes comes from the columns
    with room to spare, in proportion. None when even the least widths do not fit."""
    if sum(least) > total:
        return None
    widths = [p * total / sum(preferred) for p in preferred]
    for _ in range(len(widths)):
        short = [i for i, w in enumerate(widths) if w < least[i] - 1e-9]
        if not short:
            break
        need = sum(least[i] - widths[i] for i in short)
        for i in short:
            widths[i] = least[i]
        spare = {i: widths[i] - least[i] for i in range(len(widths)) if i not in short}
        room = sum(v for v in spare.values() if v > 0)
        for i, v in spare.items():
            if v > 0:
                widths[i] -= need * v / room
    return widths


def _layout(
    cells: list[list[str]],
    bold: list[bool],
    col_px: list[float],
    fontsize: float,
    px_per_pt: float,
    measure: Measure,
) -> tuple[list[list[str]], list[float]]:
    """Wrapped texts and each row's height in pixels at ``fontsize``."""
    pad_px = CELL_PAD_EM * fontsize * px_per_pt
    wrapped: list[list[str]] = []
    heights: list[float] = []
    for r, row in enumerate(cells):
        texts = []
        lines = 1
        is_bold = bold[r]

        def width(s: str, is_bold: bool = is_bold) -> float:
            return measure(s, fontsize, is_bold)

        for c, text in enumerate(row):
            avail = max(col_px[c] - 2 * pad_px, 1.0)
            parts = wrap_to_width(text, avail, width)
            texts.append("\n".join(parts))
            lines = max(lines, len(parts))
        wrapped.append(texts)
        heights.append((lines * LINE_SPACING + ROW_PAD_EM) * fontsize * px_per_pt)
    return wrapped, heights


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
    """A plain table at the top of ``ax``: header shaded, numbers right-aligned, every text
    inside its cell."""
    ax.set_axis_off()
    if not rows:
        ax.text(0.0, 0.98, "—", va="top", fontsize=fontsize)
        return
    measure = _measurer(ax)
    box = ax.get_window_extent()
    px_per_pt = ax.figure.dpi / 72.0
    cells = [list(columns), *[list(r) for r in rows]]
    bold = [True, *[bold_last and i == len(rows) - 1 for i in range(len(rows))]]
    right = set(numeric if numeric is not None else range(1, len(columns)))
    total_px = float(sum(widths)) * box.width
    size = fontsize
    while True:
        # A number is never broken and a word only when nothing else fits: each column is at
        # least as wide as its widest number or word, with its padding.
        pad_px = CELL_PAD_EM * size * px_per_pt
        least = [
            2 * pad_px
            + 1.0  # a pixel of play: the widest word must not wrap on rounding
            + max(
                measure(piece, size, bold[r])
                for r, row in enumerate(cells)
                for piece in ([row[c]] if c in right and r > 0 else _words(row[c]) or [""])
            )
            for c in range(len(columns))
        ]
        col_px = fit_widths(widths, least, total_px) or [w * box.width for w in widths]
        wrapped, heights = _layout(cells, bold, col_px, size, px_per_pt, measure)
        fits = sum(heights) <= 0.98 * box.height and fit_widths(widths, least, total_px)
        if fits or size <= MIN_FONTSIZE:
            break
        size = max(MIN_FONTSIZE, size - 0.25)
    # Short tables keep their rows at a readable height rather than hugging the text.
    one_line = (LINE_SPACING + ROW_PAD_EM) * size * px_per_pt
    spare = MAX_ROW_FRACTION * box.height
    stretched = [
        h + max(0.0, min(spare, 0.98 * box.height / len(heights)) - one_line) for h in heights
    ]
    if sum(stretched) <= 0.98 * box.height:
        heights = stretched
    total = sum(heights) / box.height
    table = ax.table(
        cellText=[r for r in wrapped[1:]],
        colLabels=wrapped[0],
        colWidths=[w / box.width for w in col_px],
        loc="upper left",
        cellLoc="left",
        bbox=Bbox.from_bounds(0.0, 1.0 - total, float(sum(widths)), total),
    )
    table.auto_set_font_size(False)
    table.set_fontsize(size)
    pad_px = CELL_PAD_EM * size * px_per_pt
    for (r, c), cell in table.get_celld().items():
        assert isinstance(cell, Cell)
        cell.set_height(heights[r] / box.height)
        cell.PAD = pad_px / col_px[c]  # Cell pads by a fraction of its width
        cell.set_linewidth(0.3)
        cell.set_edgecolor("#bbbbbb")
        cell.get_text().set_linespacing(LINE_SPACING)
        if r == 0:
            cell.set_facecolor(HEADER_COLOUR)
        if bold[r]:
            cell.get_text().set_fontweight("bold")
        if c in right:
            cell.get_text().set_horizontalalignment("right")
            setattr(cell, "_loc", "right")  # noqa: B010  # Cell places its text by _loc
