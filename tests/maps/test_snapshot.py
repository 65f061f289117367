"""Map snapshots: A4 landscape PNG/PDF with a sheet a cartographer would sign."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from matplotlib.text import Text
from PIL import Image
from pypdf import PdfReader
from sqlalchemy.orm import Session

from geo import mapdata
from geo.briefing import points_utm
from geo.errors import ValidationError
from geo.settings import Settings
from geo.users import Principal
from maps import snapshot as snap
from maps.sheet import PNG_DPI, figure_bytes, new_page
from maps.static_basemap import load_basemap
from maps.static_layers import GridLayer, PointLayer, PolygonLayer, grid_from_heat_cells
from tests.maps.briefing_seed import add_export_data, assert_no_secrets, pdf_text
from tests.maps.seed import Seed

AUTHOR = Principal(name="Penyusun Uji", role="viewer")
A4_RATIO = 297 / 210


@pytest.fixture
def data(session: Session, seed: Seed) -> Seed:
    add_export_data(session, seed)
    session.flush()
    return seed


def _collect(session: Session, settings: Settings, **params: object) -> snap.Snapshot:
    return snap.collect(
        session=session,
        params=snap.parse_snapshot_params(**params),  # type: ignore[arg-type]
        settings=settings,
        principal=AUTHOR,
    )


def test_png_is_a4_landscape_at_200_dpi(
    session: Session, settings: Settings, data: Seed, artifacts_dir: Path
) -> None:
    png = snap.render(_collect(session, settings, layer="heat"), "png")
    (artifacts_dir / "snapshot-heat.png").write_bytes(png)
    image = Image.open(io.BytesIO(png))
    dpi_x, dpi_y = image.info["dpi"]
    assert round(dpi_x) == round(dpi_y) == PNG_DPI >= 150
    width, height = image.size
    assert width > height
    assert width / height == pytest.approx(A4_RATIO, rel=0.01)
    assert width >= 11.69 * 150


def test_pdf_carries_title_legend_marking_sources_and_page(
    session: Session, settings: Settings, data: Seed, artifacts_dir: Path
) -> None:
    snapshot = _collect(session, settings, layer="choropleth")
    pdf = snap.render(snapshot, "pdf")
    (artifacts_dir / "snapshot-choropleth.pdf").write_bytes(pdf)
    pages, text = pdf_text(pdf)
    assert pages == 1
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    width_pt, height_pt = float(page.mediabox.width), float(page.mediabox.height)
    assert width_pt / height_pt == pytest.approx(A4_RATIO, rel=0.01)
    for expected in (
        "Jumlah kejadian per kecamatan — Kabupaten Sambas",  # title, Bahasa Indonesia
        "Jumlah per kecamatan",  # legend title
        "Total: 35",  # 30 + 5 seeded incidents, a real count
        "TERBATAS",
        "© OpenStreetMap contributors",
        "Kemendagri",
        "Halaman 1 dari 1",
        "Dibuat oleh: Penyusun Uji (viewer)",
        "Data per",
        "WIB",
        "Sajingan Besar\n30",  # the busy kecamatan labelled with its count
        "Batas negara RI–Malaysia",  # basemap legend
        "PLBN Aruk",
        "Semua waktu",
    ):
        assert expected in text, expected
    assert text.count("TERBATAS") == 2  # top and bottom


def test_english_and_marking_from_settings(
    session: Session, settings: Settings, data: Seed
) -> None:
    custom = Settings(
        database=settings.database,
        area=settings.area,
        service=settings.service.model_copy(update={"classification_marking": "RAHASIA"}),
    )
    snapshot = snap.collect(
        session=session,
        params=snap.parse_snapshot_params(layer="heat", lang="en", start="2025-01-01"),
        settings=custom,
        principal=AUTHOR,
    )
    _, text = pdf_text(snap.render(snapshot, "pdf"))
    assert "Heat map of incidents — Sambas Regency" in text
    assert "Page 1 of 1" in text
    assert "Count per 1 km cell" in text
    assert "2025-01-01 00:00 – … WIB" in text
    assert text.count("RAHASIA") == 2 and "TERBATAS" not in text


LAYER_CASES = [
    *(pytest.param(layer, "incidents", id=f"{layer}-incidents") for layer in snap.LAYERS),
    *(
        pytest.param(layer, "sightings", id=f"{layer}-sightings")
        for layer in ("heat", "kde", "choropleth", "hotspots")
    ),
]


@pytest.mark.parametrize(("layer", "source"), LAYER_CASES)
def test_every_layer_renders_without_personal_data(
    session: Session, settings: Settings, data: Seed, layer: str, source: str
) -> None:
    snapshot = _collect(session, settings, layer=layer, source=source)
    assert snapshot.layer.total > 0
    figure = snap.draw(snapshot)
    texts = "\n".join(t.get_text() for t in figure.findobj(Text))
    assert_no_secrets(texts)
    pages, text = pdf_text(figure_bytes(figure, "pdf"))
    assert pages == 1
    assert_no_secrets(text)
    assert "Tidak ada data" not in text
    assert snapshot.title in text.replace("\n", " ") or snapshot.title in text


def test_person_counts_below_three_are_suppressed(
    session: Session, settings: Settings, data: Seed
) -> None:
    # Galing has 3 checkpoint sightings (shown); the quiet kecamatan has 2 lodging reports
    # (tests/maps/seed.py), shown as "<3" even to a role with personal data.
    snapshot = snap.collect(
        session=session,
        params=snap.parse_snapshot_params(layer="choropleth", source="sightings"),
        settings=settings,
        principal=Principal(name="Admin Uji", role="admin"),
    )
    layer = snapshot.layer
    assert isinstance(layer, PolygonLayer)
    counts = dict(zip(layer.names, layer.counts, strict=True))
    assert counts[data.quiet_code] == 2
    assert 3 in counts.values()
    _, text = pdf_text(snap.render(snapshot, "pdf"))
    assert "<3 (disembunyikan)" in text
    assert "\n<3" in text  # the kecamatan label
    assert "Jumlah orang di bawah 3 disembunyikan" in text


@pytest.mark.parametrize("layer", ["heat", "hotspots", "patrol", "choropleth", "incidents"])
def test_empty_period_says_no_data(session: Session, settings: Settings, layer: str) -> None:
    snapshot = _collect(session, settings, layer=layer, start="1990-01-01", end="1990-02-01")
    assert snapshot.layer.total == 0
    _, text = pdf_text(snap.render(snapshot, "pdf"))
    assert "Tidak ada data" in text
    assert "TERBATAS" in text


def test_same_data_same_bytes(session: Session, settings: Settings, data: Seed) -> None:
    params = snap.parse_snapshot_params(layer="incidents")
    first = snap.collect(session=session, params=params, settings=settings, principal=AUTHOR)
    second = snap.collect(session=session, params=params, settings=settings, principal=AUTHOR)
    for fmt in ("png", "pdf"):
        assert snap.render(first, fmt) == snap.render(second, fmt), fmt
    pdf = snap.render(first, "pdf")
    assert b"CreationDate" not in pdf and b"matplotlib" not in pdf.lower()


def test_scale_is_true_in_utm(session: Session, settings: Settings, data: Seed) -> None:
    figure = snap.draw(_collect(session, settings, layer="heat"))
    ax = figure.axes[0]
    x0, y0 = ax.get_xlim()[0], ax.get_ylim()[0]
    origin, east, north = ax.transData.transform([(x0, y0), (x0 + 10_000, y0), (x0, y0 + 10_000)])
    assert np.hypot(*(east - origin)) == pytest.approx(np.hypot(*(north - origin)), rel=1e-6)
    texts = {t.get_text() for t in ax.texts}
    assert "km" in texts and "U" in texts  # scale bar unit and the north arrow


def test_dense_incidents_are_binned_and_rasterised(
    session: Session, settings: Settings, data: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    sparse = _collect(session, settings, layer="incidents")
    assert isinstance(sparse.layer, PointLayer)
    monkeypatch.setattr(snap, "DENSE_POINTS", 10)
    dense = _collect(session, settings, layer="incidents")
    assert isinstance(dense.layer, GridLayer)
    assert dense.layer.total == sparse.layer.total == 35
    for snapshot in (sparse, dense):
        page = PdfReader(io.BytesIO(snap.render(snapshot, "pdf"))).pages[0]
        xobjects = page["/Resources"]["/XObject"]
        images = [k for k in xobjects if xobjects[k].get_object()["/Subtype"] == "/Image"]
        assert images, "the point layer is one raster image in the PDF"
        assert len(page.get_contents().get_data()) > 20_000  # the linework stays vector


@pytest.mark.parametrize(
    ("params", "field", "value"),
    [
        pytest.param({"layer": "volcano"}, "layer", "volcano", id="layer"),
        pytest.param({"source": "ghosts"}, "layer", "ghosts", id="source"),
        pytest.param({"kind": "piracy"}, "kind", "piracy", id="kind"),
        pytest.param({"start": "yesterday"}, "start", "yesterday", id="start"),
        pytest.param({"lang": "fr"}, "lang", "fr", id="lang"),
        pytest.param({"cell_m": 5.0}, "cell_m", 5.0, id="cell_m"),
        pytest.param(
            {"layer": "incidents", "source": "sightings"}, "source", "sightings", id="points"
        ),
    ],
)
def test_bad_parameters_name_the_value(
    params: dict[str, object], field: str, value: object
) -> None:
    with pytest.raises(ValidationError) as caught:
        snap.parse_snapshot_params(**params)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert caught.value.value == value
    assert str(value) in str(caught.value)


def test_kecamatan_filter_zooms_and_is_stated(
    session: Session, settings: Settings, data: Seed
) -> None:
    snapshot = _collect(session, settings, layer="hexbins", kecamatan=data.busy_code)
    basemap = load_basemap(session=session)
    whole = basemap.extent_of()
    part = basemap.extent_of([data.busy_code])
    assert (part[2] - part[0]) < (whole[2] - whole[0])
    _, text = pdf_text(snap.render(snapshot, "pdf"))
    assert "Kecamatan: Sajingan Besar" in text
    assert "Total: 30" in text


def test_heat_legend_is_in_real_counts(session: Session, settings: Settings, data: Seed) -> None:
    snapshot = _collect(session, settings, layer="heat", cell_m=500)
    cells = mapdata.heat_cells(session=session, filters=snapshot.params.filters, cell_m=500)
    counts = [int(c[2]) for c in cells.cells]
    legend = snapshot.layer.draw(new_page().add_subplot(), "id")
    labels = [label for _, label in legend.entries]
    assert labels[0].startswith(str(min(counts)))
    assert labels[-1].endswith(str(max(counts)))
    assert legend.title == "Jumlah per sel 500 m"
    assert f"Total: {sum(counts)}" in legend.notes


def test_heat_cells_map_back_to_their_utm_grid(session: Session, data: Seed) -> None:
    filters = snap.parse_snapshot_params(layer="heat").filters
    for cell_m in (100.0, 250.0, 1000.0):
        gx, gy, n = grid_from_heat_cells(
            mapdata.heat_cells(session=session, filters=filters, cell_m=cell_m)
        )
        assert len(set(zip(gx.tolist(), gy.tolist(), strict=True))) == len(gx)  # no cell merged
        assert int(n.sum()) == 35
        x, y, _ = points_utm(session=session, filters=filters)
        expected = set(
            zip(
                np.floor(x / cell_m).astype(int).tolist(),
                np.floor(y / cell_m).astype(int).tolist(),
                strict=True,
            )
        )
        assert set(zip(gx.tolist(), gy.tolist(), strict=True)) == expected
