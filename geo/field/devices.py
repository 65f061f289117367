"""Patrol teams and their devices: registered by an administrator, revoked but never deleted.

A ``traccar`` device is known by the identifier its Traccar Client app sends; a ``form`` device
signs in to the field form with a token shown once (only its SHA-256 is stored, as for users).
A device belongs to the agency of the administrator who registers it (the immigration office,
which chairs the team, when registered from the command line): what it reports records that
agency and obeys the sharing between agencies like a user's request (docs/privacy.md). An
administrator moves a device to another agency (:func:`move_device`, audited): its next report
records the new one; what it reported before keeps the agency it was made for.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from geo import audit
from geo.agencies import chair_agency, get_agency
from geo.errors import ConflictError, NotFoundError, ValidationError
from geo.field.osmand import IDENTIFIER_MAX
from geo.users import Principal, hash_token, new_token

DEVICE_KINDS: Final = ("traccar", "form")


@dataclass(frozen=True)
class Device:
    id: int
    name: str
    kind: str
    team_id: int
    team: str
    identifier: str | None
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    last_seen_at: dt.datetime | None
    agency_id: int
    agency: str

    @property
    def active(self) -> bool:
        return self.revoked_at is None


DEVICE_COLUMNS = """
    d.id, d.name, d.kind, d.team_id, t.name, d.identifier, d.created_at, d.revoked_at,
    d.last_seen_at, d.agency_id, a.short_name
"""
DEVICE_FROM = (
    "field_device d JOIN patrol_team t ON t.id = d.team_id JOIN agency a ON a.id = d.agency_id"
)

LIST_SQL = text(f"SELECT {DEVICE_COLUMNS} FROM {DEVICE_FROM} ORDER BY t.name, d.name")
BY_NAME_SQL = text(f"SELECT {DEVICE_COLUMNS} FROM {DEVICE_FROM} WHERE d.name = :name")
BY_TOKEN_SQL = text(
    f"SELECT {DEVICE_COLUMNS} FROM {DEVICE_FROM} "
    "WHERE d.token_hash = :hash AND d.kind = 'form' AND d.revoked_at IS NULL"
)
ENSURE_TEAM_SQL = text(
    """
    WITH made AS (
        INSERT INTO patrol_team (name) VALUES (:name) ON CONFLICT (name) DO NOTHING RETURNING id
    )
    SELECT id FROM made UNION ALL SELECT id FROM patrol_team WHERE name = :name
    """
)
INSERT_SQL = text(
    """
    INSERT INTO field_device (team_id, name, kind, identifier, token_hash, created_by, agency_id)
    VALUES (:team_id, :name, :kind, :identifier, :token_hash, :created_by, :agency_id)
    """
)


def _device(row: tuple[object, ...]) -> Device:
    return Device(*row)  # type: ignore[arg-type]


def _name(value: str, field: str) -> str:
    name = (value or "").strip()
    if not name or len(name) > 100 or not name.isprintable():
        raise ValidationError(
            f"{field} must be 1 to 100 printable characters", field=field, value=value
        )
    return name


def ensure_team(*, session: Session, name: str) -> int:
    """The id of the team called ``name``, made if new."""
    return int(session.execute(ENSURE_TEAM_SQL, {"name": _name(name, "team")}).scalar_one())


def register_device(
    *,
    session: Session,
    name: str,
    team: str,
    kind: str,
    identifier: str | None = None,
    created_by: str | None = None,
    agency_id: int | None = None,
) -> tuple[Device, str | None]:
    """Register a device of ``agency_id`` (None: the immigration office, which chairs the team);
    returns it and, for a ``form`` device, its token (shown once)."""
    if kind not in DEVICE_KINDS:
        raise ValidationError(
            f"kind must be one of {', '.join(DEVICE_KINDS)}; got {kind!r}", field="kind", value=kind
        )
    name = _name(name, "name")
    token: str | None = None
    token_hash: str | None = None
    if kind == "traccar":
        identifier = (identifier or "").strip()
        if not identifier or len(identifier) > IDENTIFIER_MAX or not identifier.isprintable():
            raise ValidationError(
                "a traccar device needs the identifier its app sends (Traccar Client: "
                f"'Device identifier'), 1 to {IDENTIFIER_MAX} characters",
                field="identifier",
                value=identifier,
            )
    else:
        identifier = None
        token = new_token()
        token_hash = hash_token(token)
    if agency_id is None:
        agency_id = chair_agency(session=session).id
    team_id = ensure_team(session=session, name=team)
    try:
        with session.begin_nested():
            session.execute(
                INSERT_SQL,
                {
                    "team_id": team_id,
                    "name": name,
                    "kind": kind,
                    "identifier": identifier,
                    "token_hash": token_hash,
                    "created_by": created_by,
                    "agency_id": agency_id,
                },
            )
    except IntegrityError:
        raise ConflictError(
            f"a device named {name!r} or with identifier {identifier!r} already exists"
        ) from None
    return get_device(session=session, name=name), token


def get_device(*, session: Session, name: str) -> Device:
    row = session.execute(BY_NAME_SQL, {"name": name}).one_or_none()
    if row is None:
        raise NotFoundError(f"no device named {name!r}")
    return _device(tuple(row))


def list_devices(*, session: Session) -> list[Device]:
    return [_device(tuple(row)) for row in session.execute(LIST_SQL)]


def revoke_device(*, session: Session, name: str) -> Device:
    """Refuse the device's positions and token from now on (its history stays)."""
    device = get_device(session=session, name=name)
    session.execute(
        text("UPDATE field_device SET revoked_at = coalesce(revoked_at, now()) WHERE id = :id"),
        {"id": device.id},
    )
    return get_device(session=session, name=name)


