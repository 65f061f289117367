"""``timpora setup`` seeds the demo set only on a first run with reference geography."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo import registry
from geo.demo.seed import first_run_skip_reason
from geo.settings import Settings
from geo.users import Principal
from tests.api.helpers import SAMPLES


def test_first_run_reasons(session: Session, settings: Settings) -> None:
    assert first_run_skip_reason(session=session) is None
    registry.create_feature(
        session=session,
        layer=registry.get_layer("foreigners"),
        body=SAMPLES["foreigners"],
        principal=Principal(name="uji", role="admin"),
        area=settings.area,
    )
    assert first_run_skip_reason(session=session) == "the registry already holds foreigners"
    session.execute(text("DELETE FROM foreigner"))
    session.execute(text("DELETE FROM admin_area WHERE level = 'kecamatan'"))
    assert first_run_skip_reason(session=session) == "no reference geography loaded"
