"""Each office database's identities in a block of its own, so ids stay unique across the
federated views."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.errors import ConflictError, ValidationError
from geo.sharding.names import quote_ident


def assign_id_block(*, session: Session, office_no: int, block: int = 10_000_000) -> int:
    """Make this office database's identities start in its own block (office_no × block), so
    ids stay unique across the federated views. Run once on each shard when it is set up.

    Returns the first id of the block. Refuses when rows already use ids above the block start.
    """
    if not 1 <= office_no <= 200 or office_no * block + block > 2**31 - 1:
        raise ValidationError(
            f"office_no must be 1-200 and fit integer ids with block {block}; got {office_no}",
            field="office_no",
            value=office_no,
        )
    first = office_no * block
    for table in ("workplace", "foreigner", "incident", "sighting", "alert"):
        highest = session.execute(text(f"SELECT max(id) FROM {quote_ident(table)}")).scalar()
        if highest is not None and highest >= first:
            raise ConflictError(f"{table} already holds ids from {first}; choose another office")
        session.execute(
            text("SELECT setval(pg_get_serial_sequence(:t, 'id'), :v, false)"),
            {"t": table, "v": first},
        )
    return first
