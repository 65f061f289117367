"""Subscriptions: who gets notified, through which channel, of what, in which language and area.

An administrator manages every subscription, of users and of offices (a shared channel, such as
the coordinators' Telegram group, which gets the view of the role it names); every other user
manages their own, with the channels ``TIMPORA_NOTIFY_USER_SCHEMES`` allows. The target is a
secret: it is written here and read only by the sender; every answer shows ``target_masked``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo import access
from geo.audit import record
from geo.errors import NotFoundError, PermissionDeniedError, ValidationError
from geo.models import ROLES
from geo.notify import channels
from geo.settings import NotifySettings
from geo.times import WIB
from geo.users import Principal

OWNER_KINDS: Final = ("user", "office")
LANGS: Final = ("id", "en")
MAX_KECAMATAN: Final = 50
MAX_PER_OWNER: Final = 20
KECAMATAN_CODE_CHARS: Final = 20

COLUMNS: Final = (
    "id, owner_kind, owner, role, target_masked, label, lang, min_severity, digest, "
    "kecamatan_codes, active, created_by, created_at, last_digest_at"
)
INSERT_SQL: Final = text(
    f"""
    INSERT INTO notify_subscription (owner_kind, owner, role, target, target_masked, label, lang,
                                     min_severity, digest, kecamatan_codes, created_by)
    VALUES (:owner_kind, :owner, :role, :target, :target_masked, :label, :lang, :min_severity,
            :digest, CAST(:kecamatan_codes AS text[]), :created_by)
    RETURNING {COLUMNS}
    """
)
LIST_SQL: Final = text(
    f"""
    SELECT {COLUMNS} FROM notify_subscription
    WHERE (CAST(:owner_kind AS text) IS NULL OR owner_kind = :owner_kind)
      AND (CAST(:owner AS text) IS NULL OR owner = :owner)
    ORDER BY id
    LIMIT :limit
    """
)
ONE_SQL: Final = text(f"SELECT {COLUMNS} FROM notify_subscription WHERE id = :id")
DELETE_SQL: Final = text("DELETE FROM notify_subscription WHERE id = :id")
COUNT_SQL: Final = text(
    "SELECT count(*) FROM notify_subscription WHERE owner_kind = :owner_kind AND owner = :owner"
)
USER_SQL: Final = text("SELECT 1 FROM app_user WHERE name = :name AND revoked_at IS NULL")
KECAMATAN_SQL: Final = text(
    "SELECT code FROM admin_area WHERE level = 'kecamatan' AND code = ANY(:codes)"
)
MAX_LIST: Final = 1000


@dataclass(frozen=True)
class NewSubscription:
    target: str
    owner_kind: str = "user"
    owner: str | None = None  # None: the caller
    role: str | None = None  # an office's view; a user's subscription follows the user's role
    label: str | None = None
    lang: str = "id"
    min_severity: int | None = 4  # None: no immediate messages
    digest: bool = True
    kecamatan_codes: Sequence[str] | None = None


def to_dict(row: Any) -> dict[str, Any]:
    def wib(value: dt.datetime | None) -> str | None:
        return value.astimezone(WIB).isoformat() if value else None

    return {
        "id": row.id,
        "owner_kind": row.owner_kind,
        "owner": row.owner,
        "role": row.role,
        "target": row.target_masked,
        "label": row.label,
        "lang": row.lang,
        "min_severity": row.min_severity,
        "digest": row.digest,
        "kecamatan": list(row.kecamatan_codes) if row.kecamatan_codes is not None else None,
        "active": row.active,
        "created_by": row.created_by,
        "created_at": wib(row.created_at),
        "last_digest_at": wib(row.last_digest_at),
    }


def manages_all(principal: Principal) -> bool:
    return access.allowed(principal.role, access.MANAGE_USERS)


def _check(new: NewSubscription, principal: Principal) -> tuple[str, str | None]:
    """The owner and the office's role; refuses what the caller may not subscribe."""
    if new.owner_kind not in OWNER_KINDS:
        raise ValidationError(
            f"owner_kind must be user or office; got {new.owner_kind!r}",
            field="owner_kind",
            value=new.owner_kind,
        )
    owner = (new.owner or (principal.name if new.owner_kind == "user" else "")).strip()
    if not 1 <= len(owner) <= 100:
        raise ValidationError("owner must be 1 to 100 characters", field="owner", value=owner)
    if not manages_all(principal) and (new.owner_kind != "user" or owner != principal.name):
        raise PermissionDeniedError(
            f"role {principal.role!r} may manage only its own subscriptions (users:manage)"
        )
    if new.owner_kind == "office":
        role = new.role or "viewer"
        if role not in ROLES:
            raise ValidationError(
                f"role must be one of {', '.join(ROLES)}; got {role!r}", field="role", value=role
            )
        return owner, role
    if new.role is not None:
        raise ValidationError(
            "role is for an office's subscription; a user's follows the user's own role",
            field="role",
            value=new.role,
        )
    return owner, None


