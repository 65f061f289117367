"""Proximity alerts: rules evaluated set-based in SQL, lifecycle, delivery.

``evaluate_for`` is what every write path calls in its own transaction, right after the write::

    from geo.alerts import evaluate_for
    done = evaluate_for(session=session, layer="sightings", ids=[s.id])
    done.opened    # episodes this write opened (delivered); done.updated, done.closed

Repeated triggers of a rule for one subject are one *episode* (docs/alerts.md). ``run_batch``
evaluates the rules over all records (or those since a time), as ``timpora alerts run`` does,
and closes the episodes quiet for longer than their rule's window (``lapse_quiet``).
The modules: ``catalogue`` (rules, parameters, defaults),
``sql`` (the rule SQL by family), ``statements`` (assembly per mode), ``evaluation``
(the two paths), ``service`` (lifecycle and listing), ``queue`` (the triage queue in priority order)
and ``triage`` (the actions on it), ``delivery`` and ``stream``.
"""

from __future__ import annotations

from geo.alerts.catalogue import LAYER_RULES, LAYERS
from geo.alerts.evaluation import Evaluation, evaluate_for, lapse_quiet, run_batch

__all__ = ["LAYERS", "LAYER_RULES", "Evaluation", "evaluate_for", "lapse_quiet", "run_batch"]
