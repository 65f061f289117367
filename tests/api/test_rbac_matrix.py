"""The RBAC matrix: every route × the five roles and the two faces → the status the written policy expects.

Written out here, independently of ``geo/access.py`` (docs/privacy.md, "What each role sees"):
the permission each route needs and the permissions of each role. A route whose declared
permission differs from this table fails, and so does any role whose call does not get the
expected answer (403 without the permission; past authorisation, never 401/403/5xx, with it).
``tests/api/test_access.py`` checks that every route declares one at all.
"""

from __future__ import annotations

from typing import Final

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from geo import access
from tests.api.helpers import FACE_USERS, ROLES, auth, make_tokens
from tests.api.test_access import concrete, route_table

READ, PERSONAL, WRITE, DELETE = "read", "read:personal", "write", "delete"
# Incidents and workplaces: also writers without personal data (docs/privacy.md).
RECORDS = "write:records"
ACK, RULES, PLAN, USERS, AUDIT = (
    "alerts:ack",
    "alerts:rules",
    "patrols:plan",
    "users:manage",
    "audit:read",
)
# Follow-up actions: manage (meetings, create/edit any action); update (status and notes;
# planners only their own agency's, checked by the service, see tests/api/test_actions_api.py).
ACTIONS, UPDATE_ACTIONS = "actions:manage", "actions:update"

ROLE_MAY: Final[dict[str, frozenset[str]]] = {
    "admin": frozenset(
        {
            READ,
            PERSONAL,
            WRITE,
            RECORDS,
            DELETE,
            ACK,
            RULES,
            PLAN,
            USERS,
            AUDIT,
            ACTIONS,
            UPDATE_ACTIONS,
        }
    ),
    "analyst": frozenset(
        {READ, PERSONAL, WRITE, RECORDS, ACK, RULES, PLAN, ACTIONS, UPDATE_ACTIONS}
    ),
    "coordinator": frozenset({READ, PERSONAL, ACK, ACTIONS, UPDATE_ACTIONS}),
    "planner": frozenset({READ, PLAN, UPDATE_ACTIONS}),
    "viewer": frozenset({READ}),
    # The faces of an agency without personal data: its administrators and analysts, its
    # coordinators. Both act on alerts (those not about a person, checked by the service).
    "recorder": frozenset({READ, RECORDS, PLAN, UPDATE_ACTIONS, ACK}),
    "liaison": frozenset({READ, ACK, UPDATE_ACTIONS}),
}

