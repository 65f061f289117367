"""Progress of a bulk import: ``progress(stage, done, total)``, called as each step advances."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, int, int], None]


def step(progress: Progress | None, stage: str, done: int, total: int) -> None:
    """Report ``done`` of ``total`` for ``stage`` when the caller asked for progress."""
    if progress is not None:
        progress(stage, done, total)
