"""Notification subscriptions: add, list, remove and test the channels people are notified on.

Every signed-in user manages their own subscriptions; an administrator (users:manage) manages
everyone's and the offices'. The channel (an Apprise URL or e-mail address) is a secret: it is
accepted here and never shown again, only masked. ``start_notify_worker(app)`` runs the sender
from the app's lifespan (``geo.notify.outbox``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.auth import require
from api.deps import SessionDep, SettingsDep
from api.responses import JSON
from api.routing import client_address
from geo import access
from geo.notify import queue_link, subscriptions
from geo.notify.outbox import NotifyWorker, send_test
from geo.users import Principal

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])

# Anyone signed in may manage their own; the service checks whose a subscription is.
Member = Annotated[Principal, Depends(require(access.READ))]


def start_notify_worker(app: FastAPI) -> None:
    settings = app.state.settings
    if not settings.notify.notify_sender:
        return
    worker = NotifyWorker(app.state.database.engine, settings.notify, link=queue_link(settings))
    app.state.notify_worker = worker
    worker.start()


def stop_notify_worker(app: FastAPI) -> None:
    worker: NotifyWorker | None = getattr(app.state, "notify_worker", None)
    if worker is not None:
        worker.stop()


class SubscriptionIn(BaseModel):
    target: str = Field(
        max_length=2000,
        description="An Apprise URL (mailto://, tgram://, ...) or an e-mail address sent through "
        "the office's SMTP server. A secret: never shown again, only masked.",
    )
    owner_kind: Literal["user", "office"] = "user"
    owner: str | None = Field(
        default=None, max_length=100, description="A user's or an office's name; default: you."
    )
    role: str | None = Field(
        default=None, max_length=16, description="An office's view (default viewer)."
    )
    label: str | None = Field(default=None, max_length=200)
    lang: Literal["id", "en"] = "id"
    min_severity: int | None = Field(
        default=4,
        description="Immediate messages for new episodes of at least this severity; null: none.",
    )
    digest: bool = True
    kecamatan: list[str] | None = Field(
        default=None, max_length=50, description="Kemendagri codes; null: the whole regency."
    )


@router.get("/subscriptions", summary="Notification subscriptions (channels masked)")
def list_subscriptions(
    session: SessionDep,
    principal: Member,
    owner_kind: Literal["user", "office"] | None = None,
    owner: Annotated[str | None, Query(max_length=100)] = None,
) -> JSON:
    found = subscriptions.list_subscriptions(
        session=session, principal=principal, owner_kind=owner_kind, owner=owner
    )
    return JSON({"subscriptions": found})


@router.post("/subscriptions", status_code=201, summary="Add a notification subscription")
def add_subscription(
    body: SubscriptionIn,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Member,
) -> JSON:
    created = subscriptions.add_subscription(
        session=session,
        principal=principal,
        new=subscriptions.NewSubscription(
            target=body.target,
            owner_kind=body.owner_kind,
            owner=body.owner,
            role=body.role,
            label=body.label,
            lang=body.lang,
            min_severity=body.min_severity,
            digest=body.digest,
            kecamatan_codes=body.kecamatan,
        ),
        settings=settings.notify,
        client=client_address(request),
    )
    return JSON(created, status_code=201)


@router.delete("/subscriptions/{subscription_id}", status_code=204, summary="Remove a subscription")
def remove_subscription(
    subscription_id: int, request: Request, session: SessionDep, principal: Member
) -> None:
    subscriptions.remove_subscription(
        session=session,
        principal=principal,
        subscription_id=subscription_id,
        client=client_address(request),
    )


@router.post(
    "/subscriptions/{subscription_id}/test",
    summary="Send a test message now; says whether the channel accepted it",
)
async def test_subscription(
    subscription_id: int,
    session: SessionDep,
    settings: SettingsDep,
    principal: Member,
) -> JSON:
    found = await run_in_threadpool(
        subscriptions.get_subscription,
        session=session,
        principal=principal,
        subscription_id=subscription_id,
    )
    error = await run_in_threadpool(
        send_test, session, subscription_id=subscription_id, settings=settings.notify
    )
    return JSON(
        {"id": found["id"], "target": found["target"], "delivered": error is None, "error": error}
    )
