"""The field: Traccar Client positions, the offline field form, devices and tracks.

- ``/osmand``: positions in the OsmAnd protocol, as the Traccar Client app sends them (query or
  form parameters, or a JSON body). No bearer token: the device identifier is the credential, as
  in Traccar itself, and an unknown or revoked one is refused (400 for the parameter form, 404
  for the JSON form, as a Traccar server answers) and counted, never stored.
- ``/field/``: the offline-first field form (a web app a phone installs); its reports arrive at
  ``POST /field/reports`` with the device's token and an ``Idempotency-Key``.
- ``/api/v1/field/devices``: administrators register, move to another agency, revoke and rotate
  devices; a device belongs to the agency of the administrator who registers it (or the one it
  was moved to), and its reports record that agency.
- ``/api/v1/patrols/tracks`` and ``/api/v1/patrols/positions``: the teams' tracks and last
  positions, for the roles that manage patrols (officers' movements are personal data).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any, Final
from urllib.parse import parse_qsl

import orjson
from fastapi import APIRouter, Body, Depends, Header, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from api.auth import require
from api.deps import SessionDep, SettingsDep
from api.responses import JSON, GeoJSON
from api.routing import client_address
from geo import access, audit
from geo.errors import AuthenticationError, NotFoundError, ValidationError
from geo.field import devices as field_devices
from geo.field import form, reports, tracks
from geo.field.batcher import PositionBatcher
from geo.field.osmand import decode_json, decode_query
from geo.roles import PERSONAL_ROLE, use_role_and_agency
from geo.users import Principal

router = APIRouter()

STATIC_DIR = Path(__file__).resolve().parent.parent / "static" / "field"
FORM_FILES: Final = {
    "app.js": "text/javascript; charset=utf-8",
    "sw.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "manifest.webmanifest": "application/manifest+json",
    "icon.svg": "image/svg+xml",
}
# The form is plain files: no inline script or style, nothing from another origin.
FORM_CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; worker-src 'self'; manifest-src 'self'; frame-ancestors 'none'"
)
OSMAND_MAX_BODY: Final = 64 * 1024  # one position is a few hundred bytes
MAX_POSITIONS_MINUTES: Final = 7 * 24 * 60

Manager = Annotated[Principal, Depends(require(access.MANAGE_USERS))]
PatrolManager = Annotated[Principal, Depends(require(access.PLAN_PATROLS))]
device_bearer = HTTPBearer(auto_error=False, description="A field device token.")


# --- Traccar Client (OsmAnd protocol) ---


def position_batcher(request: Request) -> PositionBatcher:
    """The app's one group-commit writer of positions (made on first use)."""
    batcher: PositionBatcher | None = getattr(request.app.state, "position_batcher", None)
    if batcher is None:
        settings = request.app.state.settings
        batcher = PositionBatcher(
            session_factory=request.app.state.database.session,
            margin_m=settings.area.aoi_margin_m,
        )
        request.app.state.position_batcher = batcher
    return batcher


OSMAND_ROUTE: Final[dict[str, Any]] = {
    "tags": ["field"],
    "response_class": PlainTextResponse,
    "responses": {
        code: {"description": text, "content": {"text/plain": {"schema": {"type": "string"}}}}
        for code, text in (
            (400, "Malformed (the reason), or an unknown device (parameter form)"),
            (404, "Unknown device (JSON form)"),
            (413, "Body larger than 64 KiB"),
        )
    },
}


@router.post("/osmand", summary="A position from Traccar Client (OsmAnd protocol)", **OSMAND_ROUTE)
@router.get("/osmand", summary="A position as OsmAnd query parameters", **OSMAND_ROUTE)
async def osmand(request: Request) -> Response:
    now = dt.datetime.now(dt.UTC)
    body = await request.body()
    if len(body) > OSMAND_MAX_BODY:
        return PlainTextResponse("body too large", status_code=413)
    is_json = request.headers.get("content-type", "").startswith("application/json")
    try:
        if is_json:
            try:
                payload = orjson.loads(body)
            except orjson.JSONDecodeError:
                raise ValidationError("body: not JSON", field="body", value=None) from None
            position = decode_json(payload, now=now)
        else:
            params: dict[str, str] = dict(request.query_params)
            if not params and body:
                params = dict(parse_qsl(body.decode("ascii", "replace")))
            position = decode_query(params, now=now)
    except ValidationError as exc:
        return PlainTextResponse(exc.message, status_code=400)
    outcome = await position_batcher(request).submit(position)
    if outcome in (tracks.UNKNOWN_DEVICE, tracks.REVOKED_DEVICE):
        return PlainTextResponse("unknown device", status_code=404 if is_json else 400)
    # Stored, a duplicate, without a fix, or outside the area (counted): the phone moves on.
    return PlainTextResponse("", status_code=200)