def _check_fields(new: NewSubscription) -> None:
    if new.lang not in LANGS:
        raise ValidationError(
            f"lang must be id or en; got {new.lang!r}", field="lang", value=new.lang
        )
    if new.min_severity is not None and not 1 <= new.min_severity <= 5:
        raise ValidationError(
            f"min_severity must be 1 to 5 (or null for no immediate messages); got "
            f"{new.min_severity!r}",
            field="min_severity",
            value=new.min_severity,
        )
    if new.min_severity is None and not new.digest:
        raise ValidationError(
            "a subscription must get immediate messages (min_severity) or the digest",
            field="digest",
            value=new.digest,
        )
    if new.label is not None and len(new.label) > 200:
        raise ValidationError(
            "label must be at most 200 characters", field="label", value=new.label[:50]
        )


def _kecamatan(session: Session, codes: Sequence[str] | None) -> list[str] | None:
    if codes is None:
        return None
    cleaned = sorted({c.strip() for c in codes if c and c.strip()})
    if not cleaned or len(cleaned) > MAX_KECAMATAN:
        raise ValidationError(
            f"kecamatan must list 1 to {MAX_KECAMATAN} codes (or be null for the whole regency)",
            field="kecamatan",
            value=len(cleaned),
        )
    for code in cleaned:
        if len(code) > KECAMATAN_CODE_CHARS:
            raise ValidationError("kecamatan code too long", field="kecamatan", value=code[:40])
    known = set(session.execute(KECAMATAN_SQL, {"codes": cleaned}).scalars())
    unknown = [c for c in cleaned if c not in known]
    if unknown:
        raise ValidationError(
            f"unknown kecamatan code(s): {', '.join(unknown)} (Kemendagri codes, e.g. 61.01.09)",
            field="kecamatan",
            value=unknown[0],
        )
    return cleaned


def add_subscription(
    *,
    session: Session,
    principal: Principal,
    new: NewSubscription,
    settings: NotifySettings,
    client: str | None = None,
) -> dict[str, Any]:
    """Store a subscription; the answer shows its target masked."""
    owner, role = _check(new, principal)
    _check_fields(new)
    allowed = None if manages_all(principal) else settings.notify_user_schemes
    target = channels.check_target(new.target, allowed_schemes=allowed)
    # The caller is known; another user must exist (only an administrator gets here for one).
    if (
        new.owner_kind == "user"
        and owner != principal.name
        and session.execute(USER_SQL, {"name": owner}).first() is None
    ):
        raise ValidationError(
            f"no active user named {owner!r} (see: timpora users list)", field="owner", value=owner
        )
    count = session.execute(COUNT_SQL, {"owner_kind": new.owner_kind, "owner": owner}).scalar_one()
    if count >= MAX_PER_OWNER:
        raise ValidationError(
            f"{owner!r} has {count} subscriptions already (at most {MAX_PER_OWNER})",
            field="owner",
            value=owner,
        )
    row = session.execute(
        INSERT_SQL,
        {
            "owner_kind": new.owner_kind,
            "owner": owner,
            "role": role,
            "target": target.value,
            "target_masked": target.masked,
            "label": new.label,
            "lang": new.lang,
            "min_severity": new.min_severity,
            "digest": new.digest,
            "kecamatan_codes": _kecamatan(session, new.kecamatan_codes),
            "created_by": principal.name,
        },
    ).one()
    created = to_dict(row)
    record(
        session=session,
        principal=principal,
        action="create",
        resource=f"notifications/subscriptions/{created['id']}",
        record_count=1,
        client=client,
        details={"owner_kind": new.owner_kind, "owner": owner, "channel": target.scheme},
    )
    return created


def list_subscriptions(
    *,
    session: Session,
    principal: Principal,
    owner_kind: str | None = None,
    owner: str | None = None,
    limit: int = MAX_LIST,
) -> list[dict[str, Any]]:
    """An administrator's view of all (or one owner's); everyone else sees their own."""
    if not manages_all(principal):
        if (owner_kind not in (None, "user")) or (owner not in (None, principal.name)):
            raise PermissionDeniedError(
                f"role {principal.role!r} may list only its own subscriptions (users:manage)"
            )
        owner_kind, owner = "user", principal.name
    if owner_kind is not None and owner_kind not in OWNER_KINDS:
        raise ValidationError(
            f"owner_kind must be user or office; got {owner_kind!r}",
            field="owner_kind",
            value=owner_kind,
        )
    rows = session.execute(
        LIST_SQL, {"owner_kind": owner_kind, "owner": owner, "limit": min(limit, MAX_LIST)}
    ).all()
    return [to_dict(r) for r in rows]


def get_subscription(
    *, session: Session, principal: Principal, subscription_id: int
) -> dict[str, Any]:
    """One subscription the caller may manage; 404 for any other (its existence is not told)."""
    row = session.execute(ONE_SQL, {"id": subscription_id}).first()
    if row is None or not (
        manages_all(principal) or (row.owner_kind == "user" and row.owner == principal.name)
    ):
        raise NotFoundError(f"no subscription {subscription_id} of yours")
    return to_dict(row)


def remove_subscription(
    *, session: Session, principal: Principal, subscription_id: int, client: str | None = None
) -> None:
    """Delete a subscription (its pending messages go with it)."""
    found = get_subscription(session=session, principal=principal, subscription_id=subscription_id)
    session.execute(DELETE_SQL, {"id": subscription_id})
    record(
        session=session,
        principal=principal,
        action="delete",
        resource=f"notifications/subscriptions/{subscription_id}",
        record_count=1,
        client=client,
        details={"owner_kind": found["owner_kind"], "owner": found["owner"]},
    )
