"""Test fixtures: a real PostGIS for the whole run, one rolled-back transaction per test.

The suite starts a throwaway cluster of its own under a temporary directory, or uses
``TIMPORA_TEST_DATABASE_URL`` (the owner's URL) when set. It migrates once, as the owner, and
makes the service's login role (``timpora_app``, docs/privacy.md) as ``timpora setup`` does:
``database`` and the apps built on it connect as that login, and the requests of ``client``
run under ``timpora_personal`` or ``timpora_aggregate`` as they do in the service. Fixtures that
load data use the owner's ``engine``. Skips are failures (see ``pytest_sessionfinish``): a
database test that silently does not run proves nothing.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from geo.cluster import EmbeddedCluster, free_port_from
from geo.db import Database
from geo.migrate import upgrade
from geo.roles import SERVICE_LOGIN, clear_role, provision_service_login
from geo.settings import AreaSettings, DatabaseSettings, ServiceSettings, Settings

# A pytest-xdist worker inherits COLUMNS=80 and LINES=24 from its launcher; rich would then lay
# the command line's piped output out 80 columns wide and cut table cells (cli.common reads the
# environment when it is imported, after this file).
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.pop("COLUMNS", None)
    os.environ.pop("LINES", None)

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
ARTIFACTS = ROOT / "artifacts"

# Tables holding run-time data (not reference geography); emptied by ``committed``.
RUNTIME_TABLES = (
    "follow_up_note",
    "follow_up_link",
    "follow_up_action",
    "coordination_meeting",
    "alert",
    "audit_log",
    "incident_foreigner",
    "incident",
    "sighting",
    "foreigner",
    "inspection_plan_stop",
    "inspection_plan",
    "workplace",
    "app_user",
    "patrol_log",
    "webhook",
    "notify_subscription",
    "field_photo",
    "track_position",
    "field_refusal",
    "field_device",
    "patrol_team",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--allow-skips",
        action="store_true",
        default=False,
        help="do not turn skipped tests into a failed run (never in CI)",
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped and not session.config.getoption("--allow-skips") and exitstatus == 0:
        if reporter:
            reporter.write_line(
                f"FAILED: {skipped} test(s) skipped; skips are not allowed", red=True
            )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    external = os.environ.get("TIMPORA_TEST_DATABASE_URL")
    if external:
        yield external
        return
    base = Path(tempfile.mkdtemp(prefix="timpora-test-"))
    base.chmod(0o755)
    cluster = EmbeddedCluster(base, preferred_port=free_port_from(55432), ephemeral=True)
    cluster.init()
    cluster.start()
    try:
        yield cluster.url()
    finally:
        cluster.destroy()


@pytest.fixture(scope="session")
def service_url(database_url: str) -> str:
    """The service login's URL (made by ``engine``, after the migrations)."""
    owner = make_url(database_url)
    return owner.set(username=SERVICE_LOGIN, password=secrets.token_urlsafe(24)).render_as_string(
        hide_password=False
    )


@pytest.fixture(scope="session")
def settings(database_url: str, service_url: str) -> Settings:
    return Settings(
        database=DatabaseSettings(
            database_url=service_url, database_owner_url=database_url, pool_size=5
        ),
        area=AreaSettings(reference_data_dir=SHARED_DATA),
        service=ServiceSettings(environment="test", rate_limit_per_minute=0),
    )


@pytest.fixture(scope="session")
def engine(settings: Settings, database_url: str, service_url: str) -> Iterator[Engine]:
    """The owner's engine: migrations, and the fixtures that load data."""
    eng = create_engine(make_url(database_url).set(drivername="postgresql+psycopg2"))
    upgrade(eng)
    provision_service_login(eng, make_url(service_url))
    _prepare_reference_data(eng, settings)
    yield eng
    eng.dispose()


def _prepare_reference_data(eng: Engine, settings: Settings) -> None:
    """Load the reference geography once per run, where the loader exists."""
    try:
        from geo.boundaries import load_reference_data
    except ImportError:
        return
    with Session(eng) as session:
        load_reference_data(session=session, settings=settings)
        session.commit()


@pytest.fixture(scope="session")
def database(settings: Settings, engine: Engine) -> Iterator[Database]:
    """The service's own connection: the login ``timpora_app``, as ``timpora serve`` uses."""
    db = Database.from_settings(settings.database)
    yield db
    db.dispose()


@pytest.fixture
def empty_database(engine: Engine) -> Iterator[Engine]:
    """A new, empty database on the test cluster (no migrations), dropped afterwards."""
    import uuid

    name = f"timpora_scratch_{uuid.uuid4().hex[:8]}"
    admin = create_engine(engine.url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    eng = create_engine(engine.url.set(database=name))
    try:
        yield eng
    finally:
        eng.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    conn = engine.connect()
    outer = conn.begin()
    try:
        yield conn
    finally:
        if outer.is_active:
            outer.rollback()
        conn.close()


@pytest.fixture
def session(connection: Connection) -> Iterator[Session]:
    """A session inside the test's transaction: its commits are savepoints, all rolled back."""
    with Session(bind=connection, join_transaction_mode="create_savepoint") as sess:
        yield sess


@pytest.fixture
def committed(engine: Engine) -> Iterator[Engine]:
    """For tests that need real commits (concurrency, LISTEN/NOTIFY, subprocesses).

    Empties the run-time tables afterwards so other tests see the usual state.
    """
    yield engine
    with engine.begin() as conn:
        existing = set(
            conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            ).scalars()
        )
        tables = [t for t in RUNTIME_TABLES if t in existing]
        if tables:
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


@pytest.fixture
def app(settings: Settings, database: Database, session: Session):  # type: ignore[no-untyped-def]
    """The FastAPI app wired to the test's session (rolled back after the test)."""
    from api.app import create_app
    from api.deps import get_session

    application = create_app(settings, database)

    application.dependency_overrides[get_session] = request_session(session)
    return application


def request_session(session: Session) -> Callable[[], Iterator[Session]]:
    """A ``get_session`` override that hands the test's session to each request.

    A request runs under its caller's database role (``timpora_personal`` or
    ``timpora_aggregate``); afterwards the test goes on as the owner.
    """

    def _session() -> Iterator[Session]:
        try:
            yield session
            session.flush()
        finally:
            try:
                clear_role(session)
            except DBAPIError:
                session.rollback()  # a failed request's savepoint; then the role goes too
                clear_role(session)

    return _session


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def live_server(settings: Settings, database: Database) -> Iterator[str]:
    """A real uvicorn server on 127.0.0.1 and a free port, on the test database; yields its URL.

    It sees committed data only: use it with ``committed`` (which empties the run-time tables).
    """
    import socket
    import threading
    import time

    import uvicorn

    from api.app import create_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Its webhook worker shares the test database with the loopback receivers of the delivery
    # tests (tests/geo/test_alerts_delivery.py): it must allow them as those tests do. It sends
    # no notifications: the notification tests drive the sender themselves, and a second sender
    # on the same outbox would claim their rows (tests/geo/test_notify.py).
    served = Settings(
        database=settings.database,
        area=settings.area,
        service=settings.service.model_copy(update={"webhook_allow_private": True}),
        notify=settings.notify.model_copy(update={"notify_sender": False}),
    )
    config = uvicorn.Config(
        create_app(served, database),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the live server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
