"""The S3 material store end to end: the HTTP API against a local S3-protocol server."""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docx
import pytest
from litestar.testing import AsyncTestClient

from confsvc.app import create_app
from confsvc.cli import main
from confsvc.errors import ConfigurationError
from confsvc.settings import Settings
from tests.outbox.sink import free_port
from tests.preparation.conftest import Cast, add_static_bridge, book_meeting, future_start
from tests.preparation.s3_support import S3Server, with_s3_store

PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


def docx_bytes() -> bytes:
    document = docx.Document()
    document.add_paragraph("季度预算草案")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def new_bucket(server: S3Server) -> str:
    bucket = f"materials-{uuid.uuid4().hex[:12]}"
    server.client().create_bucket(Bucket=bucket)
    return bucket


def local_files(settings: Settings) -> list[Path]:
    """Files left under the local materials folder, temporary uploads included."""
    root = Path(settings.data_dir) / "materials"
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


async def upload(client: AsyncTestClient, cast: Cast, meeting_id: str, name: str, content: bytes, **data: str) -> Any:
    return await client.post(
        f"/api/v1/meetings/{meeting_id}/materials",
        files={"file": (name, content, "application/octet-stream")},
        data=data,
        headers=cast.organiser.headers,
    )


async def test_s3_upload_download_delete(settings: Settings, cast: Cast, s3_server: S3Server) -> None:
    bucket = new_bucket(s3_server)
    s3_settings = with_s3_store(settings, s3_server.endpoint_url, bucket)
    content = docx_bytes()
    async with AsyncTestClient(app=create_app(s3_settings, start_scheduler=False)) as client:
        await add_static_bridge(client, cast.admin)
        meeting = await book_meeting(client, cast, starts_at=future_start())
        mid = meeting["id"]
        agenda = {"items": [{"title": "预算", "needs_materials": True}]}
        assert (await client.put(f"/api/v1/meetings/{mid}/agenda", json=agenda, headers=cast.organiser.headers)).status_code == 200

        uploaded = await upload(client, cast, mid, "预算 草案.docx", content, agenda_position="1")
        assert uploaded.status_code == 201, uploaded.text
        material = uploaded.json()
        digest = hashlib.sha256(content).hexdigest()
        assert material["sha256"] == digest
        key = f"confsvc/materials/{mid}/{material['id']}.docx"
        assert s3_server.keys(bucket) == [key]
        head = s3_server.client().head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        assert head["ContentLength"] == len(content)
        assert head["Metadata"]["sha256"] == digest
        assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(content).digest()).decode()
        assert head["ContentType"].startswith("application/vnd.openxmlformats")
        assert local_files(s3_settings) == []

        url = f"/api/v1/meetings/{mid}/materials/{material['id']}"
        download = await client.get(url, headers=cast.attendee.headers)
        assert download.status_code == 200, download.text
        assert download.content == content
        assert download.headers["x-content-sha256"] == digest
        assert download.headers["content-disposition"] == "attachment; filename*=UTF-8''%E9%A2%84%E7%AE%97%20%E8%8D%89%E6%A1%88.docx"
        assert (await client.get(url, headers=cast.outsider.headers)).status_code == 404

        deleted = await client.delete(url, headers=cast.secretary.headers)
        assert deleted.status_code == 204
        assert s3_server.keys(bucket) == []
        assert (await client.get(f"/api/v1/meetings/{mid}/materials", headers=cast.organiser.headers)).json() == []


async def test_s3_md5_checksum_and_missing_object(settings: Settings, cast: Cast, s3_server: S3Server) -> None:
    bucket = new_bucket(s3_server)
    s3_settings = with_s3_store(settings, s3_server.endpoint_url, bucket, s3_checksum="md5", s3_prefix="")
    async with AsyncTestClient(app=create_app(s3_settings, start_scheduler=False)) as client:
        await add_static_bridge(client, cast.admin)
        meeting = await book_meeting(client, cast, starts_at=future_start())
        mid = meeting["id"]
        uploaded = await upload(client, cast, mid, "议程.pdf", PDF)
        assert uploaded.status_code == 201, uploaded.text
        key = f"{mid}/{uploaded.json()['id']}.pdf"
        assert s3_server.keys(bucket) == [key]
        head = s3_server.client().head_object(Bucket=bucket, Key=key)
        assert head["ETag"].strip('"') == hashlib.md5(PDF, usedforsecurity=False).hexdigest()

        # An object removed behind the service's back is a clear 404, not a broken stream.
        s3_server.client().delete_object(Bucket=bucket, Key=key)
        url = f"/api/v1/meetings/{mid}/materials/{uploaded.json()['id']}"
        missing = await client.get(url, headers=cast.organiser.headers)
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")
        assert (await client.delete(url, headers=cast.organiser.headers)).status_code == 204


