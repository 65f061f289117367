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


def _map_text(
    frame: pd.DataFrame, cell: Callable[[Any], Any], may_change: Callable[[str], bool]
) -> pd.DataFrame:
    """A copy with ``cell`` applied to the text columns, except columns of text only where
    ``may_change`` (given the column's cells joined by NUL) proves no cell changes: a million
    cells mapped one by one cost ~0.3 s a column, the joined test a few milliseconds."""
    columns = _text_columns(frame)
    out = frame.copy()
    for column in columns:
        values = out[column]
        try:
            joined = "\x00".join(values.tolist())
        except TypeError:  # not text only (numbers, blanks as None): every cell
            out[column] = values.map(cell)
            continue
        if may_change(joined):
            out[column] = values.map(cell)
    return out


def _may_need_quote(joined: str) -> bool:
    # A cell that needs the quote starts with a trigger or with apostrophes (then a trigger).
    return any(f"\x00{t}" in joined or joined.startswith(t) for t in TRIGGERS + "'")


def _may_be_quoted(joined: str) -> bool:
    return joined.startswith("'") or "\x00'" in joined


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with every text cell neutralised (numeric and date columns untouched)."""
    return _map_text(frame, neutralise, _may_need_quote)


def restore_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with every neutralised text cell restored."""
    return _map_text(frame, restore, _may_be_quoted)
