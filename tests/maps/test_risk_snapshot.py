"""The ``risk`` snapshot layer: the workplace risk view on an A4 page, ranked and suppressed as
that view is for the reader's role, the best ranks named without overlaps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from matplotlib.text import Annotation, Text
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.errors import ValidationError
from geo.roles import role_for, use_role
from geo.settings import Settings
from geo.users import Principal
from maps import snapshot as snap
from maps.risk_snapshot import LABELLED, RiskLayer
from maps.sheet import figure_bytes
from maps.workplace_risk import ranked_items
from tests.geo.test_risk import AS_OF, build_sites
from tests.maps.briefing_seed import pdf_text

WORKERS = ("Quota Worker", "Gone Worker", "Expired Worker", "Expiring Worker", "Valid Worker")
PERSONS = (*WORKERS, "Hidden Worker", "Own Worker", "Hotel Guest", "Once Seen", "Far Worker")


@pytest.fixture
def sites(session: Session) -> dict[str, Any]:
    built = build_sites(session)
    # A name matplotlib would read as mathtext, and one longer than a label's room.
    session.execute(
        text("UPDATE workplace SET name = :n WHERE id = :id"),
        {"n": "risk-test alerts $x^2$ & Co", "id": built["ids"]["alerts"]},
    )
    return built


def _snapshot(
    session: Session, settings: Settings, role: str, lang: str = "id", **params: Any
) -> snap.Snapshot:
    if role in ("viewer", "planner"):
        use_role(session, role_for(role))  # as the API runs their requests
    return snap.collect(
        session=session,
        params=snap.parse_snapshot_params(
            layer="risk", as_of=AS_OF.isoformat(), lang=lang, **params
        ),
        settings=settings,
        principal=Principal(name=f"Risiko {role}", role=role),
    )


def _texts(snapshot: snap.Snapshot) -> tuple[str, str]:
    """The figure's texts (labels included) and the PDF's text."""
    figure = snap.draw(snapshot)
    texts = "\n".join(t.get_text() for t in figure.findobj(Text))
    pages, pdf = pdf_text(figure_bytes(figure, "pdf"))
    assert pages == 1
    return texts, pdf


@pytest.mark.parametrize("lang", ["id", "en"])
def test_admin_page_ranks_and_names_the_top_workplaces(
    session: Session, settings: Settings, sites: dict[str, Any], lang: str, artifacts_dir: Path
) -> None:
    snapshot = _snapshot(session, settings, "admin", lang)
    layer = snapshot.layer
    assert isinstance(layer, RiskLayer) and layer.personal
    # The view's ranking: same workplaces, same ranks, as the admin's risk view draws them.
    expected = ranked_items(session=session, query=snapshot.params.risk, role="admin")  # type: ignore[arg-type]
    assert [s.rank for s in layer.symbols] == [rank for rank, _ in expected]
    assert [s.name for s in layer.symbols[:4]] == [
        "risk-test quota",
        "risk-test expired",
        "risk-test hidden",
        "risk-test alerts $x^2$ & Co",
    ]
    for fmt in ("png", "pdf"):
        (artifacts_dir / f"snapshot-risk-admin-{lang}.{fmt}").write_bytes(
            snap.render(snapshot, fmt)
        )
    texts, pdf = _texts(snapshot)
    day = AS_OF.isoformat()
    title, ranking, expired = {
        "id": (
            "Risiko tempat kerja — Kabupaten Sambas",
            "Peringkat per tanggal",
            "Melebihi kuota RPTKA 3",
        ),
        "en": ("Workplace risk — Sambas Regency", "Ranking as of", "Over the RPTKA quota 3"),
    }[lang]
    for expected_text in (title, f"{ranking} {day}", "1. risk-test quota", "TERBATAS", "WIB"):
        assert expected_text in texts, expected_text
    assert expired in texts  # each listed rank with its largest factor
    assert "risk-test alerts $x^2$ & Co" in pdf.replace("\n", " ")  # printed as written
    assert not any(person in texts or person in pdf for person in PERSONS)
    # Labels never overlap one another (the labeller leaves out what finds no room).
    ax = snap.draw(snapshot).axes[0]
    renderer = ax.figure.canvas.get_renderer()  # type: ignore[attr-defined]
    # The test sites lie 3 km apart in a row: a name that finds no room leaves its rank.
    at = {(s.x_utm, s.y_utm) for s in layer.symbols}
    labels = {t.get_text(): t for t in ax.texts if isinstance(t, Annotation) and t.xy in at}
    assert "1. risk-test quota" in labels
    ranks = {text.split(".")[0] for text in labels}
    assert ranks == {str(s.rank) for s in layer.symbols if s.rank and s.rank <= LABELLED}
    boxes = [t.get_window_extent(renderer=renderer) for t in labels.values()]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])


@pytest.mark.parametrize("lang", ["id", "en"])
def test_viewer_page_holds_no_person_and_suppresses_as_the_view(
    session: Session, settings: Settings, sites: dict[str, Any], lang: str, artifacts_dir: Path
) -> None:
    snapshot = _snapshot(session, settings, "viewer", lang)
    layer = snapshot.layer
    assert isinstance(layer, RiskLayer) and not layer.personal
    for fmt in ("png", "pdf"):
        (artifacts_dir / f"snapshot-risk-viewer-{lang}.{fmt}").write_bytes(
            snap.render(snapshot, fmt)
        )
    texts, pdf = _texts(snapshot)
    both = texts + "\n" + pdf
    assert not any(person in both for person in PERSONS)
    # expired (1 expired, 1 expiring) and hidden (1 worker seen): their only factors are
    # counts below 3, so grey, no name, no rank, no score; the key says why.
    suppressed = [s for s in layer.symbols if s.rank is None]
    assert len(suppressed) == 2 and all(s.name == "" and not s.factors for s in suppressed)
    assert "risk-test expired" not in both and "risk-test hidden" not in both
    assert "1. risk-test quota" in texts
    assert {"id": "(ditekan)", "en": "(suppressed)"}[lang] in both
    assert {"id": "disembunyikan (<3)", "en": "hidden (<3)"}[lang] in both


def test_kecamatan_and_limit_keep_the_views_selection(
    session: Session, settings: Settings, sites: dict[str, Any]
) -> None:
    whole = _snapshot(session, settings, "analyst")
    assert isinstance(whole.layer, RiskLayer)
    top = _snapshot(session, settings, "analyst", limit="2")
    assert isinstance(top.layer, RiskLayer)
    assert [s.name for s in top.layer.symbols] == [s.name for s in whole.layer.symbols[:2]]
    assert snap.file_name(top.params, "pdf") == f"timpora-risk-{AS_OF:%Y%m%d}.pdf"


@pytest.mark.parametrize(
    ("params", "field", "value"),
    [
        pytest.param({"limit": "500"}, "limit", "500", id="limit-cap"),
        pytest.param({"limit": "2.5"}, "limit", "2.5", id="limit-integer"),
        pytest.param({"as_of": "soon"}, "as_of", "soon", id="as-of"),
        pytest.param({"start": "2025-01-01"}, "start", "2025-01-01", id="period"),
        pytest.param({"kind": "piracy"}, "kind", "piracy", id="kind"),
        pytest.param({"cell_m": 500.0}, "cell_m", 500.0, id="cell"),
        pytest.param({"layer": "heat", "as_of": "2025-01-01"}, "as_of", "2025-01-01", id="heat"),
        pytest.param({"layer": "heat", "limit": 5}, "limit", 5, id="heat-limit"),
    ],
)
def test_bad_risk_parameters_name_the_value(
    params: dict[str, Any], field: str, value: object
) -> None:
    with pytest.raises(ValidationError) as caught:
        snap.parse_snapshot_params(**{"layer": "risk", **params})
    assert caught.value.field == field
    assert caught.value.value == value
    assert str(value) in str(caught.value)
