"""The briefing pack's follow-up page, read back from the PDF: the last meeting before the
period's end, each of its actions with its status and outcome per agency, the agencies'
contributions, in both languages; never a meeting's or an action's notes."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from geo.settings import Settings
from geo.users import Principal
from maps import briefing as brief
from maps.briefing_followup import LABELS, period_days
from tests.maps.followup_seed import LONG_TITLE, MEETING_NOTE, SECRET_NOTE, add_followup_data
from tests.maps.pdf_layout import layout_faults, text_runs
from tests.maps.seed import Seed

END = dt.date(2025, 4, 10)
OUTCOMES = {
    "id": {"done": "selesai (terlaksana)", "in_progress": "berjalan, lewat tenggat",
           "dropped": "dibatalkan (digantikan)", "open": "terbuka, lewat tenggat"},
    "en": {"done": "done (completed)", "in_progress": "in progress, overdue",
           "dropped": "dropped (superseded)", "open": "open, overdue"},
}  # fmt: skip


def _squeezed(value: str) -> str:
    return re.sub(r"\s+", "", value)


@pytest.mark.parametrize("lang", ["id", "en"])
def test_the_meeting_page_lists_each_actions_status(
    session: Session, settings: Settings, seed: Seed, lang: str, artifacts_dir: Path
) -> None:
    planted = add_followup_data(session, period_end=END - dt.timedelta(days=1))
    briefing = brief.collect(
        session=session,
        params=brief.parse_briefing_params(lang=lang, start="2025-01-15", end=END.isoformat()),
        settings=settings,
        principal=Principal(name="Penyusun", role="viewer"),
    )
    pdf = brief.render(briefing)
    (artifacts_dir / f"briefing-followup-{lang}.pdf").write_bytes(pdf)
    assert layout_faults(pdf) == []
    pages = text_runs(pdf)
    assert len(pages) == 8
    page = _squeezed("".join(pages[-1]))
    assert _squeezed(LABELS["title"][lang]) in page
    assert _squeezed(planted.last_meeting) in page
    for other in planted.other_meetings:
        assert _squeezed(other) not in page
    # Each action of the meeting, with its agency and its outcome, in the page's language.
    for title, (agency, status, _reason) in planted.statuses.items():
        assert _squeezed(title) in page, title
        assert _squeezed(agency) in page
    runs = [_squeezed(r) for r in pages[-1]]
    for status in ("done", "in_progress", "dropped", "open"):
        assert _squeezed(OUTCOMES[lang][status]) in runs, status
    # The row of each action carries its own outcome: title run, then due, then outcome.
    done_row = runs.index(_squeezed("Razia gabungan jalan tikus Aruk"))
    assert runs[done_row + 2] == _squeezed(OUTCOMES[lang]["done"])
    assert _squeezed(LONG_TITLE[:40]) in page  # wrapped, not dropped
    # Contributions: a row for every active agency.
    assert _squeezed(LABELS["closed"][lang]) in page
    assert "IMIGRASI" in page and "BEACUKAI" in page
    text = "".join("".join(p) for p in pages)
    assert "Rahasia" not in text and _squeezed(SECRET_NOTE) not in _squeezed(text)
    assert _squeezed(MEETING_NOTE) not in _squeezed(text)


def test_without_a_meeting_the_page_says_so(
    session: Session, settings: Settings, seed: Seed
) -> None:
    briefing = brief.collect(
        session=session,
        params=brief.parse_briefing_params(lang="en", end="2001-02-01"),
        settings=settings,
        principal=Principal(name="Penyusun", role="viewer"),
    )
    pages = text_runs(brief.render(briefing))
    assert "No coordination meeting up to 2001-01-31" in " ".join(pages[-1])


@pytest.mark.parametrize(
    ("start", "end", "first", "last"),
    [
        pytest.param("2025-01-15", "2025-04-10", "2025-01-15", "2025-04-09", id="end-exclusive"),
        pytest.param(None, "2025-04-10", "2015-04-03", "2025-04-09", id="no-start"),
    ],
)
def test_period_days(start: str | None, end: str, first: str, last: str) -> None:
    from geo.times import parse_time

    got = period_days(parse_time(start, field="start"), parse_time(end, field="end"))
    assert got == (dt.date.fromisoformat(first), dt.date.fromisoformat(last))
