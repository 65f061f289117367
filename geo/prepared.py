"""Server-side prepared statements for hot statements whose best plan does not depend on their
parameters' values.

PostgreSQL plans every statement it is sent. A 1,000-feature page of ``sighting`` from a small
box (thirty monthly partitions, each read under the row-level policies of docs/privacy.md) took
15.2 ms planned for each page and 10.8 ms prepared (``bench/page_statement.py``). ``PREPARE``
once per connection and ``EXECUTE`` after lets PostgreSQL keep a generic plan
(``plan_cache_mode = auto``: after five custom plans, when it costs no more than they did).

A generic plan is planned without the parameters' values, so it suits only statements whose
plan is right for any of them: the page collected from a small box by the spatial index
(``geo.registry.pages.PAGE_BY_BOX_SQL``) is one; a page walking the primary key is not (its
generic plan took 0.3-1.9 s instead of 15-16 ms for the larger boxes). Callers choose.

Prepared statements live as long as their connection, whatever its transactions do: each pooled
connection keeps at most :data:`MAX_PER_CONNECTION` of them, least recently used dropped first.
PostgreSQL plans them again when a table they read changes and checks privileges and row-level
policies for the role of each execution.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final

from sqlalchemy import text
from sqlalchemy.engine import Connection, Result
from sqlalchemy.orm import Session
from sqlalchemy.util.typing import TupleAny

MAX_PER_CONNECTION: Final = 16
_INFO_KEY: Final = "timpora_prepared"
# A bind as ``sqlalchemy.text`` reads one: not a ``::`` cast, not an escaped ``\:``.
BIND: Final = re.compile(r"(?<![:\w\\]):(\w+)")
# Statements PostgreSQL would not prepare (a parameter whose type it cannot infer): run as they
# are. Bounded: the statements offered here come from code, a handful of shapes.
_REFUSED: set[str] = set()
_MAX_REFUSED: Final = 256


def positional(sql: str) -> tuple[str, tuple[str, ...]]:
    """``sql`` with its ``:name`` binds (as ``text`` reads them) numbered ``$1``, ``$2``, ... in
    order of first use, and the names in that order."""
    order: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in order:
            order.append(match.group(1))
        return f"${order.index(match.group(1)) + 1}"

    return BIND.sub(number, sql).replace("\\:", ":"), tuple(order)


@lru_cache(maxsize=256)
def _named(sql: str) -> tuple[str, str, tuple[str, ...]]:
    """(statement name, PREPARE body, parameter names in order) of ``sql``."""
    body, order = positional(sql)
    digest = hashlib.blake2b(body.encode(), digest_size=8).hexdigest()
    return f"timpora_{digest}", body, order


def _run(connection: Connection, sql: str) -> None:
    """A statement without parameters, sent as it is (the driver would read ``%`` in it)."""
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql)
    finally:
        cursor.close()


def execute_prepared(session: Session, sql: str, params: Mapping[str, Any]) -> Result[*TupleAny]:
    """Run ``sql`` (``:name`` parameters, as for ``text``) through a prepared statement of this
    session's connection, preparing it on first use."""
    connection = session.connection()
    if connection.dialect.paramstyle != "pyformat":
        return session.execute(text(sql), params)
    name, body, order = _named(sql)
    if name in _REFUSED:
        return session.execute(text(sql), params)
    prepared: OrderedDict[str, None] = connection.connection.info.setdefault(
        _INFO_KEY, OrderedDict()
    )
    if name in prepared:
        prepared.move_to_end(name)
    else:
        # In a savepoint of its own, so that a refusal leaves the transaction as it was.
        _run(connection, f"SAVEPOINT {name}")
        try:
            _run(connection, f"PREPARE {name} AS {body}")
        except connection.dialect.loaded_dbapi.Error:  # the driver's own: sent past SQLAlchemy
            _run(connection, f"ROLLBACK TO SAVEPOINT {name}")
            _run(connection, f"RELEASE SAVEPOINT {name}")
            if len(_REFUSED) < _MAX_REFUSED:
                _REFUSED.add(name)
            return session.execute(text(sql), params)
        _run(connection, f"RELEASE SAVEPOINT {name}")
        prepared[name] = None
        while len(prepared) > MAX_PER_CONNECTION:
            oldest, _ = prepared.popitem(last=False)
            _run(connection, f"DEALLOCATE {oldest}")
    arguments = ", ".join(f"%({key})s" for key in order)
    call = f"EXECUTE {name}({arguments})" if order else f"EXECUTE {name}"
    return connection.exec_driver_sql(call, {key: params[key] for key in order})
