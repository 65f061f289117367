"""Who may do what (docs/privacy.md): one table, read by every API route and by the CLI.

Permissions are coarse verbs. A route declares the one it needs; a role either has it or not.
"""

from __future__ import annotations

from typing import Final

from geo.errors import PermissionDeniedError

PERSONAL_DATA: Final = "read:personal"  # names, passport/permit numbers, birth dates
READ: Final = "read"  # maps, aggregates, non-personal records
WRITE: Final = "write"  # create/update any registry record (persons too), imports, inspections
# Create/update the registry records that are no person and that a writer without personal
# data may make (``WRITE_WITHOUT_PERSONAL_DATA``), one by one through the API.
WRITE_RECORDS: Final = "write:records"
DELETE: Final = "delete"  # delete records (admin only, audited)
ACK_ALERTS: Final = "alerts:ack"
EDIT_RULES: Final = "alerts:rules"
PLAN_PATROLS: Final = "patrols:plan"
MANAGE_USERS: Final = "users:manage"
READ_AUDIT: Final = "audit:read"
# Follow-up actions and coordination meetings (docs/agencies.md): record meetings, create and
# edit any action; and change the status of, or add a note to, an action (planners: only their
# own agency's, checked by ``geo.followup.actions``).
MANAGE_ACTIONS: Final = "actions:manage"
UPDATE_ACTIONS: Final = "actions:update"

ROLE_PERMISSIONS: Final[dict[str, frozenset[str]]] = {
    "admin": frozenset(
        {
            PERSONAL_DATA,
            READ,
            WRITE,
            WRITE_RECORDS,
            DELETE,
            ACK_ALERTS,
            EDIT_RULES,
            PLAN_PATROLS,
            MANAGE_USERS,
            READ_AUDIT,
            MANAGE_ACTIONS,
            UPDATE_ACTIONS,
        }
    ),
    "analyst": frozenset(
        {
            PERSONAL_DATA,
            READ,
            WRITE,
            WRITE_RECORDS,
            ACK_ALERTS,
            EDIT_RULES,
            PLAN_PATROLS,
            MANAGE_ACTIONS,
            UPDATE_ACTIONS,
        }
    ),
    "coordinator": frozenset({PERSONAL_DATA, READ, ACK_ALERTS, MANAGE_ACTIONS, UPDATE_ACTIONS}),
    "planner": frozenset({READ, PLAN_PATROLS, UPDATE_ACTIONS}),
    "viewer": frozenset({READ}),
    # Faces, never stored roles: what users of an agency without personal data act with
    # (``WITHOUT_PERSONAL_DATA``). ``recorder`` (administrators, analysts): a planner who also
    # records incidents and workplaces; ``liaison`` (coordinators): a viewer. Both triage the
    # alerts they may see, those not about a person (``geo.alerts.triage``; the database role
    # they work under neither reads nor changes the others).
    "recorder": frozenset({READ, WRITE_RECORDS, PLAN_PATROLS, UPDATE_ACTIONS, ACK_ALERTS}),
    "liaison": frozenset({READ, ACK_ALERTS, UPDATE_ACTIONS}),
}

PERMISSIONS: Final = frozenset().union(*ROLE_PERMISSIONS.values())

# Users of an agency whose function does not need the foreigners' personal data
# (``agency.personal_data`` false; only the immigration office has it by default) work with the
# aggregate face of their role (docs/privacy.md, "Member agencies"): what they may do without
# personal data, under the database role that cannot read it. Administrators and analysts keep
# recording what is no person (``recorder``); coordinators read as viewers do (``liaison``); both
# triage the alerts that are not about a person.
WITHOUT_PERSONAL_DATA: Final[dict[str, str]] = {
    "admin": "recorder",
    "analyst": "recorder",
    "coordinator": "liaison",
    "planner": "planner",
    "viewer": "viewer",
}
# Roles only ever acted with, never given to a user (``geo.models.ROLES`` are the stored ones).
FACES: Final = frozenset({"recorder", "liaison"})


def role_in_agency(role: str, agency_personal_data: bool) -> str:
    """The role a user of ``role`` acts with in an agency with or without personal data."""
    return role if agency_personal_data else WITHOUT_PERSONAL_DATA.get(role, "viewer")


def allowed(role: str, permission: str) -> bool:
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")
    return permission in ROLE_PERMISSIONS.get(role, frozenset())


def sees_personal_data(role: str) -> bool:
    return allowed(role, PERSONAL_DATA)


# Who acts with each face, for the refusal's message.
FACE_OF: Final[dict[str, str]] = {
    "recorder": "an administrator or analyst",
    "liaison": "a coordinator",
}

# What a permission covers, for the refusal's message.
COVERS: Final[dict[str, str]] = {
    WRITE: "persons (foreigners, sightings), zones, imports and inspections",
    WRITE_RECORDS: "incidents and workplaces",
    PERSONAL_DATA: "persons and personal fields",
}


def check(role: str, permission: str) -> None:
    if not allowed(role, permission):
        covers = f": {COVERS[permission]}" if permission in COVERS else ""
        why = (
            f"; {role!r} is what {FACE_OF[role]} of an agency without personal data acts as "
            "(docs/privacy.md, 'Member agencies')"
            if role in FACES
            else ""
        )
        raise PermissionDeniedError(f"role {role!r} may not do this ({permission}{covers}){why}")


