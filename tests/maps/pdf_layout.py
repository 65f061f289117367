"""Layout faults of a printed PDF, read back from the file itself (pdfminer.six): text that
overprints other text, and text that crosses a ruled line (a table's cell border, a chart's axis,
a bar's edge, a frame).

Every glyph of every page becomes a quadrilateral in page points: its advance along the baseline
and, across it, from 0.2 em below the baseline to 0.72 em above (DejaVu's descender and cap
height), turned with the text. Glyphs drawn one after another along one baseline are one *run*
(one piece of text); glyphs of different runs must not intersect. Ruled lines are the straight
strokes of the page and the edges of its rectangles (stroked or filled); the curves of map
linework are not rules. A rule hidden under an opaque box painted after it (a legend's frame over
a grid line) does not count where the box covers the glyph.
"""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pdfminer.converter import PDFPageAggregator
from pdfminer.layout import LTChar, LTCurve, LTLine, LTRect
from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
from pdfminer.pdfpage import PDFPage
from shapely.geometry import LineString, Polygon, box

DESCENT_EM = 0.2
CAP_EM = 0.72
# Glyphs of one run may touch (kerning); a glyph of another run may come this close (points).
TOLERANCE_PT = 0.35


@dataclass(frozen=True)
class Glyph:
    order: int
    text: str
    quad: Polygon
    run: int


@dataclass(frozen=True)
class Rule:
    order: int
    line: LineString


@dataclass(frozen=True)
class Cover:
    order: int
    area: Polygon


@dataclass(frozen=True)
class Fault:
    page: int
    what: str

    def __str__(self) -> str:
        return f"page {self.page}: {self.what}"


def _walk(obj: Any) -> Iterator[Any]:
    if isinstance(obj, LTChar | LTLine | LTRect | LTCurve):
        yield obj
        return
    try:
        children = list(obj)
    except TypeError:
        return
    for child in children:
        yield from _walk(child)


def _font_size(char: LTChar) -> float:
    """The font size in text space, from the glyph's box and its (rotated, scaled) matrix."""
    a, b, _, _, _, _ = char.matrix
    scale = math.hypot(a, b)
    cos, sin = abs(a) / scale, abs(b) / scale
    advance = char.adv
    width, height = char.width / scale, char.height / scale
    return width * sin + height * cos - 2 * advance * cos * sin


def _quad(char: LTChar) -> Polygon:
    a, b, c, d, e, f = char.matrix
    size = _font_size(char)
    lo, hi = -DESCENT_EM * size, CAP_EM * size
    pts = [(0.0, lo), (char.adv, lo), (char.adv, hi), (0.0, hi)]
    return Polygon([(a * x + c * y + e, b * x + d * y + f) for x, y in pts])


def _continues(prev: LTChar, char: LTChar) -> bool:
    """Whether ``char`` follows ``prev`` on the same baseline, as the next glyph of one text."""
    pa, pb, _, _, pe, pf = prev.matrix
    a, b, _, _, e, f = char.matrix
    if abs(pa - a) > 1e-6 or abs(pb - b) > 1e-6:
        return False
    nx, ny = pe + pa * prev.adv, pf + pb * prev.adv  # where the next glyph would start
    # Kerning moves a glyph by a fraction of an em; another text starts elsewhere.
    return math.hypot(e - nx, f - ny) <= 0.25 * _font_size(prev) * math.hypot(pa, pb)


