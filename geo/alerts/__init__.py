"""Proximity alerts: rules evaluated set-based in SQL, lifecycle, delivery.

``evaluate_for`` is what every write path calls in its own transaction, right after the write::

    from geo.alerts import evaluate_for
    created = evaluate_for(session=session, layer="sightings", ids=[s.id])

``run_batch`` evaluates the rules over all records (or those since a time), as
``timpora alerts run`` does. The modules: ``catalogue`` (rules, parameters, defaults),
``sql`` (the rule SQL by family), ``statements`` (assembly per mode), ``evaluation``
(the two paths), ``service`` (lifecycle and listing), ``triage`` (the queue in priority order
and the actions on it), ``delivery`` and ``stream``.
"""

from __future__ import annotations

from geo.alerts.catalogue import LAYER_RULES, LAYERS
from geo.alerts.evaluation import evaluate_for, run_batch

__all__ = ["LAYERS", "LAYER_RULES", "evaluate_for", "run_batch"]
