"""The rule catalogue of DESIGN §6 as set-based SQL (first cut: the interface)."""

from __future__ import annotations

from typing import Final

from sqlalchemy.orm import Session

LAYERS: Final = ("sightings", "incidents", "workplaces", "foreigners")


def evaluate_for(*, session: Session, layer: str, ids: list[int]) -> list[int]:
    """Evaluate the rules touched by a write of ``ids`` in ``layer``; return new alert ids.

    Runs in the caller's transaction (no commit), so the alerts commit or roll back with the
    write.
    """
    if layer not in LAYERS:
        raise ValueError(f"layer must be one of {', '.join(LAYERS)}; got {layer!r}")
    if not ids:
        return []
    return []
