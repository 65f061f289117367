"""Imports as background jobs: each runs in a worker process, off the serving process.

A job is submitted with the uploaded file already on disk and returns at once; a worker process
(``import_workers`` of them, started on first use with ``spawn``) runs :func:`import_file` with a
database engine of its own and sends progress back over a queue, which a thread of the serving
process applies to the job. The import's CPU work (parsing, validation, location) therefore holds
neither the event loop nor the serving process's GIL: ``/healthz`` and every other request keep
answering while a million rows load.

Jobs live in the memory of the process that serves them (the API runs as one process): at most
``import_max_jobs``, the oldest finished ones forgotten first. A restart forgets them; an import
cut off by a restart is rolled back whole (imports are all or nothing). Only the user who
submitted a job, or an admin, can read it: its per-row report may quote personal values.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import multiprocessing
import os
import shutil
import threading
import time
import uuid
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from geo import errors
from geo.io.readers import ReadLimits
from geo.roles import use_agency
from geo.settings import AreaSettings, DatabaseSettings, ImportSettings
from geo.sharing import WHOLE_TIMPORA, Sharing
from geo.users import Principal

log = logging.getLogger("timpora.imports")

Status = Literal["queued", "running", "succeeded", "failed"]
# Progress is sent at most this often per job (the stages report every chunk).
PROGRESS_INTERVAL_S: Final = 0.25
ADMIN_ROLE: Final = "admin"
# Worker processes run at a lower CPU priority than the serving process.
WORKER_NICENESS: Final = 10


@dataclass
class ImportJob:
    """One import: what was sent, how far it got, and how it ended."""

    id: str
    layer: str
    source: str
    dry_run: bool
    owner: str
    created_at: dt.datetime
    status: Status = "queued"
    stage: str | None = None
    done: int = 0
    total: int = 0
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    report: dict[str, Any] | None = None
    error: errors.TimporaError | None = None
    workdir: Path | None = field(default=None, repr=False)
    # Whom the new rows are shared with (incidents and sightings; None for other layers).
    sharing: dict[str, Any] | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("succeeded", "failed")

    def as_dict(self) -> dict[str, Any]:
        """The job without its error (the API renders errors with their status code)."""
        return {
            "id": self.id,
            "layer": self.layer,
            "source": self.source,
            "dry_run": self.dry_run,
            "sharing": self.sharing,
            "status": self.status,
            "progress": {"stage": self.stage, "done": self.done, "total": self.total},
            "created_at": self.created_at.isoformat(),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "report": self.report,
        }


@dataclass(frozen=True)
class _Work:
    """What a worker process needs to run one job (picklable)."""

    job_id: str
    layer: str
    path: str
    source: str
    dry_run: bool
    principal: Principal
    client: str | None
    database: DatabaseSettings
    area: AreaSettings
    limits: ReadLimits
    sharing: Sharing = WHOLE_TIMPORA


class ImportJobs:
    """The jobs of one serving process and the worker processes that run them."""

    def __init__(
        self, *, database: DatabaseSettings, area: AreaSettings, settings: ImportSettings
    ) -> None:
        self.database = database
        self.area = area
        self.settings = settings
        self.limits = ReadLimits(
            max_uncompressed_bytes=settings.import_max_uncompressed_bytes,
            max_rows=settings.import_max_rows,
        )
        self._jobs: dict[str, ImportJob] = {}
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._progress: Any = None  # a multiprocessing queue, made with the pool
        self._listener: threading.Thread | None = None
        self._closed = False

    def workdir(self) -> Path:
        """A fresh folder for an upload; the job removes it when it ends."""
        import tempfile

        return Path(tempfile.mkdtemp(prefix="timpora-import-"))

    def submit(
        self,
        *,
        layer: str,
        path: Path,
        source: str,
        dry_run: bool,
        principal: Principal,
        client: str | None,
        sharing: Sharing = WHOLE_TIMPORA,
        shows_sharing: bool = False,
    ) -> ImportJob:
        """Queue the import of ``path`` (inside a folder from :meth:`workdir`, which the job
        then owns); raises RateLimitedError when ``import_max_jobs`` are waiting or running.

        ``sharing`` (checked by the caller: ``geo.sharing.parse_sharing``) is written on the new
        rows; the job shows it when ``shows_sharing`` (a layer whose records carry one)."""
        job = ImportJob(
            id=uuid.uuid4().hex,
            layer=layer,
            source=source,
            dry_run=dry_run,
            owner=principal.name,
            created_at=dt.datetime.now(dt.UTC),
            workdir=path.parent,
            sharing=sharing.as_dict() if shows_sharing else None,
        )
        with self._lock:
            if self._closed:
                raise errors.DatabaseUnavailableError("the service is shutting down; retry")
            self._forget_finished()
            if len(self._jobs) >= self.settings.import_max_jobs:
                raise errors.RateLimitedError(
                    f"{len(self._jobs)} imports are waiting or running, the most "
                    f"TIMPORA_IMPORT_MAX_JOBS allows; retry when one has finished",
                    retry_after_s=30,
                )
            self._jobs[job.id] = job
            pool = self._ensure_pool()
        work = _Work(
            job_id=job.id,
            layer=layer,
            path=str(path),
            source=source,
            dry_run=dry_run,
            principal=principal,
            client=client,
            database=self.database,
            area=self.area,
            limits=self.limits,
            sharing=sharing,
        )
        try:
            future = pool.submit(_run, work)
        except RuntimeError as exc:  # a broken pool (a worker died): make a new one next time
            with self._lock:
                self._pool = None
            self._finish(job.id, {"error": _error_state(exc)})
            return job
        future.add_done_callback(functools.partial(self._done, job.id))
        return job

    def get(self, job_id: str, principal: Principal) -> ImportJob:
        """The job, for its owner or an admin; NotFoundError otherwise (no hint it exists)."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or (job.owner != principal.name and principal.role != ADMIN_ROLE):
            raise errors.NotFoundError(f"no import job {job_id!r}")
        return job

    def close(self) -> None:
        """Stop the workers (a running import is rolled back by its database session ending)."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if self._progress is not None:
            self._progress.put(None)
        if self._listener is not None:
            self._listener.join(timeout=5)

    # -- inside the serving process ------------------------------------------------------------

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            context = multiprocessing.get_context("spawn")  # no fork of a threaded server
            if self._progress is None:
                self._progress = context.Queue()
                self._listener = threading.Thread(
                    target=self._listen, name="timpora-import-progress", daemon=True
                )
                self._listener.start()
            self._pool = ProcessPoolExecutor(
                max_workers=self.settings.import_workers,
                mp_context=context,
                initializer=_init_worker,
                initargs=(self._progress, WORKER_NICENESS),
            )
        return self._pool

    def _listen(self) -> None:
        while True:
            try:
                message = self._progress.get()
            except (EOFError, OSError):
                return
            if message is None:
                return
            job_id, stage, done, total = message
            with self._lock:
                job = self._jobs.get(job_id)
                if job is None or job.finished:
                    continue
                if job.status == "queued":
                    job.status = "running"
                    job.started_at = dt.datetime.now(dt.UTC)
                job.stage, job.done, job.total = stage, done, total

    def _done(self, job_id: str, future: Future[dict[str, Any]]) -> None:
        try:
            outcome = future.result()
        except BaseException as exc:  # the worker died or the job was cancelled at shutdown
            outcome = {"error": _error_state(exc)}
        self._finish(job_id, outcome)

    def _finish(self, job_id: str, outcome: dict[str, Any]) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return
            job.finished_at = dt.datetime.now(dt.UTC)
            job.started_at = job.started_at or outcome.get("started_at") or job.finished_at
            if "report" in outcome:
                job.status, job.report = "succeeded", outcome["report"]
            else:
                job.status, job.error = "failed", _error_from(outcome["error"])
            workdir, job.workdir = job.workdir, None
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)

    def _forget_finished(self) -> None:
        """Drop the oldest finished jobs beyond the cap (called with the lock held)."""
        over = len(self._jobs) - self.settings.import_max_jobs + 1
        if over <= 0:
            return
        finished = sorted(
            (j for j in self._jobs.values() if j.finished),
            key=lambda j: j.finished_at or j.created_at,
        )
        for job in finished[:over]:
            del self._jobs[job.id]


# -- inside a worker process -------------------------------------------------------------------

_PROGRESS: Any = None
_DATABASES: dict[str, Any] = {}


def _init_worker(progress: Any, niceness: int) -> None:
    global _PROGRESS
    _PROGRESS = progress
    # A bulk import may take a minute of CPU; requests come first on a small machine.
    os.nice(niceness)


def _run(work: _Work) -> dict[str, Any]:
    """Run one import to the end and say how it went, as plain values (errors do not pickle)."""
    from geo.db import Database
    from geo.io.importer import ImportOptions, import_file
    from geo.io.load import LoadOptions

    started = dt.datetime.now(dt.UTC)
    last = [0.0]

    def progress(stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if done == 0 or done >= total or now - last[0] >= PROGRESS_INTERVAL_S:
            last[0] = now
            _PROGRESS.put((work.job_id, stage, int(done), int(total)))

    progress("start", 0, 1)  # marks the job running
    try:
        key = repr(work.database.model_dump())
        database = _DATABASES.get(key)
        if database is None:
            # Imports may rightly run for minutes: maintenance sessions (no request timeout).
            database = _DATABASES[key] = Database.from_settings(work.database, maintenance=True)
        with database.session() as session:
            use_agency(session, work.principal.agency_id)
            report = import_file(
                session=session,
                layer=work.layer,
                path=Path(work.path),
                area=work.area,
                principal=work.principal,
                client=work.client,
                source_name=work.source,
                # One loading session: the other core stays with the requests.
                options=ImportOptions(
                    dry_run=work.dry_run,
                    limits=work.limits,
                    load=LoadOptions(load_workers=1),
                    sharing=work.sharing,
                ),
                progress=progress,
            )
    except errors.TimporaError as exc:
        return {"error": _error_state(exc), "started_at": started}
    except Exception as exc:
        log.exception("import job %s failed", work.job_id)
        return {"error": _error_state(exc), "started_at": started}
    return {"report": report.as_dict(), "started_at": started}


def _error_state(exc: BaseException) -> dict[str, Any]:
    """An error as plain values; anything but a domain error is reported without its detail."""
    if isinstance(exc, errors.TimporaError):
        return {
            "type": type(exc).__name__,
            "message": exc.message,
            "field": getattr(exc, "field", None),
            "value": getattr(exc, "value", None),
            "details": exc.details,
        }
    return {"type": "TimporaError", "message": "the import failed unexpectedly; see the log"}


def _error_from(state: dict[str, Any]) -> errors.TimporaError:
    """The domain error a worker reported, rebuilt in the serving process."""
    cls = getattr(errors, str(state["type"]), None)
    if isinstance(cls, type) and issubclass(cls, errors.ValidationError):
        return cls(
            state["message"],
            field=state.get("field"),
            value=state.get("value"),
            details=state.get("details"),
        )
    if isinstance(cls, type) and issubclass(cls, errors.RateLimitedError):
        return cls(state["message"], retry_after_s=30)
    if isinstance(cls, type) and issubclass(cls, errors.TimporaError):
        return cls(state["message"], details=state.get("details"))
    return errors.TimporaError(state["message"])
