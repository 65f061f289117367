"""The coordinators' dashboard at ``/`` (plain HTML/JS, no build step) and the packaged assets.

The shell and the vendored Leaflet files carry no data and need no token; everything the page
shows comes from authenticated same-origin requests (``/dashboard/meta``, ``/maps/{view}``,
``/api/v1/alerts``, and for roles that manage patrols ``/api/v1/patrols/...``: the patrol panel
of ``static/patrols.js``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import iter_route_contexts

from api.auth import require
from api.deps import SessionDep, SettingsDep
from api.middleware import new_nonce, nonce_policy
from geo import access
from geo.alerts import queue, triage
from geo.errors import NotFoundError
from geo.io.importer import check_sharing
from geo.io.layers import LAYERS as IO_LAYERS
from geo.mapdata import KINDS, LAYERS, kecamatan_list
from geo.models import RULE_KINDS
from geo.registry import get_layer
from geo.sharing import WHOLE_TIMPORA
from geo.users import Principal
from maps.assets import ASSETS, asset_text
from maps.labels import t
from maps.views import VIEWS

router = APIRouter(tags=["dashboard"])

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
APP_FILES = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "patrols.js": "text/javascript; charset=utf-8",
    "dashboard-jobs.js": "text/javascript; charset=utf-8",
    "dashboard-common.js": "text/javascript; charset=utf-8",
    "dashboard-actions.js": "text/javascript; charset=utf-8",
    "dashboard-sharing.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
    "patrols.css": "text/css; charset=utf-8",
}
MEDIA_TYPES = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8"}
CACHE = "public, max-age=86400"
LAPSE_REASONS = ("quiet", "returned")
SCRIPT_TAG = '<script src="/static/app/dashboard.js"></script>'


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def dashboard(settings: SettingsDep) -> HTMLResponse:
    """The shell. Its scripts run by a per-response nonce and no other script does. The map
    frame is filled with ``srcdoc`` (so the token never goes into a URL), sandboxed without
    ``allow-same-origin`` (its scripts cannot reach this page or its storage), and keeps this
    policy: the dashboard sends the nonce with each map request for the map's own scripts."""
    nonce = new_nonce()
    page = (STATIC_DIR / "dashboard.html").read_text(encoding="utf-8")
    if SCRIPT_TAG not in page:
        raise RuntimeError("dashboard.html lost its script tag")
    page = page.replace("<script src=", f'<script nonce="{nonce}" src=')
    return HTMLResponse(
        page,
        headers={
            "Content-Security-Policy": nonce_policy(
                nonce, tile_url=settings.service.tile_url, frame_ancestors="'none'"
            ),
            "Cache-Control": "no-store",
        },
    )


@router.get("/static/app/{filename}", include_in_schema=False)
def app_file(filename: str) -> Response:
    if filename not in APP_FILES:
        raise NotFoundError(f"no file {filename!r}")
    body = (STATIC_DIR / filename).read_text(encoding="utf-8")
    return Response(body, media_type=APP_FILES[filename], headers={"Cache-Control": "no-cache"})


@router.get("/static/vendor/{filename}", include_in_schema=False)
def vendor_file(filename: str) -> Response:
    """Leaflet and plugins from their Python packages (``maps/assets.py``)."""
    asset = ASSETS.get(filename)
    if asset is None:
        raise NotFoundError(f"no asset {filename!r}")
    return Response(
        asset_text(filename), media_type=MEDIA_TYPES[asset.kind], headers={"Cache-Control": CACHE}
    )


def _paths(request: Request) -> set[str]:
    """Every route path of the app, included routers flattened (FastAPI wraps them)."""
    return {ctx.path or "" for ctx in iter_route_contexts(request.app.routes)}


