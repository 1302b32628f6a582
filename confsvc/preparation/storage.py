"""Storage of material files: the store interface, the local-disk store and the S3 store.

A store receives finished, checked files only. Uploads are written to a temporary file
under ``incoming`` first (see ``confsvc.preparation.materials``), and ``put`` takes that
file over under a key. ``material_store`` picks the store that CONFSVC_MATERIALS_STORE
names.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import logging
import os
import re
import shutil
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

from confsvc.errors import ConfsvcError
from confsvc.i18n import gettext as _
from confsvc.settings import PreparationSettings, Settings

__all__ = ["LocalStore", "MaterialStore", "MaterialStoreError", "S3Store", "material_store"]

logger = logging.getLogger(__name__)

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")
_CHUNK_BYTES = 64 * 1024
_T = TypeVar("_T")


class MaterialStoreError(ConfsvcError):
    """The material store could not be reached or rejected a request.

    ``reason`` is ``unavailable`` (no connection, a timeout or a 5xx response),
    ``bucket_missing``, ``access_denied``, ``checksum_mismatch`` or ``failed``.
    """

    status_code = 503
    title = "Service unavailable"

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class MaterialStore(ABC):
    """Stores material files by key (``<meeting id>/<material id>.<ext>``)."""

    @property
    @abstractmethod
    def incoming(self) -> Path:
        """Local folder for upload files that are still being received and checked."""

    @abstractmethod
    async def put(self, key: str, source: Path, *, sha256: str | None = None, content_type: str | None = None) -> None:
        """Take over the finished file ``source``; it no longer exists afterwards.

        ``sha256`` (hex) lets a store that can verify checksums check the transfer.
        On failure ``source`` stays where it is and nothing is stored under ``key``.
        """

    @abstractmethod
    async def open(self, key: str) -> AsyncIterator[bytes]:
        """Open ``key`` and return an iterator over its bytes in chunks.

        Raises ``FileNotFoundError`` when ``key`` is missing, before the first chunk.
        """

    async def read(self, key: str) -> AsyncIterator[bytes]:
        """Yield the bytes of ``key`` in chunks; a missing key raises at the first chunk.

        Prefer :meth:`open` in a download route, so that errors come before the response starts.
        """
        chunks = await self.open(key)
        async for chunk in chunks:
            yield chunk

    @abstractmethod
    async def exists(self, key: str) -> bool:
        """Tell whether ``key`` is stored; raises ``MaterialStoreError`` when the store fails."""

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Remove ``key``; removing a missing key is not an error."""

    def local_path(self, key: str) -> Path | None:
        """Return the file of ``key`` on this machine, or None for a remote store."""
        return None

    @staticmethod
    def check_key(key: str) -> str:
        if not _KEY.match(key) or ".." in key:
            raise ValueError(f"invalid material storage key {key!r}")
        return key


