"""The Timpora's member agencies (docs/privacy.md, "Member agencies").

Every user belongs to one agency. Administrators add and edit agencies; nothing deletes one: an
agency that leaves the team is deactivated (its users and records keep naming it). Agencies are
addressed by their short name (``POLRES``, ``KODIM``), upper case, as on the command line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from geo.errors import ConflictError, NotFoundError, ValidationError
from geo.models import AGENCY_KINDS, Agency, AppUser

# The immigration office chairs the Timpora: users made without naming an agency belong to it.
CHAIR_KIND: Final = "immigration"
SHORT_NAME = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,23}")
MAX_NAME: Final = 120


@dataclass(frozen=True)
class AgencyChange:
    """Fields to change on an agency; None leaves a field as it is."""

    name: str | None = None
    short_name: str | None = None
    kind: str | None = None
    personal_data: bool | None = None
    active: bool | None = None


def _short_name(value: str) -> str:
    short = value.strip().upper()
    if not SHORT_NAME.fullmatch(short):
        raise ValidationError(
            f"short_name must be 1 to 24 letters, digits, '-' or '_' (e.g. POLRES); got {value!r}",
            field="short_name",
            value=value,
        )
    return short


def _name(value: str) -> str:
    name = " ".join(value.split())
    if not name or len(name) > MAX_NAME:
        raise ValidationError(
            f"name must be 1 to {MAX_NAME} characters; got {value!r}", field="name", value=value
        )
    return name


def _kind(value: str) -> str:
    if value not in AGENCY_KINDS:
        raise ValidationError(
            f"kind must be one of {', '.join(AGENCY_KINDS)}; got {value!r}",
            field="kind",
            value=value,
        )
    return value


def list_agencies(*, session: Session, include_inactive: bool = True) -> list[Agency]:
    query = select(Agency).order_by(Agency.id)
    if not include_inactive:
        query = query.where(Agency.active)
    return list(session.scalars(query))


def get_agency(*, session: Session, short_name: str) -> Agency:
    """The agency ``short_name`` (any case), active or not."""
    agency = session.scalar(select(Agency).where(Agency.short_name == short_name.strip().upper()))
    if agency is None:
        raise NotFoundError(f"no agency {short_name!r} (see: timpora agencies list)")
    return agency


def get_agency_by_id(*, session: Session, agency_id: int) -> Agency:
    agency = session.get(Agency, agency_id)
    if agency is None:
        raise NotFoundError(f"no agency with id {agency_id}")
    return agency


def chair_agency(*, session: Session) -> Agency:
    """The agency that chairs the team: the first active immigration office."""
    agency = session.scalar(
        select(Agency).where(Agency.kind == CHAIR_KIND, Agency.active).order_by(Agency.id).limit(1)
    )
    if agency is None:
        raise NotFoundError(
            "no active immigration office among the agencies; name one with --agency "
            "(see: timpora agencies list)"
        )
    return agency


def agency_for_user(*, session: Session, short_name: str | None) -> Agency:
    """The agency a new or moved user joins: ``short_name``, or the chair when None.

    An inactive agency takes no new users (its existing ones stay).
    """
    agency = (
        get_agency(session=session, short_name=short_name)
        if short_name
        else chair_agency(session=session)
    )
    if not agency.active:
        raise ValidationError(
            f"agency {agency.short_name!r} is inactive; it takes no users",
            field="agency",
            value=short_name,
        )
    return agency


def _check_unique(session: Session, *, name: str | None, short_name: str | None, own: int) -> None:
    if name is not None:
        other = session.scalar(
            select(Agency.id).where(func.lower(Agency.name) == name.lower(), Agency.id != own)
        )
        if other is not None:
            raise ConflictError(f"an agency named {name!r} already exists")
    if short_name is not None:
        other = session.scalar(
            select(Agency.id).where(Agency.short_name == short_name, Agency.id != own)
        )
        if other is not None:
            raise ConflictError(f"an agency with short name {short_name!r} already exists")


def create_agency(
    *, session: Session, name: str, short_name: str, kind: str, personal_data: bool = False
) -> Agency:
    clean_name, short, kind = _name(name), _short_name(short_name), _kind(kind)
    _check_unique(session, name=clean_name, short_name=short, own=-1)
    agency = Agency(name=clean_name, short_name=short, kind=kind, personal_data=personal_data)
    session.add(agency)
    session.flush()
    session.refresh(agency)
    return agency


def update_agency(
    *, session: Session, short_name: str, change: AgencyChange
) -> tuple[Agency, dict[str, Any]]:
    """Apply ``change`` to the agency ``short_name``; returns it and {field: [old, new]}."""
    agency = get_agency(session=session, short_name=short_name)
    wanted: dict[str, Any] = {}
    if change.name is not None:
        wanted["name"] = _name(change.name)
    if change.short_name is not None:
        wanted["short_name"] = _short_name(change.short_name)
    if change.kind is not None:
        wanted["kind"] = _kind(change.kind)
    if change.personal_data is not None:
        wanted["personal_data"] = change.personal_data
    if change.active is not None:
        wanted["active"] = change.active
    _check_unique(
        session, name=wanted.get("name"), short_name=wanted.get("short_name"), own=agency.id
    )
    changed = {
        field: [getattr(agency, field), value]
        for field, value in wanted.items()
        if getattr(agency, field) != value
    }
    if changed.get("active") == [True, False]:
        users = session.scalar(
            select(func.count())
            .select_from(AppUser)
            .where(AppUser.agency_id == agency.id, AppUser.revoked_at.is_(None))
        )
        if users:
            raise ConflictError(
                f"agency {agency.short_name!r} still has {users} active user(s); move or "
                "revoke them first"
            )
    for field, (_, value) in changed.items():
        setattr(agency, field, value)
    if changed:
        session.flush()
        session.refresh(agency)
    return agency, changed


def agency_view(agency: Agency) -> dict[str, Any]:
    """An agency as the API and the command line show it."""
    return {
        "id": agency.id,
        "name": agency.name,
        "short_name": agency.short_name,
        "kind": agency.kind,
        "personal_data": agency.personal_data,
        "active": agency.active,
    }
