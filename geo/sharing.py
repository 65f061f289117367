"""The sharing level a writer asks for a batch of new records (imports), checked once.

A record's sharing (docs/privacy.md, "Sharing between agencies") is ``timpora`` (every agency,
the default), ``agencies`` (the reporting agency and the agencies named in ``shared_with``) or
``agency`` (the reporting agency only). :func:`parse_sharing` turns the raw values a face was
given (a query string, command-line options) into a :class:`Sharing` with the agencies' ids, or
a ValidationError naming the bad value; the load paths then write it on every new row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.agencies import SHORT_NAME
from geo.errors import ValidationError
from geo.models import SHARING_LEVELS

# As many agencies as a record's ``shared_with`` may name through the API.
MAX_SHARED_WITH: Final = 50

ACTIVE_AGENCIES_SQL = text(
    "SELECT short_name, id FROM agency WHERE short_name = ANY(CAST(:names AS text[])) AND active"
)


@dataclass(frozen=True)
class Sharing:
    """A sharing level and, for ``agencies``, the agencies' ids and short names (sorted)."""

    level: str = "timpora"
    shared_with: tuple[int, ...] = ()
    shared_with_names: tuple[str, ...] = field(default=(), compare=False)

    @property
    def restricted(self) -> bool:
        return self.level != "timpora"

    def as_dict(self) -> dict[str, Any]:
        """As the API shows a record's sharing: the level and the agencies' short names."""
        return {"sharing": self.level, "shared_with": list(self.shared_with_names)}

    def array_literal(self) -> str:
        """``shared_with`` as a PostgreSQL array literal (ids are ints: safe in DDL defaults)."""
        return "{" + ",".join(str(int(i)) for i in self.shared_with) + "}"


WHOLE_TIMPORA: Final = Sharing()


def split_names(values: Iterable[str] | str | None) -> list[str]:
    """Short names from repeated and/or comma-separated values (``POLRES,KODIM``)."""
    if values is None:
        return []
    items = [values] if isinstance(values, str) else list(values)
    return [part.strip() for item in items for part in str(item).split(",") if part.strip()]


def check_level(level: str, named: Sequence[Any], *, prefix: str = "") -> None:
    """Agencies named exactly when the level is ``agencies``. ``prefix`` places the fields in
    the caller's input (``properties.`` for a GeoJSON Feature)."""
    if (level == "agencies") != bool(named):
        raise ValidationError(
            f"{prefix}shared_with names the agencies exactly when sharing is 'agencies'; "
            f"got sharing {level!r} with {list(named)}",
            field=f"{prefix}shared_with" if named else f"{prefix}sharing",
            value=",".join(str(n) for n in named) if named else level,
        )


def check_agency(level: str, agency_id: int | None, *, prefix: str = "") -> None:
    """A record shared with fewer than the whole Timpora names its reporting agency, so its
    writer must have one."""
    if level != "timpora" and agency_id is None:
        raise ValidationError(
            f"{prefix}sharing {level!r} needs a reporting agency, and this writer has none (on "
            "the command line, name a registered user with --author)",
            field=f"{prefix}sharing",
            value=level,
        )


def parse_sharing(
    *,
    session: Session,
    sharing: str | None,
    shared_with: Iterable[str] | str | None,
    agency_id: int | None,
) -> Sharing:
    """The sharing asked for, checked: a known level, active agencies named exactly when the
    level is ``agencies``, and a writer with an agency for anything narrower than the whole
    Timpora (the record must name its reporting agency). ValidationError names the bad value.
    """
    names = split_names(shared_with)
    level = (sharing or "").strip().lower() or ("agencies" if names else "timpora")
    if level not in SHARING_LEVELS:
        raise ValidationError(
            f"sharing must be one of {', '.join(SHARING_LEVELS)}; got {sharing!r}",
            field="sharing",
            value=sharing,
        )
    if len(names) > MAX_SHARED_WITH:
        raise ValidationError(
            f"shared_with names at most {MAX_SHARED_WITH} agencies; got {len(names)}",
            field="shared_with",
            value=len(names),
        )
    for name in names:
        if not SHORT_NAME.fullmatch(name.upper()):
            raise ValidationError(
                f"shared_with: {name!r} is not an agency short name such as 'POLRES'",
                field="shared_with",
                value=name,
            )
    wanted = sorted({n.upper() for n in names})
    check_level(level, wanted)
    check_agency(level, agency_id)
    found: dict[str, int] = {}
    if wanted:
        rows = session.execute(ACTIVE_AGENCIES_SQL, {"names": wanted})
        found = {str(short): int(agency) for short, agency in rows}
        missing = [n for n in wanted if n not in found]
        if missing:
            raise ValidationError(
                f"shared_with: {missing[0]!r} names no active agency (timpora agencies list, "
                "GET /api/v1/agencies)",
                field="shared_with",
                value=missing[0],
            )
    return Sharing(
        level=level,
        shared_with=tuple(sorted(found[n] for n in wanted)),
        shared_with_names=tuple(wanted),
    )
