"""Alerts: list and read, acknowledge and resolve, the live stream (SSE), rules and webhooks.
The triage queue and the other actions are in ``alerts_triage.py``.

Handlers call ``geo.alerts``; the SQL lives there. ``start_alert_services(app)`` starts the
LISTEN hub (SSE) and the webhook worker from the app's lifespan; ``stop_alert_services`` ends them.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Depends, FastAPI, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.auth import require
from api.deps import SessionDep, SettingsDep
from api.responses import JSON, GeoJSON
from api.sse import event_stream
from geo import access
from geo.alerts import service, triage
from geo.alerts.delivery import DeliveryOptions, DeliveryWorker
from geo.alerts.stream import AlertHub
from geo.errors import DatabaseUnavailableError
from geo.users import Principal

router = APIRouter(prefix="/api/v1", tags=["alerts"])

# Alerts name their subjects and where a person was: records of persons, like sightings, for roles
# with personal data only; the others see open alerts counted per rule and kecamatan in the
# briefing pack (docs/privacy.md).
Reader = Annotated[Principal, Depends(require(access.PERSONAL_DATA))]
# EventSource cannot send headers: the stream alone also takes ?access_token= (api/auth.py).
StreamReader = Annotated[Principal, Depends(require(access.PERSONAL_DATA, query_token=True))]
Acker = Annotated[Principal, Depends(require(access.ACK_ALERTS))]
RuleEditor = Annotated[Principal, Depends(require(access.EDIT_RULES))]


def start_alert_services(app: FastAPI) -> None:
    """The LISTEN hub for the stream and the webhook worker (woken by each notification)."""
    engine = app.state.database.engine
    allow_private = app.state.settings.service.webhook_allow_private
    worker = DeliveryWorker(engine, DeliveryOptions(allow_private=allow_private))
    hub = AlertHub(engine, on_alerts=lambda _ids: worker.wake())
    app.state.alert_hub = hub
    app.state.alert_worker = worker
    hub.start()
    worker.start()


def stop_alert_services(app: FastAPI) -> None:
    hub: AlertHub | None = getattr(app.state, "alert_hub", None)
    worker: DeliveryWorker | None = getattr(app.state, "alert_worker", None)
    if hub is not None:
        hub.stop()
    if worker is not None:
        worker.stop()


class Note(BaseModel):
    note: str | None = Field(default=None, max_length=2000)


class Resolution(Note):
    reason: str | None = Field(
        default=None, description=f"required: {', '.join(triage.RESOLVE_REASONS)}"
    )


class RulePatch(BaseModel):
    parameters: dict[str, Any] | None = None
    severity: int | None = None
    enabled: bool | None = None


class WebhookIn(BaseModel):
    url: str = Field(max_length=2000)
    secret: str | None = Field(default=None, min_length=16, max_length=200)
    description: str | None = Field(default=None, max_length=500)


@router.get("/alerts", response_class=GeoJSON, summary="Alerts as a FeatureCollection")
def list_alerts(
    session: SessionDep,
    principal: Reader,
    status: str | None = None,
    rule: str | None = None,
    kecamatan: str | None = None,
    start: str | None = None,
    end: str | None = None,
    bbox: str | None = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_LIMIT)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> GeoJSON:
    filters = service.parse_alert_filters(
        status=status,
        rule=rule,
        kecamatan=kecamatan,
        start=start,
        end=end,
        bbox=bbox,
        limit=limit,
        offset=offset,
    )
    features = service.list_alerts(session=session, principal=principal, filters=filters)
    return GeoJSON(
        {"type": "FeatureCollection", "features": features, "numberReturned": len(features)}
    )


@router.get("/alerts/stream", summary="New alerts as Server-Sent Events (event: alert)")
async def stream_alerts(request: Request, session: SessionDep, principal: StreamReader) -> Any:
    hub: AlertHub | None = getattr(request.app.state, "alert_hub", None)
    if hub is None:
        raise DatabaseUnavailableError("the alert stream is not running in this process")
    # The token check is done: give the connection back instead of holding it for the stream.
    await run_in_threadpool(session.close)

    def frame(feature: dict[str, Any]) -> bytes:
        data = orjson.dumps(service.for_role(feature, principal.role))
        return b"id: %d\nevent: alert\ndata: %s\n\n" % (feature["id"], data)

    return event_stream(
        request, hub=hub, principal=principal, frame=frame, audit=_audit_streamed_alert
    )


def _audit_streamed_alert(
    *, session: Session, principal: Principal, item: dict[str, Any], client: str | None
) -> None:
    service.audit_streamed(session=session, principal=principal, features=[item], client=client)


# ``:int``: only digits are an alert id, so GET /alerts/actions is the 405 of the selection route
# (POST only), not a 422 about an id.
@router.get("/alerts/{alert_id:int}", response_class=GeoJSON, summary="One alert as a Feature")
def get_alert(alert_id: int, session: SessionDep, principal: Reader) -> GeoJSON:
    return GeoJSON(service.get_alert(session=session, principal=principal, alert_id=alert_id))


@router.post("/alerts/{alert_id}/ack", response_class=GeoJSON, summary="Acknowledge an alert")
def ack_alert(
    alert_id: int,
    session: SessionDep,
    principal: Acker,
    body: Annotated[Note | None, Body()] = None,
) -> GeoJSON:
    note = body.note if body else None
    return GeoJSON(
        service.acknowledge(session=session, principal=principal, alert_id=alert_id, note=note)
    )


@router.post(
    "/alerts/{alert_id}/resolve",
    response_class=GeoJSON,
    summary="Resolve an alert with a reason",
)
def resolve_alert(
    alert_id: int,
    session: SessionDep,
    principal: Acker,
    body: Annotated[Resolution | None, Body()] = None,
) -> GeoJSON:
    return GeoJSON(
        service.resolve(
            session=session,
            principal=principal,
            alert_id=alert_id,
            reason=body.reason if body else None,
            note=body.note if body else None,
        )
    )


@router.get("/alert-rules", summary="The rule catalogue with its parameters")
def list_rules(session: SessionDep, principal: RuleEditor) -> JSON:
    return JSON({"rules": service.list_rules(session=session)})


@router.patch("/alert-rules/{kind}", summary="Change a rule's parameters, severity or switch")
def patch_rule(kind: str, patch: RulePatch, session: SessionDep, principal: RuleEditor) -> JSON:
    return JSON(
        service.update_rule(
            session=session,
            principal=principal,
            kind=kind,
            parameters=patch.parameters,
            severity=patch.severity,
            enabled=patch.enabled,
        )
    )


@router.get("/webhooks", summary="Registered webhook receivers (secrets never shown)")
def list_webhooks(session: SessionDep, principal: RuleEditor) -> JSON:
    return JSON({"webhooks": service.list_webhooks(session=session)})


@router.post("/webhooks", status_code=201, summary="Register a webhook; the secret is shown once")
def create_webhook(
    body: WebhookIn, session: SessionDep, settings: SettingsDep, principal: RuleEditor
) -> JSON:
    hook, secret = service.create_webhook(
        session=session,
        principal=principal,
        url=body.url,
        secret=body.secret,
        description=body.description,
        allow_private=settings.service.webhook_allow_private,
    )
    return JSON({**hook, "secret": secret}, status_code=201)


@router.delete("/webhooks/{webhook_id}", status_code=204, summary="Remove a webhook")
def delete_webhook(webhook_id: int, session: SessionDep, principal: RuleEditor) -> None:
    service.delete_webhook(session=session, principal=principal, webhook_id=webhook_id)
