"""Storage of material files: a small store interface and the local-disk store.

A store receives finished, checked files only. Uploads are written to a temporary file
first (see ``confsvc.preparation.materials``), and ``put`` moves that file in under a key.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from pathlib import Path

__all__ = ["LocalStore", "MaterialStore"]

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")
_CHUNK_BYTES = 64 * 1024


class MaterialStore(ABC):
    """Stores material files by key (``<meeting id>/<material id>.<ext>``)."""

    @abstractmethod
    async def put(self, key: str, source: Path) -> None:
        """Take over the finished file ``source`` (it no longer exists afterwards)."""

    @abstractmethod
    def read(self, key: str) -> AsyncIterator[bytes]:
        """Yield the stored bytes of ``key`` in chunks; raises ``FileNotFoundError`` when missing."""

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

    async def put(self, key: str, source: Path) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(shutil.move, str(source), str(target))

    async def read(self, key: str) -> AsyncIterator[bytes]:  # type: ignore[override]
        path = self._path(key)
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK_BYTES):
                yield chunk

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