def audit_device(
    *,
    session: Session,
    principal: Principal,
    action: str,
    device: Device,
    client: str | None = None,
) -> None:
    """The audit row of registering (``create``), revoking or rotating ``device``: one shape for
    the API and the command line (``move_device`` writes its own, with the agencies)."""
    created = action == "create"
    audit.record(
        session=session,
        principal=principal,
        action=action,
        resource=f"field/devices/{device.id if created else device.name}"[:200],
        record_count=1 if created else 0,
        client=client,
        details={"kind": device.kind} if created else None,
    )


def move_device(
    *, session: Session, name: str, agency: str, principal: Principal, client: str | None = None
) -> tuple[Device, str, str]:
    """Move device ``name`` to the active agency ``agency`` (short name); returns it, the old
    and the new agency's short name. Audited (``update``, ``{"agency": [old, new]}``) when it
    changes; the device's next report records the new agency."""
    device = get_device(session=session, name=name)
    new = get_agency(session=session, short_name=agency)
    if not new.active:
        raise ValidationError(
            f"agency {new.short_name!r} is inactive; it takes no devices",
            field="agency",
            value=agency,
        )
    if new.id != device.agency_id:
        session.execute(
            text("UPDATE field_device SET agency_id = :agency WHERE id = :id"),
            {"agency": new.id, "id": device.id},
        )
        audit.record(
            session=session,
            principal=principal,
            action="update",
            resource=f"field/devices/{device.id}",
            record_count=1,
            client=client,
            details={"agency": [device.agency, new.short_name]},
        )
    return get_device(session=session, name=name), device.agency, new.short_name


def rotate_device_token(*, session: Session, name: str) -> str:
    """A new token for a ``form`` device (the old one stops working); re-activates it."""
    device = get_device(session=session, name=name)
    if device.kind != "form":
        raise ValidationError(
            f"device {name!r} is a {device.kind} device and has no token", field="name", value=name
        )
    token = new_token()
    session.execute(
        text("UPDATE field_device SET token_hash = :hash, revoked_at = NULL WHERE id = :id"),
        {"hash": hash_token(token), "id": device.id},
    )
    return token


def device_for_token(*, session: Session, token: str) -> Device | None:
    """The active form device holding ``token``, or None."""
    row = session.execute(BY_TOKEN_SQL, {"hash": hash_token(token)}).one_or_none()
    return _device(tuple(row)) if row is not None else None