class LocalStore(MaterialStore):
    """Keeps files under ``root`` (``CONFSVC_DATA_DIR/materials`` by default).

    Temporary upload files go to ``root/.incoming`` on the same file system, so that
    ``put`` is an atomic rename.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def incoming(self) -> Path:
        return self.root / ".incoming"

    def _path(self, key: str) -> Path:
        return self.root / self.check_key(key)

    async def put(self, key: str, source: Path, *, sha256: str | None = None, content_type: str | None = None) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(shutil.move, str(source), str(target))

    async def open(self, key: str) -> AsyncIterator[bytes]:
        handle = self._path(key).open("rb")

        async def chunks() -> AsyncIterator[bytes]:
            try:
                while chunk := handle.read(_CHUNK_BYTES):
                    yield chunk
            finally:
                handle.close()

        return chunks()

    async def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    async def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            os.remove(path)
        except FileNotFoundError:
            return
        # Drop the meeting's folder once its last file is gone.
        try:
            path.parent.rmdir()
        except OSError:
            pass

    def local_path(self, key: str) -> Path | None:
        path = self._path(key)
        return path if path.is_file() else None


_ACCESS_DENIED_CODES = frozenset(
    {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken", "AuthorizationHeaderMalformed"}
)
_CHECKSUM_CODES = frozenset({"BadDigest", "InvalidDigest", "XAmzContentChecksumMismatch"})
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


class S3Store(MaterialStore):
    """Keeps files as objects of one bucket in an S3-compatible store.

    Works with AWS S3 and with stores that speak its API (MinIO, Ceph RGW, Alibaba OSS,
    Tencent COS). boto3 is synchronous, so each request runs in a worker thread. Uploads
    are single PutObject requests that carry the file's checksum (x-amz-checksum-sha256
    or Content-MD5, per CONFSVC_S3_CHECKSUM), so a store that verifies it rejects a
    damaged transfer instead of keeping it. The hex SHA-256 is also kept as the object's
    ``sha256`` user metadata for backup checks.
    """

    def __init__(self, settings: PreparationSettings, *, incoming: Path) -> None:
        settings.check_materials_store()
        if settings.materials_store != "s3":
            raise ValueError("S3Store needs CONFSVC_MATERIALS_STORE=s3")
        import boto3
        from botocore.config import Config

        self.bucket: str = settings.s3_bucket  # type: ignore[assignment]
        self.prefix = settings.s3_prefix.strip("/")
        self.checksum = settings.s3_checksum
        self._incoming = incoming
        config = Config(
            region_name=settings.s3_region,
            connect_timeout=settings.s3_timeout_seconds,
            read_timeout=settings.s3_timeout_seconds,
            retries={"mode": "standard", "max_attempts": 3},
            s3={"addressing_style": settings.s3_addressing_style},
            # botocore's default, when_supported, adds a CRC checksum to uploads, which some
            # S3-compatible stores reject. when_required sends only the checksum chosen here.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        # A boto3 client is thread-safe, unlike the default session, so each store makes
        # its own session and shares one client across the worker threads.
        self._client = boto3.session.Session().client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            aws_access_key_id=settings.s3_access_key_id,
            aws_secret_access_key=settings.s3_secret_access_key,
            config=config,
        )
        logger.info(
            "s3 material store ready endpoint=%s bucket=%s prefix=%s addressing=%s checksum=%s",
            settings.s3_endpoint_url or "aws", self.bucket, self.prefix or "-", settings.s3_addressing_style, self.checksum,
        )

    @property
    def incoming(self) -> Path:
        return self._incoming

    def _object_key(self, key: str) -> str:
        key = self.check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    async def _call(self, operation: str, key: str, function: Callable[[], _T]) -> _T:
        """Run one blocking boto3 call in a worker thread and map its errors."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return await asyncio.to_thread(function)
        except ClientError as exc:
            if _error_code(exc) in _NOT_FOUND_CODES and operation in ("get", "head"):
                raise FileNotFoundError(key) from exc
            raise self._store_error(operation, key, exc) from exc
        except BotoCoreError as exc:
            raise self._store_error(operation, key, exc) from exc

    def _store_error(self, operation: str, key: str, exc: Exception) -> MaterialStoreError:
        from botocore.exceptions import ClientError, NoCredentialsError, PartialCredentialsError

        code = _error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__
        status = _http_status(exc) if isinstance(exc, ClientError) else None
        if code == "NoSuchBucket":
            reason = "bucket_missing"
            message = _(
                "the material store has no bucket {bucket}; an administrator must create it or correct CONFSVC_S3_BUCKET",
                bucket=self.bucket,
            )
        elif code in _ACCESS_DENIED_CODES or isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
            reason = "access_denied"
            message = _(
                "the material store rejected the credentials ({code}); an administrator must check "
                "CONFSVC_S3_ACCESS_KEY_ID, CONFSVC_S3_SECRET_ACCESS_KEY and the bucket permissions",
                code=code,
            )
        elif code in _CHECKSUM_CODES:
            reason = "checksum_mismatch"
            message = _("the material store received damaged data (checksum mismatch); upload the file again")
        elif isinstance(exc, ClientError) and (status is None or status < 500):
            reason = "failed"
            message = _("the material store rejected the request ({code}); try again later", code=code)
        else:
            reason = "unavailable"
            message = _("the material store is unavailable; try again later")
        # boto3 messages name the endpoint, bucket and key, never the credentials.
        logger.warning(
            "s3 %s failed bucket=%s key=%s reason=%s code=%s error=%s", operation, self.bucket, key, reason, code, exc
        )
        return MaterialStoreError(message, reason=reason)

    async def put(self, key: str, source: Path, *, sha256: str | None = None, content_type: str | None = None) -> None:
        from botocore.exceptions import ConnectionClosedError, ReadTimeoutError

        object_key = self._object_key(key)
        digests = await asyncio.to_thread(_file_digests, source, with_sha256=sha256 is None, with_md5=self.checksum == "md5")
        sha256 = sha256 or digests["sha256"]
        arguments: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": object_key,
            "ContentLength": source.stat().st_size,
            "ContentType": content_type or "application/octet-stream",
            "Metadata": {"sha256": sha256},
        }
        if self.checksum == "sha256":
            arguments["ChecksumAlgorithm"] = "SHA256"
            arguments["ChecksumSHA256"] = base64.b64encode(bytes.fromhex(sha256)).decode("ascii")
        else:
            arguments["ContentMD5"] = digests["md5"]

        def upload() -> dict[str, Any]:
            with source.open("rb") as body:
                return self._client.put_object(Body=body, **arguments)  # type: ignore[no-any-return]

        try:
            response = await self._call("put", key, upload)
        except MaterialStoreError as exc:
            # When the response was lost, the object may exist anyway. Removing it keeps
            # the failed upload from leaving an object behind.
            if isinstance(exc.__cause__, (ReadTimeoutError, ConnectionClosedError)):
                await self._delete_quietly(key)
            raise
        echoed = response.get("ChecksumSHA256")
        if self.checksum == "sha256" and echoed and echoed != arguments["ChecksumSHA256"]:
            logger.error("s3 put checksum mismatch bucket=%s key=%s", self.bucket, object_key)
            await self._delete_quietly(key)
            raise MaterialStoreError(
                _("the material store received damaged data (checksum mismatch); upload the file again"),
                reason="checksum_mismatch",
            )
        source.unlink(missing_ok=True)
        logger.info("s3 object stored bucket=%s key=%s", self.bucket, object_key)

    async def open(self, key: str) -> AsyncIterator[bytes]:
        arguments: dict[str, Any] = {"Bucket": self.bucket, "Key": self._object_key(key)}
        if self.checksum == "sha256":
            # botocore then checks the streamed bytes against the stored SHA-256 and
            # raises at the end of a damaged body; a store without checksums sends none.
            arguments["ChecksumMode"] = "ENABLED"
        response = await self._call("get", key, functools.partial(self._client.get_object, **arguments))
        body = response["Body"]

        async def chunks() -> AsyncIterator[bytes]:
            try:
                while chunk := await self._call("read", key, functools.partial(body.read, _CHUNK_BYTES)):
                    yield chunk
            finally:
                body.close()

        return chunks()

    async def exists(self, key: str) -> bool:
        try:
            await self._call("head", key, functools.partial(self._client.head_object, Bucket=self.bucket, Key=self._object_key(key)))
        except FileNotFoundError:
            return False
        return True

    async def delete(self, key: str) -> None:
        object_key = self._object_key(key)
        await self._call("delete", key, functools.partial(self._client.delete_object, Bucket=self.bucket, Key=object_key))
        logger.info("s3 object deleted bucket=%s key=%s", self.bucket, object_key)

    async def _delete_quietly(self, key: str) -> None:
        try:
            await self.delete(key)
        except MaterialStoreError:
            logger.error("s3 object may be left behind bucket=%s key=%s", self.bucket, self._object_key(key))


