"""Live alerts: one LISTEN connection per process fanning out to subscribers.

A psycopg2 connection in a background thread LISTENs on ``timpora_alert`` (the trigger of
migration 0005 sends the new ids at commit), loads those alerts once and hands each subscriber
its copy through its asyncio loop. Nothing polls the alert table. Framework-free: the API turns
a subscription into Server-Sent Events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import select
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import psycopg2
import psycopg2.extensions
from sqlalchemy import Engine

from geo.alerts.service import features_by_ids_engine

log = logging.getLogger("timpora.alerts.stream")

CHANNEL: Final = "timpora_alert"
QUEUE_SIZE: Final = 1000


@dataclass(eq=False)
class Subscription:
    role: str
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[dict[str, Any] | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_SIZE)
    )
    dropped: int = 0

    def offer(self, feature: dict[str, Any] | None) -> None:
        """Called on the subscriber's loop: enqueue, or count a drop for a slow client."""
        try:
            self.queue.put_nowait(feature)
        except asyncio.QueueFull:
            self.dropped += 1


class AlertHub:
    """LISTEN in a thread, fan out to asyncio subscribers; ``on_alerts`` hooks (e.g. webhooks).

    A hub of another live feed sets ``channel`` and overrides ``_dispatch`` (the teams' last
    positions: ``geo.field.live``)."""

    channel: str = CHANNEL

    def __init__(self, engine: Engine, on_alerts: Callable[[list[int]], None] | None = None):
        self.engine = engine
        self.on_alerts = on_alerts
        self._subs: set[Subscription] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        # A byte written here wakes the listening thread's select at once on stop (else it
        # would see the stop only at its next timeout: every app shutdown waited for it).
        self._wake_r, self._wake_w = os.pipe()
        self.listening = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"listen-{self.channel}", daemon=True
        )

    # -- subscribers --------------------------------------------------------------------------

    def subscribe(self, role: str) -> Subscription:
        sub = Subscription(role=role, loop=asyncio.get_running_loop())
        with self._lock:
            self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subs.discard(sub)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subs)

    def publish(self, features: list[dict[str, Any]]) -> None:
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            for feature in features:
                try:
                    sub.loop.call_soon_threadsafe(sub.offer, feature)
                except RuntimeError:  # the subscriber's loop is closed
                    self.unsubscribe(sub)

    # -- the listening thread -----------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):  # closed by an earlier stop
            os.write(self._wake_w, b"x")
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        if not self._thread.is_alive():
            for fd in (self._wake_r, self._wake_w):
                with contextlib.suppress(OSError):
                    os.close(fd)
        with self._lock:
            subs = list(self._subs)
        for sub in subs:  # end every open stream
            with contextlib.suppress(RuntimeError):
                sub.loop.call_soon_threadsafe(sub.offer, None)

    def _connect(self) -> psycopg2.extensions.connection:
        args = self.engine.url.translate_connect_args(username="user", database="dbname")
        conn: psycopg2.extensions.connection = psycopg2.connect(
            application_name="timpora-listen", connect_timeout=5, **args
        )
        conn.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
        with conn.cursor() as cur:
            cur.execute(f"LISTEN {self.channel}")
        return conn

    def _run(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                conn = self._connect()
            except psycopg2.Error as exc:
                log.warning("alert listener cannot connect (%s); retrying", str(exc).strip())
                self._stop.wait(delay)  # set by stop(), which returns it at once
                delay = min(delay * 2, 10.0)
                continue
            delay = 0.5
            self.listening.set()
            try:
                self._listen(conn)
            except (psycopg2.Error, OSError) as exc:
                log.warning("alert listener lost its connection (%s); reconnecting", exc)
            finally:
                self.listening.clear()
                conn.close()

    def _listen(self, conn: psycopg2.extensions.connection) -> None:
        fd = conn.fileno()
        while not self._stop.is_set():
            ready, _, _ = select.select([fd, self._wake_r], [], [], 5.0)
            if fd not in ready:
                continue  # a timeout, or stop() woke us: the loop's test decides
            conn.poll()
            ids: list[int] = []
            while conn.notifies:
                note = conn.notifies.pop(0)
                ids.extend(int(x) for x in note.payload.split(",") if x)
            if ids:
                self._dispatch(ids)

    def _dispatch(self, ids: list[int]) -> None:
        if self.on_alerts is not None:
            self.on_alerts(ids)
        if not self.subscribers:
            return
        try:
            features = features_by_ids_engine(self.engine, ids)
        except Exception:
            log.exception("could not load alerts %s for the stream", ids[:10])
            return
        self.publish(features)