async def test_s3_missing_bucket_leaves_nothing(settings: Settings, cast: Cast, s3_server: S3Server) -> None:
    s3_settings = with_s3_store(settings, s3_server.endpoint_url, f"absent-{uuid.uuid4().hex[:12]}")
    async with AsyncTestClient(app=create_app(s3_settings, start_scheduler=False)) as client:
        await add_static_bridge(client, cast.admin)
        meeting = await book_meeting(client, cast, starts_at=future_start())
        response = await upload(client, cast, meeting["id"], "议程.pdf", PDF)
        assert response.status_code == 503, response.text
        problem = response.json()
        assert problem["reason"] == "bucket_missing"
        assert "CONFSVC_S3_BUCKET" in problem["detail"]
        assert "retry-after" not in response.headers
        listed = await client.get(f"/api/v1/meetings/{meeting['id']}/materials", headers=cast.organiser.headers)
        assert listed.json() == []
    assert local_files(s3_settings) == []


class RecordingHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def store_log() -> Iterator[RecordingHandler]:
    """Records of the store module's logger.

    The app reconfigures logging at startup and drops pytest's handler from the root
    logger, so the handler sits on the module's own logger.
    """
    recorder = RecordingHandler()
    store_logger = logging.getLogger("confsvc.preparation.storage")
    store_logger.addHandler(recorder)
    yield recorder
    store_logger.removeHandler(recorder)


async def test_s3_bad_credentials_leave_nothing(
    settings: Settings, cast: Cast, s3_server: S3Server, store_log: RecordingHandler
) -> None:
    bucket = new_bucket(s3_server)
    async with AsyncTestClient(app=create_app(settings, start_scheduler=False)) as client:
        await add_static_bridge(client, cast.admin)
        meeting = await book_meeting(client, cast, starts_at=future_start())

    with s3_server.required_auth() as (valid_key_id, valid_secret):
        cases = [
            ("unknown key id", "AKIDUNKNOWN000000000", "whatever-secret", "InvalidAccessKeyId"),
            ("wrong secret", valid_key_id, "wrong-secret", "SignatureDoesNotMatch"),
            ("no permission", valid_key_id, valid_secret, "AccessDenied"),
        ]
        for label, key_id, secret, code in cases:
            s3_settings = with_s3_store(
                settings, s3_server.endpoint_url, bucket, s3_access_key_id=key_id, s3_secret_access_key=secret
            )
            async with AsyncTestClient(app=create_app(s3_settings, start_scheduler=False)) as client:
                response = await upload(client, cast, meeting["id"], "议程.pdf", PDF)
                assert response.status_code == 503, (label, response.text)

                problem = response.json()
                assert problem["reason"] == "access_denied", label
                assert code in problem["detail"], label
                assert "CONFSVC_S3_SECRET_ACCESS_KEY" in problem["detail"], label
                assert secret not in problem["detail"], label

                listed = await client.get(f"/api/v1/meetings/{meeting['id']}/materials", headers=cast.organiser.headers)
                assert listed.json() == [], label
            assert local_files(s3_settings) == [], label

    assert s3_server.keys(bucket) == []
    logged = "\n".join(store_log.lines)
    assert "reason=access_denied" in logged
    for _label, _key_id, secret, _code in cases:
        assert secret not in logged


