from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture
def ics() -> Callable[[str], bytes]:
    """Return a reader of files under tests/data, e.g. ics("01-.../request.ics")."""

    def read(relative: str) -> bytes:
        return (DATA / relative).read_bytes()

    return read
