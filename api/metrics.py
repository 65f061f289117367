"""``/metrics`` in Prometheus text format, and the middleware that times every request.

Request latency is measured in-process; the domain counters (alerts raised, rows imported)
come from ``geo.metrics``, read at scrape time.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.exc import DBAPIError
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import require
from geo import access
from geo.db import Database
from geo.logs import request_id
from geo.metrics import DomainCounts, domain_counts

log = logging.getLogger("timpora.access")


class DomainCollector(Collector):
    def __init__(self, database: Database) -> None:
        self.database = database

    def collect(self) -> Iterator[Any]:
        alerts = CounterMetricFamily(
            "timpora_alerts_raised", "Alerts raised, by rule", labels=["rule"]
        )
        imported = CounterMetricFamily(
            "timpora_import_rows", "Rows imported, by layer", labels=["layer"]
        )
        open_alerts = GaugeMetricFamily(
            "timpora_alerts_open", "Alerts not yet resolved, by status", labels=["status"]
        )
        notifications = GaugeMetricFamily(
            "timpora_notifications_undelivered",
            "Notification messages pending (retrying) or failed, by status",
            labels=["status"],
        )
        up = GaugeMetricFamily("timpora_database_up", "1 when the database answered the scrape")
        try:
            with self.database.engine.connect() as conn:
                counts = domain_counts(connection=conn)
            up.add_metric([], 1)
        except DBAPIError:
            counts = DomainCounts()
            up.add_metric([], 0)
        for rule, n in counts.alerts_by_rule.items():
            alerts.add_metric([rule], float(n))
        for layer, n in counts.imported_rows_by_layer.items():
            imported.add_metric([layer], float(n))
        for status, n in counts.open_alerts_by_status.items():
            open_alerts.add_metric([status], float(n))
        for status, n in counts.notifications_by_status.items():
            notifications.add_metric([status], float(n))
        yield from (alerts, imported, open_alerts, notifications, up)


class MetricsMiddleware:
    """Times requests and writes one access log line carrying the request id.

    The id itself comes from ``api.middleware.RequestIdMiddleware`` (outermost); this puts it in
    the logging context so every log line of the request carries it.
    """

    def __init__(self, app: ASGIApp, registry: CollectorRegistry) -> None:
        self.app = app
        self.latency = Histogram(
            "timpora_http_request_duration_seconds",
            "HTTP request latency by route template",
            labelnames=["method", "route", "status"],
            registry=registry,
            buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = scope.get("state", {}).get("request_id") or uuid.uuid4().hex
        token = request_id.set(rid)
        status = 500
        start = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.latency.labels(scope["method"], template, str(status)).observe(elapsed)
            client = scope.get("client")
            log.info(
                "%s %s %s %.1f ms",
                scope["method"],
                template,
                status,
                elapsed * 1000,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "client": client[0] if client else None,
                },
            )
            request_id.reset(token)


router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    summary="Prometheus metrics (admin token)",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
def metrics(request: Request, _: Any = Depends(require(access.READ_AUDIT))) -> Response:
    registry: CollectorRegistry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def install_metrics(app: FastAPI, database: Database) -> None:
    registry = CollectorRegistry(auto_describe=True)
    registry.register(DomainCollector(database))
    app.state.metrics_registry = registry
    app.add_middleware(MetricsMiddleware, registry=registry)
    app.include_router(router)
