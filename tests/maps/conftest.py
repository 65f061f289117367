from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from tests.maps.seed import Seed, seed_map_data


@pytest.fixture
def seed(session: Session) -> Seed:
    return seed_map_data(session)