async def test_s3_server_down_is_503(settings: Settings, cast: Cast, s3_server: S3Server) -> None:
    bucket = new_bucket(s3_server)
    live = with_s3_store(settings, s3_server.endpoint_url, bucket)
    down = with_s3_store(settings, f"http://127.0.0.1:{free_port()}", bucket, s3_timeout_seconds=1)
    async with AsyncTestClient(app=create_app(live, start_scheduler=False)) as client:
        await add_static_bridge(client, cast.admin)
        meeting = await book_meeting(client, cast, starts_at=future_start())
        kept = await upload(client, cast, meeting["id"], "议程.pdf", PDF)
        assert kept.status_code == 201, kept.text
    material_url = f"/api/v1/meetings/{meeting['id']}/materials/{kept.json()['id']}"

    async with AsyncTestClient(app=create_app(down, start_scheduler=False)) as client:
        refused = await upload(client, cast, meeting["id"], "纪要.pdf", PDF)
        assert refused.status_code == 503, refused.text
        assert refused.json()["reason"] == "unavailable"
        assert refused.headers["retry-after"] == "5"

        download = await client.get(material_url, headers=cast.organiser.headers)
        assert download.status_code == 503
        assert download.json()["reason"] == "unavailable"

        # The row stays when its object cannot be deleted.
        deleted = await client.delete(material_url, headers=cast.organiser.headers)
        assert deleted.status_code == 503
        listed = await client.get(f"/api/v1/meetings/{meeting['id']}/materials", headers=cast.organiser.headers)
        assert [item["id"] for item in listed.json()] == [kept.json()["id"]]
    assert local_files(down) == []
    assert len(s3_server.keys(bucket)) == 1


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({}, "CONFSVC_S3_BUCKET"),
        ({"CONFSVC_S3_BUCKET": "materials", "CONFSVC_S3_ACCESS_KEY_ID": "AKID1"}, "CONFSVC_S3_SECRET_ACCESS_KEY"),
        ({"CONFSVC_S3_BUCKET": "materials", "CONFSVC_S3_SECRET_ACCESS_KEY": "s3cr3t-value"}, "CONFSVC_S3_ACCESS_KEY_ID"),
        ({"CONFSVC_S3_BUCKET": "materials", "CONFSVC_S3_ENDPOINT_URL": "minio:9000"}, "CONFSVC_S3_ENDPOINT_URL"),
        ({"CONFSVC_S3_BUCKET": "materials", "CONFSVC_S3_ADDRESSING_STYLE": "dns"}, "CONFSVC_S3_ADDRESSING_STYLE"),
        ({"CONFSVC_S3_BUCKET": "materials", "CONFSVC_S3_CHECKSUM": "crc32"}, "CONFSVC_S3_CHECKSUM"),
        ({"CONFSVC_S3_BUCKET": "materials", "CONFSVC_S3_PREFIX": "a/../b"}, "CONFSVC_S3_PREFIX"),
    ],
)
def test_s3_settings_name_the_variable(environ: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_env({"CONFSVC_MATERIALS_STORE": "s3", **environ})
    assert variable in str(raised.value)
    assert "s3cr3t-value" not in str(raised.value)


def test_serve_without_bucket_stops(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CONFSVC_MATERIALS_STORE", "s3")
    monkeypatch.delenv("CONFSVC_S3_BUCKET", raising=False)
    assert main(["serve"]) == 2
    assert "CONFSVC_S3_BUCKET is missing" in capsys.readouterr().err


def test_s3_secrets_masked_in_settings() -> None:
    settings = Settings.from_env(
        {
            "CONFSVC_MATERIALS_STORE": "s3",
            "CONFSVC_S3_BUCKET": "materials",
            "CONFSVC_S3_ACCESS_KEY_ID": "AKIDEXAMPLE",
            "CONFSVC_S3_SECRET_ACCESS_KEY": "s3cr3t-value",
            "CONFSVC_S3_PREFIX": "/confsvc/materials/",
        }
    )
    described = settings.describe()
    assert described["preparation.s3_secret_access_key"] == "***"
    assert described["preparation.s3_access_key_id"] == "***"
    assert described["preparation.s3_prefix"] == "confsvc/materials"
    assert "s3cr3t-value" not in repr(settings)
    assert "AKIDEXAMPLE" not in repr(settings)
