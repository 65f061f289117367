"""``Idempotency-Key``: a retried POST returns the first response instead of writing again.

The key row is inserted in the same transaction as the write. A concurrent retry with the same
key blocks on the primary key until the first transaction ends, then finds the stored response.

The table holds answers that may carry personal data, so ``timpora_aggregate`` may not read it;
a writer without personal data (docs/privacy.md, "Member agencies") reaches its own keys, and
only its own (by its name), under ``timpora_personal`` for these statements: what it gets back is
the answer it was given, the aggregate face of what it wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.errors import ConflictError, ValidationError
from geo.roles import service_step

MAX_KEY_LENGTH: Final = 200

CLAIM_SQL = text(
    """
    INSERT INTO idempotency_key (user_name, key, method, path)
    VALUES (:user_name, :key, :method, :path)
    ON CONFLICT (user_name, key) DO NOTHING
    RETURNING key
    """
)
STORED_SQL = text(
    """
    SELECT method, path, status_code, response FROM idempotency_key
    WHERE user_name = :user_name AND key = :key
    """
)
SAVE_SQL = text(
    """
    UPDATE idempotency_key SET status_code = :status_code, response = :response
    WHERE user_name = :user_name AND key = :key
    """
)


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: bytes


def claim(
    *, session: Session, user_name: str, key: str, method: str, path: str
) -> StoredResponse | None:
    """Claim ``key`` for this request; the stored response if it was already used."""
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ValidationError(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters",
            field="Idempotency-Key",
            value=key[:50],
        )
    params = {"user_name": user_name, "key": key, "method": method, "path": path[:300]}
    with service_step(session):
        if session.execute(CLAIM_SQL, params).scalar() is not None:
            return None
        row = session.execute(STORED_SQL, params).one()
    if row.method != method or row.path != path[:300]:
        raise ConflictError(
            f"Idempotency-Key {key!r} was already used for {row.method} {row.path}",
            details={"field": "Idempotency-Key"},
        )
    if row.status_code is None:  # pragma: no cover - the claim and the save share a transaction
        raise ConflictError(f"a request with Idempotency-Key {key!r} is still in progress")
    return StoredResponse(int(row.status_code), bytes(row.response))


def save(*, session: Session, user_name: str, key: str, status_code: int, body: bytes) -> None:
    with service_step(session):
        session.execute(
            SAVE_SQL,
            {
                "user_name": user_name,
                "key": key.strip(),
                "status_code": status_code,
                "response": body,
            },
        )


def purge(*, session: Session, older_than_hours: int = 48) -> int:
    result = session.execute(
        text("DELETE FROM idempotency_key WHERE created_at < now() - make_interval(hours => :h)"),
        {"h": older_than_hours},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
