from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import docx
from litestar.testing import AsyncTestClient

from confsvc.app import create_app
from confsvc.settings import Settings
from tests.preparation.conftest import Cast, add_static_bridge, book_meeting, future_start, with_preparation

PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def stored_files(settings: Settings) -> list[Path]:
    root = Path(settings.data_dir) / "materials"
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def docx_bytes() -> bytes:
    document = docx.Document()
    document.add_paragraph("季度预算草案")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def zip_without_word_part() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "not a word document")
    return buffer.getvalue()


async def test_upload_list_download_delete(client: AsyncTestClient, settings: Settings, cast: Cast) -> None:
    await add_static_bridge(client, cast.admin)
    meeting = await book_meeting(client, cast, starts_at=future_start())
    mid = meeting["id"]
    await client.put(f"/api/v1/meetings/{mid}/agenda", json={"items": [{"title": "预算", "needs_materials": True}]}, headers=cast.organiser.headers)
    content = docx_bytes()

    upload = await client.post(
        f"/api/v1/meetings/{mid}/materials",
        files={"file": ("预算草案.docx", content, "application/octet-stream")},
        data={"agenda_position": "1"},
        headers=cast.organiser.headers,
    )
    assert upload.status_code == 201, upload.text
    material = upload.json()
    assert material["sha256"] == hashlib.sha256(content).hexdigest()
    assert material["size_bytes"] == len(content)
    assert material["agenda_position"] == 1
    assert material["filename"] == "预算草案.docx"
    assert len(stored_files(settings)) == 1

    listed = await client.get(f"/api/v1/meetings/{mid}/materials", headers=cast.attendee.headers)
    assert [m["id"] for m in listed.json()] == [material["id"]]

    download = await client.get(f"/api/v1/meetings/{mid}/materials/{material['id']}", headers=cast.attendee.headers)
    assert download.status_code == 200
    assert download.content == content
    assert download.headers["x-content-sha256"] == material["sha256"]
    assert "attachment" in download.headers["content-disposition"]
    hidden = await client.get(f"/api/v1/meetings/{mid}/materials/{material['id']}", headers=cast.outsider.headers)
    assert hidden.status_code == 404

    denied = await client.delete(f"/api/v1/meetings/{mid}/materials/{material['id']}", headers=cast.attendee.headers)
    assert denied.status_code == 403
    deleted = await client.delete(f"/api/v1/meetings/{mid}/materials/{material['id']}", headers=cast.secretary.headers)
    assert deleted.status_code == 204
    assert stored_files(settings) == []
    assert (await client.get(f"/api/v1/meetings/{mid}/materials", headers=cast.organiser.headers)).json() == []


async def test_bad_uploads_leave_nothing(settings: Settings, cast: Cast) -> None:
    small = with_preparation(settings, material_max_bytes=4096)
    app = create_app(small, start_scheduler=False)
    async with AsyncTestClient(app=app) as client:
        await add_static_bridge(client, cast.admin)
        meeting = await book_meeting(client, cast, starts_at=future_start())
        url = f"/api/v1/meetings/{meeting['id']}/materials"
        cases = [
            ("oversize", ("big.pdf", PDF + b"0" * 8192, "application/pdf"), 413),
            ("extension", ("tool.exe", b"MZ\x90\x00" + b"\x00" * 60, "application/octet-stream"), 415),
            ("png named pdf", ("slides.pdf", PNG, "application/pdf"), 415),
            ("zip named docx", ("notes.docx", zip_without_word_part(), "application/octet-stream"), 415),
            ("binary named txt", ("notes.txt", b"abc\x00\xff\xfe", "text/plain"), 415),
            ("empty", ("empty.pdf", b"", "application/pdf"), 400),
        ]
        for label, file_part, status in cases:
            response = await client.post(url, files={"file": file_part}, headers=cast.organiser.headers)
            assert response.status_code == status, (label, response.text)
            assert response.json()["invalid_params"][0]["name"] == "file", label
            assert stored_files(small) == [], label

        wrong_item = await client.post(url, files={"file": ("a.pdf", PDF, "application/pdf")}, data={"agenda_position": "7"}, headers=cast.organiser.headers)
        assert wrong_item.status_code == 400
        outsider = await client.post(url, files={"file": ("a.pdf", PDF, "application/pdf")}, headers=cast.outsider.headers)
        assert outsider.status_code == 404
        not_multipart = await client.post(url, content=PDF, headers={**cast.organiser.headers, "Content-Type": "application/pdf"})
        assert not_multipart.status_code == 415
        assert stored_files(small) == []

        listed = await client.get(url, headers=cast.organiser.headers)
        assert listed.json() == []

        png = await client.post(url, files={"file": ("photo.JPEG", b"\xff\xd8\xff\xe0" + b"\x00" * 32, "image/jpeg")}, headers=cast.chair.headers)
        assert png.status_code == 201, png.text
        assert png.json()["content_type"] == "image/jpeg"
        assert len(stored_files(small)) == 1
