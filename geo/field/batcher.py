"""Group commit for positions: many phones' requests, one transaction.

Each Traccar Client request carries one position and waits for its answer; a phone must not be
told "stored" before the position is committed, or a crash would lose what the phone then
deletes from its buffer. One transaction per request costs a commit (an fsync) and a round of
statements each; here the requests that arrive while a batch is being written wait together and
are written as the next batch, in one transaction, and each request is answered when that
commit returns. Under light load a batch is one position and nothing waits; under heavy load a
batch grows to ``max_batch`` and the commits per second stay few.

Framework-free (asyncio only): the API owns one batcher per process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager, suppress
from typing import Final

from sqlalchemy.orm import Session

from geo.field.osmand import Position
from geo.field.tracks import record_positions

MAX_BATCH: Final = 500


class PositionBatcher:
    """Queue positions from concurrent requests; write them in batches, one commit each."""

    def __init__(
        self,
        *,
        session_factory: Callable[[], AbstractContextManager[Session]],
        margin_m: float,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self.session_factory = session_factory
        self.margin_m = margin_m
        self.max_batch = max_batch
        self._queue: asyncio.Queue[tuple[Position, asyncio.Future[str]]] | None = None
        self._task: asyncio.Task[None] | None = None

    async def submit(self, position: Position) -> str:
        """The position's outcome once its batch is committed (``stored``, ``unknown_device``,
        ...). Raises what the write raised (the database is down, say)."""
        if self._queue is None or self._task is None or self._task.done():
            self._queue = asyncio.Queue()
            self._task = asyncio.create_task(self._run(self._queue), name="position-batcher")
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        await self._queue.put((position, future))
        return await future

    async def _run(self, queue: asyncio.Queue[tuple[Position, asyncio.Future[str]]]) -> None:
        while True:
            batch = [await queue.get()]
            while len(batch) < self.max_batch and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                outcomes = await asyncio.to_thread(self._write, [p for p, _ in batch])
            except Exception as exc:  # every waiting request gets the error
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if not future.done():
                    future.set_result(outcome)

    def _write(self, positions: list[Position]) -> list[str]:
        with self.session_factory() as session:
            result = record_positions(session=session, positions=positions, margin_m=self.margin_m)
        return result.outcomes

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None