ROUTES: Final[dict[tuple[str, str], str]] = {
    ("GET", "/metrics"): AUDIT,
    ("GET", "/api/v1/alerts"): PERSONAL,
    ("GET", "/api/v1/alerts/stream"): PERSONAL,
    ("GET", "/api/v1/alerts/{alert_id:int}"): PERSONAL,
    ("POST", "/api/v1/alerts/{alert_id}/ack"): ACK,
    ("POST", "/api/v1/alerts/{alert_id}/resolve"): ACK,
    ("GET", "/api/v1/alerts/queue"): READ,
    ("POST", "/api/v1/alerts/actions"): ACK,
    ("POST", "/api/v1/alerts/{alert_id}/assign"): ACK,
    ("POST", "/api/v1/alerts/{alert_id}/unassign"): ACK,
    ("POST", "/api/v1/alerts/{alert_id}/notes"): ACK,
    ("POST", "/api/v1/alerts/{alert_id}/reopen"): ACK,
    ("GET", "/api/v1/alert-rules"): RULES,
    ("PATCH", "/api/v1/alert-rules/{kind}"): RULES,
    ("GET", "/api/v1/webhooks"): RULES,
    ("POST", "/api/v1/webhooks"): RULES,
    ("DELETE", "/api/v1/webhooks/{webhook_id}"): RULES,
    # Everyone manages their own notification subscriptions (others': users:manage, checked
    # by the service, see tests/api/test_notifications_api.py).
    ("GET", "/api/v1/notifications/subscriptions"): READ,
    ("POST", "/api/v1/notifications/subscriptions"): READ,
    ("DELETE", "/api/v1/notifications/subscriptions/{subscription_id}"): READ,
    ("POST", "/api/v1/notifications/subscriptions/{subscription_id}/test"): READ,
    ("GET", "/api/v1/hotspots"): READ,
    ("POST", "/api/v1/patrols/plan"): PLAN,
    ("POST", "/api/v1/patrols/log"): PLAN,
    ("GET", "/api/v1/patrols/log"): READ,
    ("GET", "/api/v1/patrols/log/{patrol_id}"): READ,
    ("POST", "/api/v1/workplaces/import"): WRITE,
    ("GET", "/api/v1/workplaces/export"): READ,
    ("POST", "/api/v1/foreigners/import"): WRITE,
    ("GET", "/api/v1/foreigners/export"): PERSONAL,
    ("POST", "/api/v1/incidents/import"): WRITE,
    ("GET", "/api/v1/incidents/export"): READ,
    ("POST", "/api/v1/sightings/import"): WRITE,
    ("GET", "/api/v1/sightings/export"): PERSONAL,
    ("GET", "/api/v1/foreigners"): PERSONAL,
    ("GET", "/api/v1/foreigners/{record_id:recid}"): PERSONAL,
    ("POST", "/api/v1/foreigners"): WRITE,
    ("PATCH", "/api/v1/foreigners/{record_id:recid}"): WRITE,
    ("DELETE", "/api/v1/foreigners/{record_id:recid}"): DELETE,
    ("GET", "/api/v1/workplaces"): READ,
    ("GET", "/api/v1/workplaces/{record_id:recid}"): READ,
    ("POST", "/api/v1/workplaces"): RECORDS,
    ("PATCH", "/api/v1/workplaces/{record_id:recid}"): RECORDS,
    ("DELETE", "/api/v1/workplaces/{record_id:recid}"): DELETE,
    ("GET", "/api/v1/incidents"): READ,
    ("GET", "/api/v1/incidents/{record_id:recid}"): READ,
    ("POST", "/api/v1/incidents"): RECORDS,
    ("PATCH", "/api/v1/incidents/{record_id:recid}"): RECORDS,
    ("DELETE", "/api/v1/incidents/{record_id:recid}"): DELETE,
    ("GET", "/api/v1/sightings"): PERSONAL,
    ("GET", "/api/v1/sightings/{record_id:recid}"): PERSONAL,
    ("POST", "/api/v1/sightings"): WRITE,
    ("PATCH", "/api/v1/sightings/{record_id:recid}"): WRITE,
    ("DELETE", "/api/v1/sightings/{record_id:recid}"): DELETE,
    ("GET", "/api/v1/zones"): READ,
    ("GET", "/api/v1/zones/{record_id:recid}"): READ,
    ("POST", "/api/v1/zones"): WRITE,
    ("PATCH", "/api/v1/zones/{record_id:recid}"): WRITE,
    ("DELETE", "/api/v1/zones/{record_id:recid}"): DELETE,
    ("GET", "/api/v1/proximity"): READ,
    ("GET", "/api/v1/workplaces/risk"): READ,
    ("GET", "/api/v1/workplaces/risk/weights"): READ,
    ("PUT", "/api/v1/workplaces/risk/weights/{factor}"): RULES,
    ("GET", "/api/v1/agencies"): READ,
    ("POST", "/api/v1/agencies"): USERS,
    ("PATCH", "/api/v1/agencies/{short_name}"): USERS,
    ("PATCH", "/api/v1/users/{name}"): USERS,
    ("POST", "/api/v1/inspections/plans"): PLAN,
    ("GET", "/api/v1/inspections/plans"): READ,
    ("GET", "/api/v1/inspections/plans/{plan_id:int}"): READ,
    ("GET", "/api/v1/inspections/plans/{plan_id:int}.pdf"): READ,
    # Everyone reads inspections (roles without personal data as counts); writers record them.
    ("GET", "/api/v1/inspections"): READ,
    ("POST", "/api/v1/inspections"): WRITE,
    ("GET", "/api/v1/inspections/{inspection_id:int}"): READ,
    ("POST", "/api/v1/inspections/{inspection_id:int}/void"): WRITE,
    ("GET", "/api/v1/audit"): AUDIT,
    ("GET", "/api/v1/users"): USERS,
    ("POST", "/api/v1/users"): USERS,
    ("POST", "/api/v1/users/{name}/rotate"): USERS,
    ("POST", "/api/v1/users/{name}/revoke"): USERS,
    ("GET", "/ogc"): READ,
    ("GET", "/ogc/conformance"): READ,
    ("GET", "/ogc/collections"): READ,
    ("GET", "/ogc/collections/{collection_id}"): READ,
    ("GET", "/ogc/collections/{collection_id}/items"): READ,
    ("GET", "/ogc/collections/{collection_id}/items/{feature_id}"): READ,
    ("GET", "/ogc/api"): READ,
    ("GET", "/ogc/collections/{collection_id}/queryables"): READ,
    ("GET", "/ogc/tileMatrixSets"): READ,
    ("GET", "/ogc/tileMatrixSets/{tileMatrixSetId}"): READ,
    ("GET", "/ogc/collections/{collection_id}/tiles"): READ,
    ("GET", "/ogc/collections/{collection_id}/tiles/{tileMatrixSetId}"): READ,
    ("GET", "/ogc/collections/{collection_id}/tiles/{tileMatrixSetId}/tilejson.json"): READ,
    (
        "GET",
        "/ogc/collections/{collection_id}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}",
    ): READ,
    ("GET", "/tiles/{layer}/{z}/{x}/{y}.mvt"): READ,
    ("GET", "/maps/snapshot.{fmt}"): READ,
    ("GET", "/maps/briefing.pdf"): READ,
    ("GET", "/maps/{view}"): READ,
    ("GET", "/dashboard/meta"): READ,
    ("GET", "/api/v1/field/devices"): USERS,
    ("POST", "/api/v1/field/devices"): USERS,
    ("PATCH", "/api/v1/field/devices/{name}"): USERS,
    ("POST", "/api/v1/field/devices/{name}/{action}"): USERS,
    ("GET", "/api/v1/field/refusals"): USERS,
    # A photo from the field form may show a person.
    ("GET", "/api/v1/field/photos/{photo_id}"): PERSONAL,
    ("GET", "/api/v1/imports/{job_id}"): WRITE,
    ("GET", "/api/v1/patrols/positions"): PLAN,
    ("GET", "/api/v1/patrols/positions/stream"): PLAN,
    ("GET", "/api/v1/patrols/replay"): PLAN,
    ("GET", "/api/v1/patrols/tracks"): PLAN,
    ("GET", "/api/v1/actions"): READ,
    ("POST", "/api/v1/actions"): ACTIONS,
    ("GET", "/api/v1/actions/{action_id}"): READ,
    ("PATCH", "/api/v1/actions/{action_id}"): ACTIONS,
    ("POST", "/api/v1/actions/{action_id}/status"): UPDATE_ACTIONS,
    ("POST", "/api/v1/actions/{action_id}/notes"): UPDATE_ACTIONS,
    ("GET", "/api/v1/meetings"): READ,
    ("POST", "/api/v1/meetings"): ACTIONS,
    ("GET", "/api/v1/meetings/{meeting_id}"): READ,
    ("GET", "/api/v1/agencies/contributions"): READ,
}


