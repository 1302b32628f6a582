"""The shipped default-zh and business-en templates."""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import docx
import pytest
from docx.shared import Pt

from confsvc.minutes.eastasia import CJK_RE
from confsvc.minutes.render import (
    render_docx,
    sample_context,
    shipped_template_path,
    validate_template,
)
from confsvc.minutes.render_context import MeetingInfo, MinutesContext

from .conftest import W, all_text, docx_part

LEFTOVER = ("{{", "}}", "{%", "%}", "{#", "#}")


@pytest.fixture(scope="module")
def default_zh() -> bytes:
    return render_docx(sample_context(), template="default-zh")


@pytest.fixture(scope="module")
def business_en() -> bytes:
    return render_docx(sample_context(locale="en"), template="business-en")


@pytest.mark.parametrize("name", ["default-zh", "business-en"])
def test_shipped_template_validates(name: str) -> None:
    report = validate_template(shipped_template_path(f"{name}.docx").read_bytes())
    assert "meeting.title" in report.placeholders
    assert "action_items" in report.placeholders


@pytest.mark.parametrize("fixture", ["default_zh", "business_en"])
def test_no_leftover_tags(fixture: str, request: pytest.FixtureRequest) -> None:
    text = all_text(request.getfixturevalue(fixture))
    for marker in LEFTOVER:
        assert marker not in text


def test_gbt9704_margins(default_zh: bytes) -> None:
    sect = docx_part(default_zh, "word/document.xml").find(f"{W}body/{W}sectPr")
    size = sect.find(f"{W}pgSz")
    margins = sect.find(f"{W}pgMar")
    twips_per_mm = 1440 / 25.4
    # A4 is 11906 x 16838 twips in Word.
    assert (size.get(f"{W}w"), size.get(f"{W}h")) == ("11906", "16838")
    expected_mm = {"top": 37, "bottom": 35, "left": 28, "right": 26}
    for side, millimetres in expected_mm.items():
        twips = int(margins.get(f"{W}{side}"))
        assert abs(twips - millimetres * twips_per_mm) < 1, side
    section = docx.Document(io.BytesIO(default_zh)).sections[0]
    assert round(section.top_margin.mm) == 37
    assert round(section.right_margin.mm) == 26


def test_gbt9704_fonts(default_zh: bytes) -> None:
    styles = docx_part(default_zh, "word/styles.xml")

    def fonts(style_id: str) -> tuple[str | None, str | None]:
        style = styles.find(f"{W}style[@{W}styleId='{style_id}']")
        rfonts = style.find(f"{W}rPr/{W}rFonts")
        size = style.find(f"{W}rPr/{W}sz")
        return rfonts.get(f"{W}eastAsia"), size.get(f"{W}val") if size is not None else None

    assert fonts("MinutesBody") == ("仿宋", "32")
    assert fonts("MinutesTitle") == ("宋体", "44")
    assert fonts("MinutesHeading") == ("黑体", "32")
    title = styles.find(f"{W}style[@{W}styleId='MinutesTitle']/{W}rPr/{W}b")
    assert title is not None
    lang = styles.find(f"{W}docDefaults/{W}rPrDefault/{W}rPr/{W}lang")
    assert lang.get(f"{W}eastAsia") == "zh-CN"


def test_page_number_footers(default_zh: bytes) -> None:
    document = docx.Document(io.BytesIO(default_zh))
    section = document.sections[0]
    assert document.settings.odd_and_even_pages_header_footer is True
    for footer in (section.footer, section.even_page_footer):
        paragraph = footer.paragraphs[0]
        assert paragraph.text == "— 1 —"
        instructions = [e.text for e in paragraph._p.iter(f"{W}instrText")]
        assert instructions == [" PAGE "]
        assert paragraph.style.font.size == Pt(14)


