"""Helpers for reading rendered .docx packages in the minutes tests."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from lxml import etree

DATA = Path(__file__).resolve().parents[1] / "data"
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def docx_part(document: bytes, name: str) -> etree._Element:
    with zipfile.ZipFile(io.BytesIO(document)) as archive:
        return etree.fromstring(archive.read(name))


def body_paragraphs(document: bytes) -> list[etree._Element]:
    """Top-level body paragraphs (not those inside tables)."""
    return docx_part(document, "word/document.xml").findall(f"{W}body/{W}p")


def run_text(run: etree._Element) -> str:
    return "".join(t.text or "" for t in run.iter(f"{W}t"))


def paragraph_text(paragraph: etree._Element) -> str:
    return "".join(run_text(run) for run in paragraph.findall(f"{W}r"))


def all_text(document: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(document)) as archive:
        names = [n for n in archive.namelist() if n.startswith("word/") and n.endswith(".xml")]
        parts = [
            etree.fromstring(archive.read(n))
            for n in names
            if "document" in n or "header" in n or "footer" in n
        ]
    return "\n".join("".join(t.text or "" for t in part.iter(f"{W}t")) for part in parts)


@pytest.fixture
def data_dir() -> Path:
    return DATA
