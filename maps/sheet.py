"""The printed sheet every export shares: an A4 landscape page, its furniture and its bytes.

Marking top and bottom, title, author, data time, sources and page number; PNG and PDF output that
is byte-for-byte reproducible for the same data: the metadata that would carry a clock time or a
version are fixed. The map on the sheet is drawn by ``maps.static_basemap`` (reference layers),
``maps.static_layers`` (the data) and ``maps.map_furniture`` (scale bar, north arrow).
"""

from __future__ import annotations

import datetime as dt
import io
import textwrap
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import matplotlib
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from geo.mapdata import MapFilters
from geo.times import WIB
from maps.labels import Lang, t

A4_LANDSCAPE_IN: Final = (11.69, 8.27)
PNG_DPI: Final = 200
MARKING_COLOUR: Final = "#b30000"
# Fixed metadata: no clock time, no version string, so equal data gives equal bytes.
PDF_METADATA: Final[dict[str, Any]] = {
    "Creator": "Timpora Map",
    "Producer": "Timpora Map",
    "CreationDate": None,
}
PNG_METADATA: Final[dict[str, Any]] = {"Software": None}
# DejaVu Sans (shipped with matplotlib: same Latin glyphs anywhere) first; for names written in
# other scripts (Chinese, Japanese, Korean, Thai), the system's Noto Sans CJK and TLWG Garuda
# (Debian's fonts-noto-cjk and fonts-thai-tlwg, installed by scripts/bootstrap) as fallbacks,
# when present; without them such glyphs print as empty boxes.
FALLBACK_FONTS: Final = ("Noto Sans CJK JP", "Garuda")
_INSTALLED: Final = {f.name for f in font_manager.fontManager.ttflist}
FONT_FAMILY: Final = ["DejaVu Sans", *(name for name in FALLBACK_FONTS if name in _INSTALLED)]
# A text takes its family when it is made, before any save: the process-wide default, so every
# page and map of ours has the fallbacks (DejaVu Sans stays first for everything else).
matplotlib.rcParams["font.family"] = FONT_FAMILY
# Every text on our pages is a name, a label or a record's words, never a formula: a "$" prints
# as itself (a workplace named "CV $aham$" would otherwise print as mathtext in italics).
matplotlib.rcParams["text.parse_math"] = False
RC: Final[dict[Any, Any]] = {
    "font.family": FONT_FAMILY,
    "text.parse_math": False,
    "pdf.fonttype": 3,  # subsets fast (Type 42 costs ~1.5 s in fontTools); text still extractable
    "pdf.compression": 6,
}
# rcParams are process-global: exports save one at a time so concurrent requests (the API runs
# handlers in a thread pool) cannot see each other's settings half-way through a file.
_SAVE_LOCK: Final = threading.Lock()

# Map area and side panel, in figure fractions of an A4 landscape page.
MAP_RECT: Final = (0.025, 0.095, 0.58, 0.785)
PANEL_RECT: Final = (0.625, 0.095, 0.35, 0.785)


@dataclass(frozen=True)
class Sheet:
    """What every page of an export states besides its map: marking, author, time, sources."""

    marking: str
    lang: Lang
    author: str
    role: str
    data_as_of: dt.datetime | None
    attributions: tuple[str, ...]
    period: str
    filters: tuple[str, ...] = ()

    def as_of_text(self) -> str:
        if self.data_as_of is None:
            return "–"
        return self.data_as_of.astimezone(WIB).strftime("%Y-%m-%d %H:%M WIB")


def period_text(filters: MapFilters, lang: Lang) -> str:
    """The time window in WIB, or "all time"."""
    if filters.start is None and filters.end is None:
        return t("all_time", lang)
    fmt = "%Y-%m-%d %H:%M"
    start = filters.start.astimezone(WIB).strftime(fmt) if filters.start else "…"
    end = filters.end.astimezone(WIB).strftime(fmt) if filters.end else "…"
    return f"{start} – {end} WIB"


def filter_lines(
    filters: MapFilters, lang: Lang, kecamatan_names: dict[str, str]
) -> tuple[str, ...]:
    """The non-time filters as short lines ("Jenis: …", "Kecamatan: …")."""
    lines: list[str] = []
    if filters.kinds:
        lines.append(f"{t('kind', lang)}: " + ", ".join(t(k, lang) for k in filters.kinds))
    if filters.kecamatan:
        names = [kecamatan_names.get(c, c) for c in filters.kecamatan]
        lines.append(f"{t('kecamatan', lang)}: " + ", ".join(names))
    return tuple(lines)


def new_page() -> Figure:
    """An A4 landscape figure with an Agg canvas (no pyplot: safe in a threaded server)."""
    fig = Figure(figsize=A4_LANDSCAPE_IN, dpi=100, facecolor="white")
    FigureCanvasAgg(fig)
    return fig


def furnish(fig: Figure, sheet: Sheet, *, title: str, subtitle: str, page: int, pages: int) -> None:
    """Marking top and bottom, title, subtitle, author, data time, sources and page number."""
    lang = sheet.lang
    for y, va in ((0.985, "top"), (0.008, "bottom")):
        fig.text(
            0.5,
            y,
            sheet.marking,
            ha="center",
            va=va,
            fontsize=11,
            fontweight="bold",
            color=MARKING_COLOUR,
        )
    fig.text(0.025, 0.945, title, ha="left", va="top", fontsize=15, fontweight="bold")
    fig.text(0.025, 0.905, subtitle, ha="left", va="top", fontsize=9.5, color="#333333")
    footer = (
        f"{t('snap_by', lang)}: {sheet.author} ({sheet.role})   ·   "
        f"{t('snap_as_of', lang)}: {sheet.as_of_text()}"
    )
    fig.text(0.025, 0.058, footer, ha="left", va="bottom", fontsize=7, color="#333333")
    sources = f"{t('snap_sources', lang)}: " + "; ".join(sheet.attributions)
    fig.text(0.025, 0.040, sources, ha="left", va="bottom", fontsize=6.5, color="#555555")
    fig.text(
        0.975,
        0.040,
        t("snap_page", lang, page=page, pages=pages),
        ha="right",
        va="bottom",
        fontsize=8,
    )


def figure_bytes(fig: Figure, fmt: str) -> bytes:
    """PNG (200 dpi) or PDF bytes of one page, reproducible for equal figures."""
    buf = io.BytesIO()
    with _SAVE_LOCK, matplotlib.rc_context(RC):
        if fmt == "png":
            fig.savefig(
                buf,
                format="png",
                dpi=PNG_DPI,
                metadata=PNG_METADATA,
                pil_kwargs={"compress_level": 3},
            )
        elif fmt == "pdf":
            fig.savefig(buf, format="pdf", dpi=PNG_DPI, metadata=PDF_METADATA)
        else:
            raise ValueError(f"format must be png or pdf; got {fmt!r}")
    return buf.getvalue()


def pages_pdf(figures: Iterable[Figure]) -> bytes:
    """One PDF of several pages (matplotlib PdfPages), reproducible for equal figures."""
    buf = io.BytesIO()
    with _SAVE_LOCK, matplotlib.rc_context(RC), PdfPages(buf, metadata=PDF_METADATA) as pdf:
        for fig in figures:
            pdf.savefig(fig, dpi=PNG_DPI)
    return buf.getvalue()


def wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width=width)) if text else text
