"""The briefing pack: seven A4 landscape pages of aggregates, never personal data."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from matplotlib.text import Text
from pypdf import PdfReader
from sqlalchemy.orm import Session

from geo import mapdata
from geo.settings import Settings
from geo.users import Principal
from maps import briefing as brief
from maps.sheet import pages_pdf
from tests.maps.briefing_seed import add_export_data, assert_no_secrets, pdf_text
from tests.maps.seed import Seed


@pytest.fixture
def data(session: Session, seed: Seed) -> Seed:
    add_export_data(session, seed)
    session.flush()
    return seed


def _collect(
    session: Session, settings: Settings, role: str = "viewer", **params: object
) -> brief.Briefing:
    return brief.collect(
        session=session,
        params=brief.parse_briefing_params(**params),  # type: ignore[arg-type]
        settings=settings,
        principal=Principal(name=f"Penyusun {role}", role=role),
    )


def _pages(pdf: bytes) -> list[str]:
    return [page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages]


def test_pack_pages_and_what_they_say(
    session: Session, settings: Settings, data: Seed, artifacts_dir: Path
) -> None:
    # An admin's pack: the most privileged role still gets aggregates only.
    briefing = _collect(session, settings, role="admin")
    figures = brief.draw_pages(briefing)
    texts = "\n".join(t.get_text() for fig in figures for t in fig.findobj(Text))
    assert_no_secrets(texts)
    pdf = pages_pdf(figures)
    (artifacts_dir / "briefing.pdf").write_bytes(pdf)
    pages = _pages(pdf)
    assert len(pages) == 8
    assert_no_secrets("\n".join(pages))
    for number, text in enumerate(pages, start=1):
        assert text.count("TERBATAS") == 2, number
        assert f"Halaman {number} dari 8" in text
        assert "© OpenStreetMap contributors" in text and "Kemendagri" in text
        assert "Dibuat oleh: Penyusun admin (admin)" in text
    cover, kecamatan, kinds, hotspots, patrol, alerts, inspected, followup = pages
    assert "Paket briefing Timpora — Kabupaten Sambas" in cover
    assert "Angka utama" in cover and "Jumlah per sel 1 km" in cover
    assert "Jumlah per kecamatan — Kabupaten Sambas" in kecamatan
    assert "Sajingan Besar 30" in kecamatan.replace("\n", " ")  # table row and map label
    # Paloh (the quiet kecamatan): 5 incidents, 2 sightings, 2 registered foreigners: "<3".
    assert "Paloh 5 <3 <3" in kecamatan.replace("\n", " ")
    assert "Kejadian menurut jenis — Kabupaten Sambas" in kinds
    assert "Bekerja tanpa izin 20" in kinds and "Penyelundupan 5" in kinds
    assert "Tren bulanan kejadian" in kinds and "2025-01" in kinds and "2025-04" in kinds
    assert "Titik panas teratas" in hotspots and "Gi* z" in hotspots
    top = briefing.top[0]
    assert top.place is not None and top.place.kecamatan == "Sajingan Besar"
    assert abs(top.lon - data.busy_point[0]) < 0.03 and abs(top.lat - data.busy_point[1]) < 0.03
    assert f"{top.lon:.4f}" in hotspots and f"{top.lat:.4f}" in hotspots
    assert "Rencana patroli saat ini" in patrol and "Urutan" in patrol
    assert briefing.patrol.plan.points and briefing.stop_places[0].kecamatan == "Sajingan Besar"
    flat = alerts.replace("\n", " ")
    # No period: the episodes open now (the resolved and the lapsed one left out), all "new".
    assert "Episode peringatan dalam periode" in flat
    assert "Kejadian dekat tempat kerja Sajingan Besar 4 4" in flat
    # One open episode about one named person per rule: "<3", in the table and on the bar.
    assert "WNA dekat batas negara Paloh <3 <3" in flat and flat.count("<3") >= 3
    # No inspection recorded: the page says so (tests/maps/test_briefing_inspections.py).
    assert "Pemeriksaan dan temuan menurut instansi" in inspected and "Tidak ada" in inspected
    assert "Tindak lanjut rapat terakhir dan kontribusi instansi" in followup
    assert "Kontribusi per instansi" in followup and "IMIGRASI" in followup


def test_alert_page_counts_the_episodes_of_the_period(
    session: Session, settings: Settings, data: Seed
) -> None:
    def tallies(**period: str) -> dict[str, tuple[int, int]]:
        b = _collect(session, settings, **period)
        return {a.rule_kind: (a.count, a.opened) for a in b.alerts}

    # February: the 4 open, of which 3 first seen in it (one open since December).
    feb = tallies(start="2025-02-01", end="2025-03-01")
    assert feb["incident_near_workplace"] == (4, 3)
    # December: the one first seen then, the one resolved then and the lapsed one.
    assert tallies(start="2024-12-01", end="2025-01-01")["incident_near_workplace"] == (3, 3)
    # Before any episode: none.
    assert tallies(start="2024-01-01", end="2024-02-01") == {}


def test_viewer_pack_has_no_personal_data(session: Session, settings: Settings, data: Seed) -> None:
    briefing = _collect(session, settings, role="viewer")
    figures = brief.draw_pages(briefing)
    assert_no_secrets("\n".join(t.get_text() for fig in figures for t in fig.findobj(Text)))
    _, text = pdf_text(pages_pdf(figures))
    assert_no_secrets(text)
    assert "Dibuat oleh: Penyusun viewer (viewer)" in text


def test_empty_period_still_makes_a_pack(session: Session, settings: Settings) -> None:
    briefing = _collect(session, settings, start="1990-01-01", end="1990-02-01")
    pages = _pages(brief.render(briefing))
    assert len(pages) == 8
    assert "Tidak ada data" in pages[0]  # the cover map
    assert "Tidak ada data" in pages[2]  # the trend chart
    assert "Tidak ada" in pages[3] and "Tidak ada" in pages[4]


def test_same_data_same_pack(session: Session, settings: Settings, data: Seed) -> None:
    first = brief.render(_collect(session, settings))
    second = brief.render(_collect(session, settings))
    assert first == second


def test_english_pack(session: Session, settings: Settings, data: Seed) -> None:
    pages = _pages(brief.render(_collect(session, settings, lang="en", kind="illegal_work")))
    assert "Timpora briefing pack — Sambas Regency" in pages[0]
    assert "Page 6 of 8" in pages[5] and "Page 7 of 8" in pages[6]
    assert "Kind: Illegal work" in pages[0]
    assert "Illegal work 20" in pages[2] and "Smuggling" not in pages[2]


def test_overview_markers_are_the_episodes_of_the_period(session: Session, data: Seed) -> None:
    def markers(personal: bool = False, **period: dt.datetime) -> list[str]:
        found = mapdata.latest_alerts(session=session, personal=personal, **period)
        return [a.status for a in found]

    utc = dt.UTC
    feb = markers(
        start=dt.datetime(2025, 2, 1, tzinfo=utc), end=dt.datetime(2025, 3, 1, tzinfo=utc)
    )
    assert sorted(feb) == ["acknowledged", "new", "new", "new"]
    dec = markers(
        start=dt.datetime(2024, 12, 1, tzinfo=utc), end=dt.datetime(2025, 1, 1, tzinfo=utc)
    )
    assert sorted(dec) == ["lapsed", "new", "resolved"]
    # Without a period: open now; people's episodes only for roles that see them.
    assert len(markers()) == 4 and len(markers(personal=True)) == 6
