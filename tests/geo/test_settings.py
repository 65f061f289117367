"""Settings: placeholder secrets are refused in production, and messages carry no secret."""

from __future__ import annotations

import pytest

from geo.errors import ConfigurationError
from geo.settings import DatabaseSettings, ServiceSettings, Settings


@pytest.mark.parametrize(
    "password", [pytest.param("changeme", id="placeholder"), pytest.param("short1", id="short")]
)
def test_production_refuses_a_placeholder_database_password(password: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Settings(
            database=DatabaseSettings(database_url=f"postgresql://t:{password}@db:5432/timpora"),
            service=ServiceSettings(environment="production"),
        )
    assert "TIMPORA_DATABASE_URL" in str(info.value)
    assert password not in str(info.value)


def test_production_accepts_a_real_password_and_development_anything() -> None:
    real = "postgresql://t:Xq7-long-random-pass@db:5432/timpora"
    assert (
        Settings(
            database=DatabaseSettings(database_url=real),
            service=ServiceSettings(environment="production"),
        ).service.environment
        == "production"
    )
    weak = "postgresql://t:changeme@127.0.0.1:5432/timpora"
    Settings(database=DatabaseSettings(database_url=weak), service=ServiceSettings())
    # The embedded cluster makes its own random password: nothing to check.
    Settings(database=DatabaseSettings(), service=ServiceSettings(environment="production"))
