from __future__ import annotations

import os

import pytest

from scale_support import PG_ENV


@pytest.fixture
def pg_base_url() -> str:
    """The PostgreSQL server of the test run; tests make their own databases on it."""
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"{PG_ENV} is not set: PostgreSQL scale cases skipped")
    return url
