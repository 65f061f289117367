"""A problem found in an import file: the row, the field, the value and the reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

# Problems listed in a rejection report (all are counted).
MAX_PROBLEMS_REPORTED: Final = 1000


@dataclass(frozen=True)
class Problem:
    """One problem; ``row`` is the file row (the header row for a problem with a column)."""

    row: int
    field: str
    value: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "value": self.value, "reason": self.reason}
