"""Proximity alerts: rules evaluated set-based in SQL, lifecycle, delivery.

``evaluate_for`` is what every write path calls in its own transaction, right after the write::

    from geo.alerts import evaluate_for
    created = evaluate_for(session=session, layer="sightings", ids=[s.id])
"""

from __future__ import annotations

from geo.alerts.rules import LAYERS, evaluate_for

__all__ = ["LAYERS", "evaluate_for"]
