"""A material upload that does not fit on a real, full file system.

The materials folder (``CONFSVC_DATA_DIR/materials``) is a 256 KiB tmpfs. Mounting needs
root and a kernel that allows it, so the test skips with the reason otherwise.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from confsvc.app import create_app
from confsvc.db.engine import create_engine, create_session_factory
from confsvc.db.models import Material
from confsvc.settings import Settings
from tests.conftest import Account

TMPFS_BYTES = 256 * 1024


@pytest.fixture
def full_materials_dir(settings: Settings) -> Iterator[Path]:
    """Mount a tmpfs of TMPFS_BYTES as the materials folder and unmount it afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; the disk-full upload case is skipped")
    folder = Path(settings.data_dir) / "materials"
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES}", "tmpfs", str(folder)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"mount -t tmpfs is not permitted here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def _files_under(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()]


async def test_scale_upload_on_full_disk_leaves_nothing(
    settings: Settings, admin: Account, organiser: Account, full_materials_dir: Path
) -> None:
    starts = (datetime.now(UTC) + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    async with AsyncTestClient(app=create_app(settings, start_scheduler=False)) as client:
        bridge = await client.post(
            "/api/v1/bridges", headers=admin.headers,
            json={"name": "桥", "capacity": 10, "dial_in": [{"number": "+861012345678", "label": "北京"}]},
        )
        assert bridge.status_code == 201, bridge.text
        booked = await client.post(
            "/api/v1/meetings",
            json={"title": "磁盘写满演练", "starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=1)).isoformat(),
                  "attendees": [{"email": "li.na@example.com", "name": "李娜"}]},
            headers=organiser.headers,
        )
        assert booked.status_code == 201, booked.text
        materials = f"/api/v1/meetings/{booked.json()['id']}/materials"

        too_big = ("会议纪要草稿。\n" * 40_000).encode()  # about 800 KiB of UTF-8 text
        assert len(too_big) > TMPFS_BYTES
        response = await client.post(
            materials, files={"file": ("草稿.txt", too_big, "text/plain")},
            headers={**organiser.headers, "Accept-Language": "en"},
        )

        assert response.status_code == 503, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.headers["retry-after"] == "5"
        assert "storage is full" in response.json()["detail"]
        assert _files_under(full_materials_dir) == []  # neither the temporary nor a stored file
        listed = await client.get(materials, headers=organiser.headers)
        assert listed.status_code == 200
        assert listed.json() == []

        small = "议程说明。\n".encode() * 100
        accepted = await client.post(materials, files={"file": ("说明.txt", small, "text/plain")}, headers=organiser.headers)
        assert accepted.status_code == 201, accepted.text
        stored = _files_under(full_materials_dir)
        assert len(stored) == 1
        assert stored[0].read_bytes() == small

    engine = create_engine(settings.database)
    try:
        async with create_session_factory(engine)() as session:
            assert await session.scalar(select(func.count()).select_from(Material)) == 1
    finally:
        await engine.dispose()
