"""Class breaks for legends: deterministic, and finite on awkward data."""

from __future__ import annotations

import numpy as np
import pytest

from maps.common import classify


@pytest.mark.parametrize(
    "values",
    [
        pytest.param([1.0] * 5000 + [2.0] * 40 + [3.0, 4.0, 7.0, 9.0, 30.0], id="mostly-ones"),
        pytest.param(list(np.arange(1, 50_001, dtype=float)), id="many-distinct"),
        pytest.param([5.0] * 300, id="all-equal"),
        pytest.param([1.0, 2.0, 3.0], id="fewer-than-k"),
    ],
)
def test_classes_cover_the_data_and_are_deterministic(values: list[float]) -> None:
    first = classify(values)
    assert first is not None
    assert first.bins == sorted(first.bins) and len(set(first.bins)) == len(first.bins)
    assert first.bins[-1] == max(values)  # the top class holds the maximum
    assert len(first.bins) == len(first.colours) == len(first.labels) <= 5
    assert classify(values) == first
