"""Users and bearer tokens. Tokens are 256-bit random strings; only their SHA-256 is stored."""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import os
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from geo.access import role_in_agency
from geo.agencies import agency_for_user
from geo.errors import ConflictError, NotFoundError, ValidationError
from geo.models import ROLES, Agency, AppUser

TOKEN_PREFIX = "tpm_"  # noqa: S105 - a marker, not a secret


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)  # 32 bytes = 256 bits


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user's name, the role it acts with and its agency (id and short name).

    ``role`` is the user's role, or its aggregate face when the agency's function does not need
    personal data (docs/privacy.md, "Member agencies").

    ``agency_id`` is None for what acts without a registered user: the command line's operator
    and the service's own work (docs/privacy.md, "Member agencies").
    """

    name: str
    role: str
    agency_id: int | None = None
    agency: str | None = None


def create_user(
    *, session: Session, name: str, role: str, agency: str | None = None
) -> tuple[AppUser, str]:
    """Create a user and return it with its token (shown once, never stored in clear).

    ``agency`` is the short name of the user's agency; None puts the user in the immigration
    office, which chairs the team.
    """
    if role not in ROLES:
        raise ValidationError(
            f"role must be one of {', '.join(ROLES)}; got {role!r}", field="role", value=role
        )
    name = name.strip()
    if not name or len(name) > 100:
        raise ValidationError("name must be 1 to 100 characters", field="name", value=name)
    if session.scalar(select(AppUser).where(AppUser.name == name)) is not None:
        raise ConflictError(f"a user named {name!r} already exists")
    home = agency_for_user(session=session, short_name=agency)
    token = new_token()
    user = AppUser(name=name, role=role, agency_id=home.id, token_hash=hash_token(token))
    session.add(user)
    session.flush()
    return user, token


def get_user(*, session: Session, name: str) -> AppUser:
    """The user ``name``, revoked or not."""
    user = session.scalar(select(AppUser).where(AppUser.name == name))
    if user is None:
        raise NotFoundError(f"no user named {name!r}")
    return user


def rotate_token(*, session: Session, name: str) -> str:
    user = get_user(session=session, name=name)
    token = new_token()
    user.token_hash = hash_token(token)
    user.revoked_at = None
    session.flush()
    return token


def list_users(*, session: Session) -> list[AppUser]:
    return list(session.scalars(select(AppUser).order_by(AppUser.id)))


def user_agencies(*, session: Session) -> dict[int, Agency]:
    """Every agency by id (to show users' agencies without a query per user)."""
    return {agency.id: agency for agency in session.scalars(select(Agency))}


def move_user(*, session: Session, name: str, agency: str) -> tuple[AppUser, str, str]:
    """Move user ``name`` to the agency ``agency``; returns it, the old and the new short name.

    What the user may see changes with the next request (docs/privacy.md, "Member agencies").
    """
    user = get_user(session=session, name=name)
    old = session.get(Agency, user.agency_id)
    new = agency_for_user(session=session, short_name=agency)
    user.agency_id = new.id
    session.flush()
    return user, old.short_name if old else "", new.short_name


def revoke_user(*, session: Session, name: str) -> AppUser:
    user = session.scalar(select(AppUser).where(AppUser.name == name))
    if user is None:
        raise NotFoundError(f"no user named {name!r}")
    user.revoked_at = dt.datetime.now(dt.UTC)
    session.flush()
    return user


def find_principal(*, session: Session, name: str) -> Principal:
    """The registered, unrevoked user ``name`` as a principal (name and role as stored)."""
    row = session.execute(
        select(AppUser, Agency)
        .join(Agency, Agency.id == AppUser.agency_id)
        .where(AppUser.name == name.strip(), AppUser.revoked_at.is_(None))
    ).first()
    if row is None:
        raise NotFoundError(f"no active user named {name.strip()!r} (see: timpora users list)")
    return _principal(row[0], row[1])


def operator_principal() -> Principal:
    """Who runs the command line without naming a registered user.

    The command line holds the database owner's credentials, so it acts with an administrator's
    rights; it is named by the account's display name (its full name, else its login).
    """
    login = getpass.getuser()
    display = ""
    try:
        import pwd

        display = pwd.getpwuid(os.getuid()).pw_gecos.split(",")[0].strip()
    except (ImportError, KeyError):
        pass
    return Principal(name=(display or login or "timpora")[:100], role="admin")


def command_line_principal(*, session: Session, author: str | None) -> Principal:
    """The registered user ``author`` when given, else :func:`operator_principal`."""
    return find_principal(session=session, name=author) if author else operator_principal()


def authenticate(*, session: Session, token: str) -> Principal | None:
    """The principal of a valid, unrevoked token, else None."""
    return principal_for_hash(session=session, token_hash=hash_token(token))


def principal_for_hash(*, session: Session, token_hash: str) -> Principal | None:
    """As :func:`authenticate`, from the token's SHA-256 (what a long request keeps to re-check)."""
    row = session.execute(
        select(AppUser, Agency)
        .join(Agency, Agency.id == AppUser.agency_id)
        .where(AppUser.token_hash == token_hash, AppUser.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    return _principal(row[0], row[1])


def _principal(user: AppUser, agency: Agency) -> Principal:
    """The user as a caller: in an agency without personal data, the aggregate face of its role
    (``geo.access.role_in_agency``)."""
    return Principal(
        name=user.name,
        role=role_in_agency(user.role, agency.personal_data),
        agency_id=agency.id,
        agency=agency.short_name,
    )