def _error_code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code") or "")


def _http_status(exc: Any) -> int | None:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if status is not None else None


def _file_digests(path: Path, *, with_sha256: bool, with_md5: bool) -> dict[str, str]:
    """Return the hex SHA-256 and the base64 MD5 (the Content-MD5 format) of ``path``, each only when its flag is set."""
    if not (with_sha256 or with_md5):
        return {}
    sha256 = hashlib.sha256()
    md5 = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            if with_sha256:
                sha256.update(chunk)
            if with_md5:
                md5.update(chunk)
    digests = {}
    if with_sha256:
        digests["sha256"] = sha256.hexdigest()
    if with_md5:
        digests["md5"] = base64.b64encode(md5.digest()).decode("ascii")
    return digests


def material_store(settings: Settings) -> MaterialStore:
    """Return the store that CONFSVC_MATERIALS_STORE names, one per distinct configuration."""
    return _cached_store(settings.preparation, Path(settings.data_dir))


@functools.lru_cache(maxsize=8)
def _cached_store(preparation: PreparationSettings, data_dir: Path) -> MaterialStore:
    root = data_dir / "materials"
    if preparation.materials_store == "s3":
        # Uploads are checked on local disk before they go to the bucket.
        return S3Store(preparation, incoming=root / ".incoming")
    return LocalStore(root)