def test_roles_have_the_written_permissions() -> None:
    assert access.ROLE_PERMISSIONS == ROLE_MAY
    assert set(ROLE_MAY) == {*ROLES, *FACE_USERS}
    for face, (role, agency) in FACE_USERS.items():
        assert access.role_in_agency(role, agency_personal_data=False) == face, agency


def test_every_route_needs_the_written_permission(app: FastAPI) -> None:
    declared = {(m, p): perm for m, p, perm, _ in route_table(app) if perm is not None}
    assert declared == ROUTES


def test_every_route_answers_every_role_as_written(
    app: FastAPI, client: TestClient, session: Session
) -> None:
    tokens = make_tokens(session, prefix="rbac", faces=True)
    failures = []
    for (method, path), permission in ROUTES.items():
        url = concrete(path)
        body = {} if method in ("POST", "PATCH", "PUT") else None
        for role in ROLE_MAY:
            allowed = permission in ROLE_MAY[role]
            if path.endswith("/stream") and allowed:
                continue  # an open stream never ends; its denial is checked
            code = client.request(method, url, json=body, headers=auth(tokens[role])).status_code
            if not allowed and code != 403:
                failures.append(f"{role} {method} {path}: expected 403, got {code}")
            if allowed and (code in (401, 403) or code >= 500):
                failures.append(f"{role} {method} {path}: expected past authorisation, got {code}")
    assert not failures, "\n".join(failures)
