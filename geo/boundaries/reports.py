"""What a load or an import reports: per layer, per run, and per rejected feature."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class LayerReport:
    layer: str
    target: str
    features: int
    inserted: int = 0
    updated: int = 0
    checksum: str = "ok"
    notes: list[str] = field(default_factory=list)

    @property
    def unchanged(self) -> int:
        return self.features - self.inserted - self.updated


@dataclass
class LoadReport:
    source_dir: Path | None
    layers: list[LayerReport] = field(default_factory=list)
    zones_changed: int = 0
    relocated: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(layer.inserted or layer.updated for layer in self.layers)


@dataclass
class FeatureProblem:
    feature: int  # 1-based, as a person counts rows
    field: str
    value: Any
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "field": self.field,
            "value": self.value,
            "reason": self.reason,
        }