def page_items(page: Any) -> tuple[list[Glyph], list[Rule], list[Cover], dict[int, str]]:
    """The glyphs, rules and opaque covers of a page, and the text of each run (with spaces)."""
    texts: dict[int, str] = {}
    glyphs: list[Glyph] = []
    rules: list[Rule] = []
    covers: list[Cover] = []
    run = 0
    prev: LTChar | None = None
    for order, obj in enumerate(_walk(page)):
        if isinstance(obj, LTChar):
            if prev is None or not _continues(prev, obj):
                run += 1
            prev = obj
            texts[run] = texts.get(run, "") + obj.get_text()
            if obj.get_text().strip():
                glyphs.append(Glyph(order, obj.get_text(), _quad(obj), run))
            continue
        prev = None
        if isinstance(obj, LTRect):
            x0, y0, x1, y1 = obj.bbox
            if obj.stroke or obj.fill:
                corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
                for p, q in itertools.pairwise(corners):
                    if p != q:
                        rules.append(Rule(order, LineString([p, q])))
            if obj.fill:
                covers.append(Cover(order, box(x0, y0, x1, y1)))
        elif isinstance(obj, LTLine):
            (x0, y0), (x1, y1) = obj.pts[0], obj.pts[-1]
            if (x0, y0) != (x1, y1):
                rules.append(Rule(order, LineString([(x0, y0), (x1, y1)])))
        elif isinstance(obj, LTCurve) and obj.fill and len(obj.pts) <= 40:
            # A legend's or a label's box (rounded corners make it a curve): an opaque cover.
            covers.append(Cover(order, box(*obj.bbox)))
    return glyphs, rules, covers, texts


def _hidden(rule: Rule, glyph: Glyph, covers: list[Cover]) -> bool:
    return any(
        rule.order < cover.order < glyph.order and cover.area.contains(glyph.quad)
        for cover in covers
    )


def page_faults(page_number: int, page: Any) -> list[Fault]:
    glyphs, rules, covers, runs = page_items(page)
    faults: list[Fault] = []
    shrunk = [g.quad.buffer(-TOLERANCE_PT, join_style="mitre") for g in glyphs]
    # Text over text: glyphs of different runs that intersect.
    for i, gi in enumerate(glyphs):
        qi = shrunk[i]
        if qi.is_empty:
            continue
        for j in range(i + 1, len(glyphs)):
            gj = glyphs[j]
            if gj.run == gi.run or shrunk[j].is_empty:
                continue
            if qi.intersects(shrunk[j]):
                faults.append(Fault(page_number, f"{runs[gi.run]!r} overprints {runs[gj.run]!r}"))
    # Text over a ruled line.
    for i, g in enumerate(glyphs):
        q = shrunk[i]
        if q.is_empty:
            continue
        for rule in rules:
            if rule.line.intersects(q) and not _hidden(rule, g, covers):
                (x0, y0), (x1, y1) = rule.line.coords[0], rule.line.coords[-1]
                faults.append(
                    Fault(
                        page_number,
                        f"{runs[g.run]!r} crosses the line ({x0:.0f},{y0:.0f})-({x1:.0f},{y1:.0f})",
                    )
                )
                break
    return _unique(faults)


def _unique(faults: list[Fault]) -> list[Fault]:
    seen: set[str] = set()
    out: list[Fault] = []
    for fault in faults:
        if fault.what not in seen:
            seen.add(fault.what)
            out.append(fault)
    return out


def _pages(pdf: bytes) -> Iterator[Any]:
    """The pages' objects in painting order (no layout analysis, which would regroup them)."""
    resources = PDFResourceManager()
    device = PDFPageAggregator(resources, laparams=None)
    interpreter = PDFPageInterpreter(resources, device)
    for page in PDFPage.get_pages(io.BytesIO(pdf)):
        interpreter.process_page(page)
        yield device.get_result()


def layout_faults(pdf: bytes) -> list[Fault]:
    """Every overprint and every crossing, on every page of ``pdf``."""
    faults: list[Fault] = []
    for number, page in enumerate(_pages(pdf), start=1):
        faults.extend(page_faults(number, page))
    return faults


def text_runs(pdf: bytes) -> list[list[str]]:
    """The runs of text of every page, in drawing order (what the checks call one text)."""
    pages: list[list[str]] = []
    for page in _pages(pdf):
        _, _, _, runs = page_items(page)
        pages.append([run.strip() for run in runs.values() if run.strip()])
    return pages
