"""Who may do what (docs/privacy.md): one table, read by every API route and by the CLI.

Permissions are coarse verbs. A route declares the one it needs; a role either has it or not.
"""

from __future__ import annotations

from typing import Final

from geo.errors import PermissionDeniedError

PERSONAL_DATA: Final = "read:personal"  # names, passport/permit numbers, birth dates
READ: Final = "read"  # maps, aggregates, non-personal records
WRITE: Final = "write"  # create/update registry records, imports
DELETE: Final = "delete"  # delete records (admin only, audited)
ACK_ALERTS: Final = "alerts:ack"
EDIT_RULES: Final = "alerts:rules"
PLAN_PATROLS: Final = "patrols:plan"
MANAGE_USERS: Final = "users:manage"
READ_AUDIT: Final = "audit:read"

ROLE_PERMISSIONS: Final[dict[str, frozenset[str]]] = {
    "admin": frozenset(
        {
            PERSONAL_DATA,
            READ,
            WRITE,
            DELETE,
            ACK_ALERTS,
            EDIT_RULES,
            PLAN_PATROLS,
            MANAGE_USERS,
            READ_AUDIT,
        }
    ),
    "analyst": frozenset({PERSONAL_DATA, READ, WRITE, ACK_ALERTS, EDIT_RULES, PLAN_PATROLS}),
    "coordinator": frozenset({PERSONAL_DATA, READ, ACK_ALERTS}),
    "planner": frozenset({READ, PLAN_PATROLS}),
    "viewer": frozenset({READ}),
}

PERMISSIONS: Final = frozenset().union(*ROLE_PERMISSIONS.values())


def allowed(role: str, permission: str) -> bool:
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")
    return permission in ROLE_PERMISSIONS.get(role, frozenset())


def sees_personal_data(role: str) -> bool:
    return allowed(role, PERSONAL_DATA)


def check(role: str, permission: str) -> None:
    if not allowed(role, permission):
        raise PermissionDeniedError(f"role {role!r} may not do this ({permission})")


# Aggregates of persons below this count are shown as "<3" to roles without personal data.
MIN_PERSON_COUNT: Final = 3


def suppress_count(count: int, role: str) -> int | str:
    """A person count as shown to ``role``: small counts hidden from non-personal roles."""
    if sees_personal_data(role) or count == 0 or count >= MIN_PERSON_COUNT:
        return count
    return f"<{MIN_PERSON_COUNT}"


# Fields that identify a person; absent from every response, export and map for roles
# without PERSONAL_DATA (docs/privacy.md).
PERSONAL_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "foreigner": ("full_name", "passport_number", "permit_number", "birth_date"),
    "sighting": ("foreigner_name",),
    "alert": ("subject_names",),
}


# The same policy in the database: columns the aggregate role (planners, viewers) may not read.
# The grants of the migrations are checked against this table by the test suite.
PERSONAL_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "foreigner": (
        "id",
        "full_name",
        "nationality",
        "sex",
        "birth_date",
        "passport_number",
        "permit_number",
        "permit_expires_on",
        "sponsor_workplace_id",
        "external_ref",
        "geom",
        "geom_utm",
        "distance_to_border_m",
    ),
    "sighting": ("foreigner_id", "reported_by", "note", "external_ref"),
    "incident": ("description", "external_ref"),
    "incident_foreigner": ("incident_id", "foreigner_id"),
    "alert": ("details", "ack_note", "resolve_note"),
    "idempotency_key": ("response",),
    "app_user": ("token_hash",),
    "webhook": ("url", "secret"),
    "alert_outbox": ("last_error",),
}


def strip_personal(layer: str, properties: dict[str, object], role: str) -> dict[str, object]:
    """``properties`` without the personal fields of ``layer`` unless ``role`` may see them."""
    if sees_personal_data(role):
        return properties
    hidden = PERSONAL_FIELDS.get(layer, ())
    return {k: v for k, v in properties.items() if k not in hidden}
