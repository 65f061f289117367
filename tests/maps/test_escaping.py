"""Strings from the database reach a map page as text: never as markup, script or a template.

The browser half (payloads that would run, in Chromium) is ``tests/browser/test_script_injection.py``.
"""

from __future__ import annotations

import re

import folium
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.settings import Settings
from geo.users import create_user
from maps.assets import render_html
from maps.common import parse_params
from maps.escaping import FieldsTooltip, TextTooltip, html_text
from maps.views import VIEWS, render_view
from tests.maps.seed import Seed

# Jinja syntax that would run on the server if a rendered value were read as a template again.
TEMPLATE_PAYLOADS = [
    "Kebun {{ 7*7 }}",
    "{% for x in range(3) %}loop{% endfor %}",
    "{{ cycler.__init__.__globals__.os.getpid() }}",
    "unclosed {{ and {% and {#",
]
NONCE = "n0nce-for-the-test_0123"
SCRIPT_OPEN = re.compile(r"<script\b[^>]*>", re.IGNORECASE)


def _plant_workplaces(session: Session, seed: Seed, names: list[str]) -> None:
    lon, lat = seed.busy_point
    for i, name in enumerate(names):
        session.execute(
            text(
                "INSERT INTO workplace (name, sector, geom) VALUES "
                "(:name, 'plantation', ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))"
            ),
            {"name": name, "lon": lon + 0.002 * i, "lat": lat - 0.004},
        )


def test_values_are_never_read_as_templates(
    session: Session, seed: Seed, settings: Settings
) -> None:
    _plant_workplaces(session, seed, TEMPLATE_PAYLOADS)
    page = render_view(
        "overview",
        session=session,
        principal_role="admin",
        params=parse_params(),
        settings=settings,
        mode="static",
    )
    for payload in TEMPLATE_PAYLOADS:
        assert html_text(payload) in page, payload  # shown as written
    assert "Kebun 49" not in page and "looplooploop" not in page


def test_tooltips_pass_text_as_a_json_value() -> None:
    m = folium.Map(location=[1.5, 109.3], tiles=None)
    payload = "x ${window.__pwned=1} `</script><img src=x onerror=alert(1)>'\""
    folium.CircleMarker([1.5, 109.3], tooltip=TextTooltip(payload)).add_to(m)
    folium.GeoJson(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [109.3, 1.5]},
                    "properties": {"name": payload},
                }
            ],
        },
        tooltip=FieldsTooltip(["name"]),
    ).add_to(m)
    page = render_html(m, mode="static")
    script = page.rsplit("<script>", 1)[1]
    assert "</script" not in script.rsplit("</script>", 1)[0]  # nothing closes the script early
    assert "<img" not in page
    # the text tooltip is escaped HTML inside a JSON string, never a template literal
    assert '"x ${window.__pwned=1} `\\u0026lt;/script\\u0026gt;' in page
    assert "innerHTML" not in script  # the field tooltip fills its cells with textContent


def test_every_script_carries_the_nonce() -> None:
    m = folium.Map(location=[1.5, 109.3], tiles=None)
    folium.CircleMarker([1.5, 109.3], tooltip=TextTooltip("a")).add_to(m)
    for mode in ("static", "inline"):
        page = render_html(m, mode=mode, nonce=NONCE)  # type: ignore[arg-type]
        tags = SCRIPT_OPEN.findall(page)
        assert len(tags) >= 3, tags  # switches, Leaflet, the map
        assert all(f'nonce="{NONCE}"' in tag for tag in tags), tags


def test_a_script_tag_outside_the_renderer_is_refused() -> None:
    m = folium.Map(location=[1.5, 109.3], tiles=None)
    root = m.get_root()
    root.html.add_child(folium.Element("<div><script>alert(1)</script></div>"))  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError, match="script tag"):
        render_html(m, mode="static", nonce=NONCE)
    with pytest.raises(ValueError, match="nonce"):
        render_html(m, mode="static", nonce='x" onload="alert(1)')


@pytest.mark.parametrize("view", sorted(VIEWS))
def test_map_pages_run_only_scripts_with_the_response_nonce(client, session, seed, view) -> None:
    _user, token = create_user(session=session, name="nonce-analyst", role="analyst")
    headers = {"Authorization": f"Bearer {token}"}
    first = client.get(f"/maps/{view}", headers=headers)
    second = client.get(f"/maps/{view}", headers=headers)
    assert first.status_code == 200, first.text
    csp = first.headers["content-security-policy"]
    script_src = re.search(r"script-src ([^;]+)", csp)
    assert script_src is not None
    sources = script_src.group(1).split()
    assert len(sources) == 1 and sources[0].startswith("'nonce-"), csp  # no 'unsafe-inline'
    nonce = sources[0][len("'nonce-") : -1]
    assert nonce not in second.headers["content-security-policy"]  # one per response
    tags = SCRIPT_OPEN.findall(first.text)
    assert tags and all(f'nonce="{nonce}"' in tag for tag in tags), tags


def test_the_dashboard_sends_its_own_nonce(client, session, seed) -> None:
    _user, token = create_user(session=session, name="nonce-viewer", role="viewer")
    headers = {"Authorization": f"Bearer {token}", "X-Script-Nonce": NONCE}
    r = client.get("/maps/overview", headers=headers)
    assert r.status_code == 200, r.text
    assert f"'nonce-{NONCE}'" in r.headers["content-security-policy"]
    assert all(f'nonce="{NONCE}"' in tag for tag in SCRIPT_OPEN.findall(r.text))
    bad = client.get(
        "/maps/overview", headers={**headers, "X-Script-Nonce": "x\" onload='alert(1)'"}
    )
    assert bad.status_code == 422
    assert "X-Script-Nonce" in bad.text


def test_dashboard_shell_policy(client) -> None:
    r = client.get("/")
    csp = r.headers["content-security-policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp)
    assert nonce is not None and "unsafe-inline" not in csp.split("script-src", 1)[1].split(";")[0]
    assert "frame-ancestors 'none'" in csp
    assert f'<script nonce="{nonce.group(1)}" src="/static/app/dashboard.js">' in r.text
    frame = re.search(r"<iframe[^>]*id=\"map\"[^>]*>", r.text)
    assert frame is not None and 'sandbox="allow-scripts"' in frame.group(0)
    assert "allow-same-origin" not in frame.group(0)
