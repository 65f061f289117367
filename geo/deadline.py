"""A time limit for an analysis: set once by the caller, checked between its steps.

The API runs each analysis (hotspots, kernel density, DBSCAN, patrol plans, map views) in a worker
thread under :func:`time_limit`; the analysis calls :func:`check_deadline` between its steps, each
bounded by the caps of ``geo.registry.caps``, so a request past its limit ends with
:class:`geo.errors.AnalysisTimeoutError` (503) at the next step instead of holding its worker.
SQL inside a step is bounded by the session's statement timeout. Outside :func:`time_limit`
(the CLI, notebooks) there is no limit.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager

from geo.errors import AnalysisTimeoutError

_DEADLINE: contextvars.ContextVar[tuple[float, float] | None] = contextvars.ContextVar(
    "timpora_analysis_deadline", default=None
)


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Analyses inside this block end with AnalysisTimeoutError once ``seconds`` have passed."""
    token = _DEADLINE.set((time.monotonic() + seconds, seconds))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def check_deadline(step: str) -> None:
    """Raise AnalysisTimeoutError when the enclosing time limit has passed (``step`` says where)."""
    deadline = _DEADLINE.get()
    if deadline is not None and time.monotonic() > deadline[0]:
        raise AnalysisTimeoutError(
            f"the analysis took longer than its limit of {deadline[1]:g} s (at {step}); "
            "narrow the time window, use larger cells, or raise TIMPORA_ANALYSIS_TIME_LIMIT_S"
        )