# --- devices (administrators) ---


class DeviceIn(BaseModel):
    name: str = Field(max_length=100, examples=["HP Tim A 1"])
    team: str = Field(max_length=100, examples=["Tim A"])
    kind: str = Field(examples=["traccar"], description="traccar or form")
    identifier: str | None = Field(
        default=None, max_length=64, description="Traccar Client's device identifier"
    )


class DevicePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agency: str = Field(
        min_length=1,
        max_length=24,
        description="the short name of the agency the device's reports record from now on",
        examples=["POLRES"],
    )


def _device_json(device: field_devices.Device) -> dict[str, Any]:
    return {
        "name": device.name,
        "team": device.team,
        "kind": device.kind,
        "identifier": device.identifier,
        "agency": device.agency,
        "active": device.active,
        "created_at": device.created_at.isoformat(),
        "revoked_at": device.revoked_at.isoformat() if device.revoked_at else None,
        "last_seen_at": device.last_seen_at.isoformat() if device.last_seen_at else None,
    }


@router.get("/api/v1/field/devices", tags=["field"], summary="Registered field devices")
def list_devices(session: SessionDep, principal: Manager) -> JSON:
    return JSON({"devices": [_device_json(d) for d in field_devices.list_devices(session=session)]})


@router.post(
    "/api/v1/field/devices",
    tags=["field"],
    status_code=201,
    summary="Register a device (a form device's token is in the answer, once)",
)
def register_device(
    request: Request, session: SessionDep, principal: Manager, body: DeviceIn
) -> JSON:
    device, token = field_devices.register_device(
        session=session,
        name=body.name,
        team=body.team,
        kind=body.kind,
        identifier=body.identifier,
        created_by=principal.name,
        agency_id=principal.agency_id,
    )
    field_devices.audit_device(
        session=session,
        principal=principal,
        action="create",
        device=device,
        client=client_address(request),
    )
    payload = _device_json(device)
    if token is not None:
        payload["token"] = token
    return JSON(payload, status_code=201)


@router.patch(
    "/api/v1/field/devices/{name}",
    tags=["field"],
    summary="Move a device to another agency (its next report records the new one)",
)
def move_device(
    request: Request, session: SessionDep, principal: Manager, name: str, body: DevicePatch
) -> JSON:
    device, _, _ = field_devices.move_device(
        session=session,
        name=name,
        agency=body.agency,
        principal=principal,
        client=client_address(request),
    )
    return JSON(_device_json(device))


@router.post(
    "/api/v1/field/devices/{name}/{action}",
    tags=["field"],
    summary="Revoke a device, or rotate a form device's token",
)
def change_device(
    request: Request, session: SessionDep, principal: Manager, name: str, action: str
) -> JSON:
    payload: dict[str, Any]
    if action == "revoke":
        device = field_devices.revoke_device(session=session, name=name)
        payload = _device_json(device)
    elif action == "rotate":
        token = field_devices.rotate_device_token(session=session, name=name)
        device = field_devices.get_device(session=session, name=name)
        payload = {**_device_json(device), "token": token}
    else:
        raise NotFoundError(f"no device action {action!r} (revoke or rotate)")
    field_devices.audit_device(
        session=session,
        principal=principal,
        action=action,
        device=device,
        client=client_address(request),
    )
    return JSON(payload)