def test_default_zh_content(default_zh: bytes) -> None:
    document = docx.Document(io.BytesIO(default_zh))
    texts = [p.text for p in document.paragraphs]
    assert texts[0] == "内部资料 注意保密"
    assert texts[1] == "2026年第4季度经营分析会纪要"
    assert "出席：张伟、李娜、刘洋、王芳" in texts
    assert "请假：吴敏（出差）" in texts
    assert "列席：Emily Carter（德勤咨询）" in texts
    assert "1. 同意华东区 Q1 预算上调 15%（表决通过，同意5票、反对0票、弃权1票）" in texts
    rows = [[c.text for c in row.cells] for row in document.tables[0].rows]
    assert rows[0] == ["序号", "事项", "负责人", "协办人", "完成时限", "对应决议"]
    assert rows[3] == ["3", "整理预算调整说明", "王芳", "李娜、孙丽", "2027年1月8日", ""]
    assert len(rows) == 4


def test_business_en_every_cjk_run_has_font(business_en: bytes) -> None:
    document = docx_part(business_en, "word/document.xml")
    styles = docx_part(business_en, "word/styles.xml")
    style_fonts = {
        s.get(f"{W}styleId"): s.find(f"{W}rPr/{W}rFonts") for s in styles.iter(f"{W}style")
    }
    checked = 0
    for paragraph in document.iter(f"{W}p"):
        pstyle = paragraph.find(f"{W}pPr/{W}pStyle")
        style = style_fonts.get(pstyle.get(f"{W}val") if pstyle is not None else "Normal")
        for run in paragraph.iter(f"{W}r"):
            text = "".join(t.text or "" for t in run.iter(f"{W}t"))
            if not CJK_RE.search(text):
                continue
            rfonts = run.find(f"{W}rPr/{W}rFonts")
            own = rfonts.get(f"{W}eastAsia") if rfonts is not None else None
            effective = own or (style.get(f"{W}eastAsia") if style is not None else None)
            assert effective, text
            checked += 1
    assert checked > 20


def test_business_en_header_mark(business_en: bytes) -> None:
    document = docx.Document(io.BytesIO(business_en))
    assert document.sections[0].header.paragraphs[0].text == "CONFIDENTIAL"
    texts = [p.text for p in document.paragraphs]
    assert "Date and time: 10 December 2026, 14:00 to 15:30 (Asia/Shanghai)" in texts


def test_not_confidential_has_no_mark() -> None:
    zone = ZoneInfo("Asia/Shanghai")
    context = MinutesContext(
        meeting=MeetingInfo(
            title="周例会",
            start=datetime(2027, 1, 4, 9, 0, tzinfo=zone),
            end=datetime(2027, 1, 4, 10, 0, tzinfo=zone),
        )
    )
    output = render_docx(context, template="default-zh")
    texts = [p.text for p in docx.Document(io.BytesIO(output)).paragraphs]
    assert texts[0] == "周例会纪要"
    assert "内部资料 注意保密" not in all_text(output)
    assert "时间：2027年1月4日 09:00至10:00" in texts


def test_template_from_path(tmp_path: Path) -> None:
    path = tmp_path / "copy.docx"
    path.write_bytes(shipped_template_path("default-zh.docx").read_bytes())
    output = render_docx(sample_context(), template=path)
    assert "2026年第4季度经营分析会纪要" in all_text(output)


@pytest.mark.skipif(shutil.which("soffice") is None, reason="soffice (LibreOffice) is not on PATH")
def test_pdf_conversion(default_zh: bytes, tmp_path: Path) -> None:
    source = tmp_path / "minutes.docx"
    source.write_bytes(default_zh)
    profile = tmp_path / "profile"
    completed = subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(source),
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    pdf = tmp_path / "minutes.pdf"
    assert completed.returncode == 0, completed.stderr
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert pdf.stat().st_size > 5000
    if shutil.which("pdftotext"):
        text = subprocess.run(
            ["pdftotext", str(pdf), "-"], capture_output=True, check=True, text=True
        ).stdout
        assert "经营分析会纪要" in text