@router.get("/dashboard/meta", summary="What the dashboard may show to the caller")
def dashboard_meta(
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, Depends(require(access.READ))],
) -> dict[str, Any]:
    paths = _paths(request)
    # Alerts name persons: their list, stream and triage record need personal data; the
    # queue is for every role (without personal data: counts, rule, severity and area only).
    alerts = access.allowed(principal.role, access.PERSONAL_DATA)
    can_act = access.allowed(principal.role, access.ACK_ALERTS)
    patrols = access.allowed(principal.role, access.PLAN_PATROLS)
    return {
        "user": principal.name,
        "role": principal.role,
        # The caller's agency (short name; None for none): its own records are always its own.
        "agency": principal.agency,
        "can_ack": access.allowed(principal.role, access.ACK_ALERTS),
        "personal_data": access.sees_personal_data(principal.role),
        "views": sorted(VIEWS),
        "layers": list(LAYERS),
        "kinds": {
            layer: [{"value": k, "id": t(k, "id"), "en": t(k, "en")} for k in kinds]
            for layer, kinds in KINDS.items()
        },
        "kecamatan": kecamatan_list(session=session),
        "rules": {k: {"id": t(f"rule_{k}", "id"), "en": t(f"rule_{k}", "en")} for k in RULE_KINDS},
        # Why an alert was closed: the reasons a person gives, then the evaluation's own.
        "reasons": {
            k: {"id": t(f"reason_{k}", "id"), "en": t(f"reason_{k}", "en")}
            for k in (*triage.RESOLVE_REASONS, *LAPSE_REASONS)
        },
        "resolve_reasons": list(triage.RESOLVE_REASONS),
        "assignees": queue.assignable_users(session=session) if can_act else [],
        # The patrol panel shows officers' movements: only for roles that manage patrols.
        "patrols": {
            "positions": patrols and "/api/v1/patrols/positions" in paths,
            "stream": patrols and "/api/v1/patrols/positions/stream" in paths,
            "replay": patrols and "/api/v1/patrols/replay" in paths,
        },
        "jobs": jobs_meta(principal.role, paths),
        # The layers whose restricted records of the caller's own agency it may widen (the
        # sharing panel): a record's sharing is changed only by its reporting agency, by a
        # user who may update such records.
        "widen": [
            layer
            for layer in WIDEN_LAYERS
            if principal.agency_id is not None
            and access.allowed(principal.role, access.write_permission(get_layer(layer).record))
            and f"/api/v1/{layer}/{{record_id:recid}}" in paths
            and "/ogc/collections/{collection_id}/items" in paths
        ],
        # Follow-up actions: every role reads them; who may change which (planners: their own
        # agency's) is the service's rule, repeated here only to offer the form.
        "followup": {
            "manage": access.allowed(principal.role, access.MANAGE_ACTIONS),
            "update": access.allowed(principal.role, access.UPDATE_ACTIONS),
            "agency_id": principal.agency_id,
        }
        if "/api/v1/actions" in paths
        else None,
        "alerts": {
            "queue": "/api/v1/alerts/queue" in paths,
            "detail": alerts and "/api/v1/alerts/{alert_id:int}" in paths,
            "actions": can_act and "/api/v1/alerts/actions" in paths,
            "list": alerts and "/api/v1/alerts" in paths,
            "stream": alerts and "/api/v1/alerts/stream" in paths,
            "ack": alerts
            and any(p.startswith("/api/v1/alerts/{") and p.endswith("/ack") for p in paths),
        },
    }


# The layers whose records carry a sharing level and a reporting agency (docs/privacy.md).
WIDEN_LAYERS: Final = ("incidents", "sightings")


def jobs_meta(role: str, paths: set[str]) -> dict[str, Any]:
    """What the daily-jobs panel offers the role: the layers it may export one record at a time
    (persons only with personal data), the layers it may import (writers), the printed products
    (every role) and the users (administrators)."""
    writer = access.allowed(role, access.WRITE)
    return {
        "export": [
            layer
            for layer in IO_LAYERS
            if access.allowed(role, access.read_permission(get_layer(layer).record))
            and f"/api/v1/{layer}/export" in paths
        ],
        "import": [layer for layer in IO_LAYERS if writer and f"/api/v1/{layer}/import" in paths],
        "snapshot": "/maps/snapshot.{fmt}" in paths,
        "briefing": "/maps/briefing.pdf" in paths,
        "users": access.allowed(role, access.MANAGE_USERS) and "/api/v1/users" in paths,
        # The importable layers whose records carry a sharing level (docs/privacy.md).
        "sharing": [
            layer
            for layer in IO_LAYERS
            if writer and f"/api/v1/{layer}/import" in paths and check_sharing(layer, WHOLE_TIMPORA)
        ],
    }