@router.get(
    "/api/v1/field/refusals",
    tags=["field"],
    summary="Device identifiers whose positions were refused (to register a phone that tried)",
)
def list_refusals(
    session: SessionDep, principal: Manager, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> JSON:
    rows = tracks.refusals(session=session, limit=limit)
    for row in rows:
        row["first_at"] = row["first_at"].isoformat()
        row["last_at"] = row["last_at"].isoformat()
    return JSON({"refusals": rows})


# --- tracks and live positions (roles that manage patrols) ---


@router.get(
    "/api/v1/patrols/tracks",
    tags=["field"],
    response_class=GeoJSON,
    summary=f"Each team's track (at most {tracks.MAX_TRACK_DAYS} days; default the last 24 h)",
)
def get_tracks(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: PatrolManager,
    start: str | None = None,
    end: str | None = None,
    team: Annotated[str | None, Query(max_length=100)] = None,
) -> GeoJSON:
    start_at, end_at = tracks.track_window(start, end)
    collection = tracks.team_tracks(
        session=session,
        start=start_at,
        end=end_at,
        team=team,
        gap_s=settings.field.field_track_gap_s,
        max_accuracy_m=settings.field.field_max_accuracy_m,
    )
    audit.record(
        session=session,
        principal=principal,
        action="read",
        resource="patrols/tracks",
        record_count=len(collection["features"]),
        client=client_address(request),
    )
    return GeoJSON(collection)


@router.get(
    "/api/v1/patrols/positions",
    tags=["field"],
    response_class=GeoJSON,
    summary="Each team's last position (the live layer)",
)
def get_positions(
    request: Request,
    session: SessionDep,
    principal: PatrolManager,
    minutes: Annotated[int, Query(ge=1, le=MAX_POSITIONS_MINUTES)] = 120,
) -> GeoJSON:
    since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes)
    collection = tracks.last_positions(session=session, since=since)
    audit.record(
        session=session,
        principal=principal,
        action="read",
        resource="patrols/positions",
        record_count=len(collection["features"]),
        client=client_address(request),
    )
    return GeoJSON(collection)


# --- the offline field form ---


def current_device(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(device_bearer)],
) -> field_devices.Device:
    if credentials is None:
        raise AuthenticationError("missing device token (Authorization: Bearer <token>)")
    device = field_devices.device_for_token(session=session, token=credentials.credentials)
    if device is None:
        raise AuthenticationError("invalid or revoked device token")
    # What the device writes records its agency and obeys the sharing between agencies, as a
    # user's request does (docs/privacy.md, "Member agencies"). A report may carry free text and
    # a photo, so the device writes under the personal database role; it reads nothing back.
    use_role_and_agency(session, PERSONAL_ROLE, device.agency_id)
    return device


DeviceDep = Annotated[field_devices.Device, Depends(current_device)]


@router.get("/field/", response_class=HTMLResponse, include_in_schema=False)
def form_page() -> HTMLResponse:
    page = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    return HTMLResponse(
        page, headers={"Content-Security-Policy": FORM_CSP, "Cache-Control": "no-cache"}
    )


@router.get("/field/{filename}", include_in_schema=False)
def form_file(filename: str) -> Response:
    if filename not in FORM_FILES:
        raise NotFoundError(f"no file {filename!r}")
    headers = {"Cache-Control": "no-cache", "Content-Security-Policy": FORM_CSP}
    if filename == "sw.js":
        headers["Service-Worker-Allowed"] = "/field/"
    return Response(
        (STATIC_DIR / filename).read_bytes(), media_type=FORM_FILES[filename], headers=headers
    )


@router.get("/field/api/context", tags=["field"], summary="What the form needs offline")
def form_context(session: SessionDep) -> JSON:
    """The regency's outline and the form's vocabularies: no personal data, cached offline."""
    return JSON(form.context(session=session), headers={"Cache-Control": "no-cache"})


@router.get("/field/api/whoami", tags=["field"], summary="The device a token belongs to")
def whoami(device: DeviceDep) -> JSON:
    return JSON({"device": device.name, "team": device.team, "agency": device.agency})


@router.post(
    "/field/api/reports",
    tags=["field"],
    status_code=201,
    summary="A sighting or incident from the field form (exactly once per Idempotency-Key)",
)
def post_report(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    device: DeviceDep,
    body: Annotated[dict[str, Any], Body()],
    idempotency_key: Annotated[str, Header(description="A UUID made on the phone")],
) -> JSON:
    outcome = reports.submit_report(
        session=session,
        device=device,
        body=body,
        key=idempotency_key,
        area=settings.area,
        photo_max_bytes=settings.field.field_photo_max_bytes,
        client=client_address(request),
    )
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
    return JSON(outcome.body, status_code=outcome.status_code, headers=headers)


@router.get(
    "/api/v1/field/photos/{photo_id}",
    tags=["field"],
    summary="A photo sent with a field report (roles with personal data)",
    response_class=Response,
)
def get_photo(
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, Depends(require(access.PERSONAL_DATA))],
    photo_id: int,
) -> Response:
    image = reports.photo(session=session, photo_id=photo_id)
    if image is None:
        raise NotFoundError(f"no photo {photo_id}")
    audit.record(
        session=session,
        principal=principal,
        action="read",
        resource=f"field/photos/{photo_id}",
        record_count=1,
        client=client_address(request),
    )
    return Response(image, media_type="image/jpeg", headers={"Cache-Control": "private"})
