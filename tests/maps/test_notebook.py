"""The analysts' notebook runs top to bottom against the test database, offline."""

from __future__ import annotations

import html
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from sqlalchemy import Engine

from maps.assets import external_urls
from tests.maps.seed import FAKE_NAME, seed_map_data

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "border_zone_overview.ipynb"


def test_border_zone_overview_notebook(committed: Engine, database_url: str, monkeypatch) -> None:
    with committed.begin() as conn:
        seed_map_data(conn)
    monkeypatch.setenv("TIMPORA_DATABASE_URL", database_url)
    monkeypatch.setenv("TIMPORA_NOTEBOOK_ROLE", "viewer")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent.parent)}},
    ).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    frames = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    maps_ = [f for f in frames if f.startswith("<iframe srcdoc=")]
    assert len(maps_) == 4
    for frame in maps_:
        page = html.unescape(frame.split('srcdoc="', 1)[1].split('" style=', 1)[0])
        assert "L.map(" in page
        assert external_urls(page) == []
        assert FAKE_NAME not in page
