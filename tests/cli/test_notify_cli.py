"""``timpora notify``: add (secret from stdin), list masked, test, digest --dry-run and send."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cli.main import app
from geo.users import create_user
from tests.geo.alert_synth import add_foreigner
from tests.geo.test_notify import PERSON, open_episode
from tests.mailserver import Mailbox, free_port, start_smtp, text_of

SECRET = "Mail-Pass-0f-the-office"


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    controller, box = start_smtp(free_port())
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture
def env(
    committed: Engine, database_url: str, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    with Session(committed) as s:
        create_user(session=s, name="ketua-cli", role="coordinator")
        fid = add_foreigner(s, name=PERSON)
        open_episode(s, "sighting_near_border", 4, key="cli:1", foreigner_id=fid)
        s.commit()
    values = {
        "TIMPORA_DATABASE_URL": database_url,
        "TIMPORA_SMTP_HOST": "127.0.0.1",
        "TIMPORA_SMTP_PORT": str(mailbox.port),
        "TIMPORA_SMTP_SECURITY": "insecure",
        "TIMPORA_SMTP_FROM": "timpora@office.example",
        "TIMPORA_NOTIFY_PUBLIC_URL": "https://timpora.example.go.id",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    yield


def test_notify_commands(env: None, mailbox: Mailbox, committed: Engine) -> None:
    runner = CliRunner()
    added = runner.invoke(
        app, ["notify", "add", "ketua@office.example", "--user", "ketua-cli", "--no-immediate"]
    )
    assert added.exit_code == 0, added.output
    # The office's channel comes on standard input (a secret); nothing listens on its port.
    channel = (
        f"mailto://ops:{SECRET}@127.0.0.1:{free_port()}/?to=pos@office.example"
        "&from=timpora@office.example&mode=insecure\n"
    )
    office = runner.invoke(
        app,
        ["notify", "add", "-", "--office", "Koordinator", "--role", "viewer", "--lang", "en"],
        input=channel,
    )
    assert office.exit_code == 0, office.output
    assert SECRET not in office.output
    listed = runner.invoke(app, ["notify", "list", "--format", "json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert [(r["owner"], r["min_severity"]) for r in rows] == [
        ("ketua-cli", None),
        ("Koordinator", 4),
    ]
    assert SECRET not in listed.output and rows[0]["target"] == "ke***@office.example"
    neither = runner.invoke(app, ["notify", "add", "x@office.example"])
    assert neither.exit_code == 1 and "--user" in neither.output

    tested = runner.invoke(app, ["notify", "test", str(rows[0]["id"])])
    assert tested.exit_code == 0, tested.output
    assert mailbox.wait_for(1)[0]["Subject"] == "[Timpora] Pesan uji Timpora Map"

    preview = runner.invoke(app, ["notify", "digest", "--dry-run"])
    assert preview.exit_code == 0, preview.output
    assert PERSON in preview.output  # the coordinator's digest names the subject
    assert "Daily digest" in preview.output and "Sighting near the border" in preview.output
    assert "https://timpora.example.go.id/#alerts" in preview.output
    with committed.connect() as c:
        assert (
            c.execute(text("SELECT count(*) FROM notify_outbox WHERE kind = 'digest'")).scalar_one()
            == 0
        )
        # The names printed here are audited like any read of personal data.
        audited = (
            c.execute(
                text("SELECT record_count FROM audit_log WHERE resource = 'notifications/digest'")
            )
            .scalars()
            .all()
        )
    assert audited == [1]

    sent = runner.invoke(app, ["notify", "digest"])
    assert sent.exit_code == 0, sent.output
    assert "2 digests queued" in sent.output
    mails = mailbox.wait_for(2)
    digest = next(m for m in mails if m["Subject"].startswith("[Timpora] Ringkasan harian"))
    assert PERSON in text_of(digest)
    # The office's mail server is down: it stays pending, to be retried by the service.
    with committed.connect() as c:
        pending = (
            c.execute(text("SELECT last_error FROM notify_outbox WHERE status = 'pending'"))
            .scalars()
            .all()
        )
    assert len(pending) == 1 and pending[0] and SECRET not in pending[0]

    removed = runner.invoke(app, ["notify", "remove", str(rows[1]["id"])])
    assert removed.exit_code == 0, removed.output
    with committed.connect() as c:
        # Its pending digest went with it; the delivered one stays.
        assert c.execute(text("SELECT status FROM notify_outbox")).scalars().all() == ["delivered"]
