"""Shared helpers of the API tests: users with tokens, sample features."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from geo.users import create_user

ROLES = ("admin", "analyst", "coordinator", "planner", "viewer")
# The faces (``geo.access.FACES``): the role a user given this role acts with in this agency,
# which has no personal data (docs/privacy.md, "Member agencies").
FACE_USERS = {"recorder": ("analyst", "POLRES"), "liaison": ("coordinator", "POLRES")}

# Points inside Kabupaten Sambas (reference geography of ../shared/data).
SAMBAS_TOWN = (109.3021, 1.3549)
PALOH = (109.30, 1.70)
ARUK = (109.6467, 1.4133)


def make_tokens(session: Session, prefix: str = "t", *, faces: bool = False) -> dict[str, str]:
    """A token of a user of each role (of the immigration office); ``faces``: also one acting
    with each face, keyed by the face."""
    tokens = {}
    for role in ROLES:
        _, token = create_user(session=session, name=f"{prefix}-{role}", role=role)
        tokens[role] = token
    for face, (role, agency) in FACE_USERS.items() if faces else ():
        _, token = create_user(session=session, name=f"{prefix}-{face}", role=role, agency=agency)
        tokens[face] = token
    session.flush()
    return tokens


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


def feature(geometry: dict[str, Any] | None, **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


SAMPLES: dict[str, dict[str, Any]] = {
    "workplaces": feature(point(*SAMBAS_TOWN), name="PT Uji Sawit", sector="plantation"),
    "foreigners": feature(
        point(*SAMBAS_TOWN),
        full_name="Uji Orang Asing Satu",
        nationality="MYS",
        permit_type="KITAS",
        passport_number="X1234567",
        permit_number="KITAS-1",
        birth_date="1990-01-31",
    ),
    "incidents": feature(
        point(*SAMBAS_TOWN), kind="illegal_work", severity=3, occurred_at="2025-03-14T09:30:00"
    ),
    "sightings": feature(
        point(*SAMBAS_TOWN), observed_at="2025-03-14T08:00:00+07:00", source="patrol"
    ),
    "zones": feature(
        {
            "type": "Polygon",
            "coordinates": [
                [[109.28, 1.33], [109.32, 1.33], [109.32, 1.37], [109.28, 1.37], [109.28, 1.33]]
            ],
        },
        name="Zona uji",
        kind="watch",
    ),
}


def write_sightings_csv(
    path: Path, rows: int, *, seed: int = 1, start: str = "2025-04-01", months: int = 2
) -> Path:
    """A sightings CSV of ``rows`` anonymous patrol reports around Sambas town, spread over
    ``months`` months from ``start``, written column-wise (a million rows in a few seconds)."""
    rng = np.random.default_rng(seed)
    seconds = rng.integers(0, months * 28 * 86400, rows)
    stamps = pd.Timestamp(start) + pd.to_timedelta(seconds, "s")
    frame = pd.DataFrame(
        {
            "external_ref": np.char.add("L-", np.arange(rows).astype(str)),
            "observed_at": stamps.strftime("%Y-%m-%dT%H:%M:%S"),
            "source": "patrol",
            "lon": (SAMBAS_TOWN[0] + rng.uniform(-0.1, 0.1, rows)).round(5),
            "lat": (SAMBAS_TOWN[1] + rng.uniform(-0.08, 0.08, rows)).round(5),
        }
    )
    frame.to_csv(path, index=False)
    return path
