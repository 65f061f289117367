"""Text cells a spreadsheet would run as a formula, made inert in CSV/XLSX exports and restored
on import, so export → import stays the identity.

A cell whose text starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula
to Excel and LibreOffice (formula injection: a workplace named ``=HYPERLINK(...)`` would run when
an analyst opens the export). Such a cell is written with a leading apostrophe, which the
spreadsheet shows as text. Numbers are left alone: only text cells (``str`` values) change, and
a text that already starts with apostrophes before a trigger gets one more, so the importer can
remove exactly one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

import pandas as pd

TRIGGERS: Final = "=+-@\t\r"
_NEEDS_QUOTE: Final = re.compile(f"'*[{re.escape(TRIGGERS)}]")
_QUOTED: Final = re.compile(f"'+[{re.escape(TRIGGERS)}]")


def neutralise(value: Any) -> Any:
    """``'``-prefixed text if ``value`` is text a spreadsheet would run; anything else as is."""
    if isinstance(value, str) and _NEEDS_QUOTE.match(value):
        return "'" + value
    return value


def restore(value: Any) -> Any:
    """The text :func:`neutralise` was given."""
    if isinstance(value, str) and _QUOTED.match(value):
        return value[1:]
    return value


def _text_columns(frame: pd.DataFrame) -> list[Any]:
    """Columns that may hold text (pandas 3 infers a string dtype; mixed ones are ``object``)."""
    return [
        c
        for c in frame.columns
        if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c].dtype)
    ]


def _map_text(frame: pd.DataFrame, cell: Callable[[Any], Any]) -> pd.DataFrame:
    columns = _text_columns(frame)
    if not columns:
        return frame
    out = frame.copy()
    for column in columns:
        out[column] = out[column].map(cell)
    return out


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with every text cell neutralised (numeric and date columns untouched)."""
    return _map_text(frame, neutralise)


def restore_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with every neutralised text cell restored."""
    return _map_text(frame, restore)
