"""``GET /maps/{view}``: auth, filters, language, privacy, no third-party URL; the dashboard shell."""

from __future__ import annotations

import itertools
import re

import pytest
from sqlalchemy.orm import Session

from geo.users import create_user
from maps.assets import ASSETS, external_urls
from tests.maps.seed import FAKE_NAME, FAKE_PASSPORT, Seed, seed_map_data

_serial = itertools.count()
VIEWS = ["heatmap", "overview", "hexbins", "timeline"]
URL = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")


@pytest.fixture
def seed(session: Session) -> Seed:
    return seed_map_data(session)


def token(session: Session, role: str) -> str:
    _user, tok = create_user(session=session, name=f"maps-{role}-{next(_serial)}", role=role)
    return tok


def auth(session: Session, role: str = "analyst") -> dict[str, str]:
    return {"Authorization": f"Bearer {token(session, role)}"}


@pytest.mark.parametrize("view", VIEWS)
def test_view_is_html_with_only_local_references(client, session, seed, view) -> None:
    r = client.get(f"/maps/{view}", headers=auth(session))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    page = r.text
    assert "http://" not in page and "https://" not in page
    # The page's empty icon (``data:,``) asks for nothing.
    refs = [ref for ref in URL.findall(page) if ref != "data:,"]
    assert refs, "the page should load Leaflet from /static/vendor"
    assert all(ref.startswith("/static/vendor/") for ref in refs), refs
    for ref in set(refs):
        asset = client.get(ref)
        assert asset.status_code == 200, ref
        assert "max-age" in asset.headers["cache-control"]


def test_requires_a_token(client, seed) -> None:
    r = client.get("/maps/heatmap")
    assert r.status_code == 401


def test_query_string_token_is_refused(client, session, seed) -> None:
    # Only the alert stream takes ?access_token= (EventSource cannot send a header); a token in
    # a page URL would end up in logs and history. The dashboard fetches maps with the header.
    viewer = token(session, "viewer")
    r = client.get("/maps/overview", params={"access_token": viewer})
    assert r.status_code == 401
    assert viewer not in r.text


def test_inline_assets_make_one_file(client, session, seed) -> None:
    r = client.get("/maps/heatmap", params={"assets": "inline"}, headers=auth(session))
    assert r.status_code == 200
    assert "<script src=" not in r.text and '<link rel="stylesheet" href=' not in r.text
    assert external_urls(r.text) == []
    assert "L.heatLayer" in r.text


@pytest.mark.parametrize(
    ("params", "field", "value"),
    [
        pytest.param({"kind": "piracy"}, "kind", "piracy", id="kind"),
        pytest.param({"layer": "ships"}, "layer", "ships", id="layer"),
        pytest.param({"start": "yesterday"}, "start", "yesterday", id="start"),
        pytest.param(
            {"start": "2025-03-01", "end": "2025-02-01"}, "end", None, id="end-before-start"
        ),
        pytest.param({"lang": "fr"}, "lang", "fr", id="lang"),
        pytest.param({"cell_m": "5"}, "cell_m", 5.0, id="cell"),
        pytest.param({"kecamatan": "61.01'; drop"}, "kecamatan", "61.01'; drop", id="kecamatan"),
        pytest.param({"period": "day"}, "period", "day", id="period"),
        pytest.param({"measure": "per_cow"}, "measure", "per_cow", id="measure"),
    ],
)
def test_bad_filters_are_422_naming_the_value(client, session, params, field, value) -> None:
    r = client.get("/maps/heatmap", params=params, headers=auth(session))
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["field"] == field
    if value is not None:
        assert body["value"] == value
        assert str(value) in body["detail"]


def test_unknown_view_is_404(client, session) -> None:
    r = client.get("/maps/nope", headers=auth(session))
    assert r.status_code == 404
    assert "heatmap" in r.json()["detail"]


def test_english_labels(client, session, seed) -> None:
    en = client.get("/maps/overview", params={"lang": "en"}, headers=auth(session)).text
    id_ = client.get("/maps/overview", headers=auth(session)).text
    assert "Border zone overview" in en and "Ikhtisar wilayah perbatasan" not in en
    assert "Ikhtisar wilayah perbatasan" in id_


def test_filters_change_the_counts(client, session, seed) -> None:
    def total(**params: str) -> int:
        page = client.get("/maps/heatmap", params=params, headers=auth(session)).text
        return int(re.search(r"Total: (\d+)", page).group(1))

    assert total() == 35
    assert total(kind="smuggling") == 5
    assert total(kind="illegal_work") == 20
    assert total(start="2025-04-01") == 5
    assert total(kecamatan=seed.quiet_code) == 5
    assert total(start="2026-01-01") == 0


def test_viewer_gets_suppressed_person_counts_and_no_personal_data(client, session, seed) -> None:
    viewer_headers = auth(session, "viewer")
    analyst_headers = auth(session, "coordinator")
    for view in VIEWS:
        v = client.get(f"/maps/{view}", params={"layer": "sightings"}, headers=viewer_headers).text
        a = client.get(f"/maps/{view}", params={"layer": "sightings"}, headers=analyst_headers).text
        for page in (v, a):
            assert FAKE_NAME not in page and FAKE_PASSPORT not in page and "PLB-UJI" not in page
        if view != "heatmap":
            assert "\\u003c3" in v, view  # "<3" as JSON-escaped in the page
            assert "\\u003c3" not in a, view
    # the quiet kecamatan has 2 sightings: "<3" for the viewer, "2" for the coordinator
    ov_v = client.get("/maps/overview", params={"layer": "sightings"}, headers=viewer_headers).text
    ov_a = client.get("/maps/overview", params={"layer": "sightings"}, headers=analyst_headers).text
    assert '"count": "\\u003c3"' in ov_v or '"count": "<3"' in ov_v
    assert '"count": "2"' in ov_a and '"count": "2"' not in ov_v


def test_dashboard_shell_and_meta(client, session, seed) -> None:
    shell = client.get("/")
    assert shell.status_code == 200
    assert "/static/app/dashboard.js" in shell.text
    assert "http://" not in shell.text and "https://" not in shell.text
    for name in ("dashboard.js", "dashboard.css"):
        body = client.get(f"/static/app/{name}").text
        assert "http://" not in body and "https://" not in body
    assert client.get("/static/app/secret.py").status_code == 404
    assert client.get("/dashboard/meta").status_code == 401
    meta = client.get("/dashboard/meta", headers=auth(session, "coordinator")).json()
    assert meta["can_ack"] is True and meta["role"] == "coordinator"
    assert set(VIEWS) <= set(meta["views"])
    assert any(k["code"] == seed.busy_code for k in meta["kecamatan"])
    viewer = client.get("/dashboard/meta", headers=auth(session, "viewer")).json()
    assert viewer["can_ack"] is False


def test_vendor_assets_are_the_packaged_files(client) -> None:
    for name in ASSETS:
        r = client.get(f"/static/vendor/{name}")
        assert r.status_code == 200 and len(r.content) > 500
    assert client.get("/static/vendor/jquery.js").status_code == 404