# Aggregates of persons below this count are shown as "<3" to roles without personal data.
MIN_PERSON_COUNT: Final = 3


def suppress_count(count: int, role: str) -> int | str:
    """A person count as shown to ``role``: small counts hidden from non-personal roles."""
    if sees_personal_data(role) or count == 0 or count >= MIN_PERSON_COUNT:
        return count
    return f"<{MIN_PERSON_COUNT}"


# The written policy (docs/privacy.md): what roles without PERSONAL_DATA never receive, in any
# face (API, exports, OGC, tiles, maps, snapshots, briefing packs, stream, webhooks, errors).
#
# Records that are a person or a person's trace. Roles without personal data get none of them,
# only counts per cell, desa or kecamatan (counts below MIN_PERSON_COUNT suppressed).
PERSON_RECORDS: Final = frozenset({"foreigner", "sighting"})

# Fields of the other records that are personal: free text, links to persons, references, and
# per-workplace worker counts (shown only as a suppressed count, see ``suppress_count``).
PERSONAL_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "foreigner": (
        "full_name",
        "nationality",
        "sex",
        "birth_date",
        "passport_number",
        "permit_type",
        "permit_number",
        "permit_expires_on",
        "sponsor_workplace_id",
        "status",
        "external_ref",
        "geometry",
    ),
    "sighting": (
        "observed_at",
        "foreigner_id",
        "foreigner_name",
        "source",
        "reported_by",
        "note",
        "external_ref",
        "geometry",
    ),
    "incident": ("description", "foreigner_ids", "external_ref"),
    "workplace": ("foreign_workers",),
    "alert": (
        "foreigner_id",
        "sighting_id",
        "subjects",
        "subject_names",
        "details",
        "ack_note",
        "resolve_note",
        "assigned_to",
        "assigned_at",
        "notes",
        "subject_places",
    ),
    # Roles without personal data read an action's title, agency, due day and status (with
    # when and why it closed: codes), nothing written about it.
    "action": (
        "created_by",
        "created_at",
        "updated_at",
        "links",
        "notes",
        "note_count",
    ),
    "meeting": ("notes", "created_by", "created_at"),
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
    # The triage history: free text and who wrote it (faces without personal data add rows).
    "alert_note": ("author", "body"),
    "idempotency_key": ("response",),
    "app_user": ("token_hash",),
    "webhook": ("url", "secret"),
    "alert_outbox": ("last_error",),
    # A channel is a secret (a bot token, a mail password); a message may name persons.
    "notify_subscription": ("target",),
    "notify_outbox": ("title", "body", "last_error"),
    "field_device": ("identifier", "token_hash"),
    "field_photo": ("image",),
    # Free text of meetings and of actions' notes; what an action is about (links).
    "coordination_meeting": ("notes", "created_by"),
    "follow_up_action": ("created_by",),
    "follow_up_note": ("author", "body"),
    "follow_up_link": ("action_id", "kind", "target"),
    # A saved inspection plan's exact factor values and the persons behind them.
    "inspection_plan_stop": ("reasons",),
    # Free text, the recorder, and the person each finding is about (docs/inspections.md).
    "inspection": ("summary", "external_ref", "created_by", "voided_by", "void_reason"),
    "inspection_finding": ("foreigner_id", "note"),
}


def read_permission(record: str) -> str:
    """The permission to read records of ``record`` one by one (lists, items, exports)."""
    return PERSONAL_DATA if record in PERSON_RECORDS else READ


# Records a writer without personal data may create and update: they are no person, and their
# rows carry nothing a writer must read first. An incident records what happened where, and the
# agency that reported it; a workplace is a company site (the manpower office keeps them).
# Zones are not: they are the whole team's settings that decide the alerts about persons.
WRITE_WITHOUT_PERSONAL_DATA: Final = frozenset({"incident", "workplace"})

# Personal fields such a writer may not set (422): links to persons and references, whose
# checks (the person exists; the reference is not taken) would answer about records it may
# not read. The other personal fields (an incident's description) are written, never read back.
NOT_WRITTEN_WITHOUT_PERSONAL_DATA: Final[dict[str, tuple[str, ...]]] = {
    "incident": ("foreigner_ids", "external_ref"),
}


def write_permission(record: str) -> str:
    """The permission to create and update records of ``record`` one by one."""
    return WRITE_RECORDS if record in WRITE_WITHOUT_PERSONAL_DATA else WRITE


def strip_personal(layer: str, properties: dict[str, object], role: str) -> dict[str, object]:
    """``properties`` without the personal fields of ``layer`` unless ``role`` may see them;
    a per-workplace worker count stays, suppressed below MIN_PERSON_COUNT."""
    if sees_personal_data(role):
        return properties
    hidden = set(PERSONAL_FIELDS.get(layer, ()))
    kept = {k: v for k, v in properties.items() if k not in hidden}
    workers = properties.get("foreign_workers")
    if layer == "workplace" and isinstance(workers, int):
        kept["foreign_workers"] = suppress_count(workers, role)
    elif layer == "workplace" and workers == f"<{MIN_PERSON_COUNT}":
        kept["foreign_workers"] = workers  # suppressed already (the workplace_workers view)
    return kept
