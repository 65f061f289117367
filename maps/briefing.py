"""The briefing pack: a multi-page A4 landscape PDF for the head of office and the Forkopimda.

``collect`` (``maps.briefing_content``) reads the aggregates, ``draw_pages``
(``maps.briefing_pages``) draws the pages (seven, eight with the last coordination meeting's
follow-up actions, one more with the patrol coverage), ``render`` gives
the PDF bytes. **Aggregates only**, whatever the caller's role: counts of persons (sightings,
registered foreigners, alerts about a person) below 3 are printed as "<3". The patrol-coverage
page, for roles that manage patrols only, shows the teams' tracks.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from geo.settings import Settings
from geo.times import WIB
from geo.users import Principal
from maps.briefing_content import Briefing, BriefingParams, collect, parse_briefing_params
from maps.briefing_pages import PAGES, draw_pages, page_names
from maps.sheet import pages_pdf

__all__ = [
    "PAGES",
    "Briefing",
    "BriefingParams",
    "collect",
    "draw_pages",
    "file_name",
    "page_names",
    "parse_briefing_params",
    "render",
    "render_briefing",
]


def render(briefing: Briefing) -> bytes:
    return pages_pdf(draw_pages(briefing))


def render_briefing(
    *,
    session: Session,
    params: BriefingParams,
    settings: Settings,
    principal: Principal,
) -> tuple[bytes, Briefing]:
    """Collect and render: what ``GET /maps/briefing.pdf`` and ``timpora briefing`` do."""
    briefing = collect(session=session, params=params, settings=settings, principal=principal)
    return render(briefing), briefing


def file_name(params: BriefingParams) -> str:
    parts = ["timpora-briefing"]
    f = params.filters
    if f.start:
        parts.append(f.start.astimezone(WIB).strftime("%Y%m%d"))
    if f.end:
        parts.append(f.end.astimezone(WIB).strftime("%Y%m%d"))
    return "-".join(parts) + ".pdf"
