"""Chinese text in a template whose style sets only Latin fonts, plus rich text."""

from __future__ import annotations

import json
import re

import pytest
from lxml import etree

from confsvc.minutes.eastasia import CJK_RE
from confsvc.minutes.render import render_docx

from .conftest import DATA, W, body_paragraphs, docx_part, paragraph_text, run_text

CASE = DATA / "23-docx-chinese-font-eastasia"


@pytest.fixture(scope="module")
def rendered() -> bytes:
    context = json.loads((CASE / "render-context.json").read_text(encoding="utf-8"))
    return render_docx(context, template=(CASE / "minutes-template-font.docx").read_bytes())


def _style_fonts(styles: etree._Element, style_id: str) -> etree._Element:
    style = styles.find(f"{W}style[@{W}styleId='{style_id}']")
    return style.find(f"{W}rPr/{W}rFonts")


def test_paragraph_texts(rendered: bytes) -> None:
    texts = [paragraph_text(p) for p in body_paragraphs(rendered)]
    assert texts == [
        "会议主题：2026年第4季度经营分析会",
        "决议：同意华东区 Q1 预算上调 15%",
        "记录人：陈静  Q4 Budget 1,280 万元",
    ]


def test_every_cjk_run_has_minutes_font(rendered: bytes) -> None:
    styles = docx_part(rendered, "word/styles.xml")
    body_style_east_asia = _style_fonts(styles, "MinutesBody").get(f"{W}eastAsia")
    checked = 0
    for paragraph in body_paragraphs(rendered):
        for run in paragraph.findall(f"{W}r"):
            if not CJK_RE.search(run_text(run)):
                continue
            fonts = run.find(f"{W}rPr/{W}rFonts")
            run_font = fonts.get(f"{W}eastAsia") if fonts is not None else None
            assert fonts is None or fonts.get(f"{W}eastAsiaTheme") is None
            effective = run_font or body_style_east_asia
            assert effective in {"宋体", "黑体"}, run_text(run)
            checked += 1
    assert checked == 4


def test_rich_text_runs(rendered: bytes) -> None:
    decision = body_paragraphs(rendered)[1]
    runs = decision.findall(f"{W}r")
    assert [run_text(r) for r in runs] == ["决议：", "同意华东区 Q1 预算上调 15%"]

    first_props = runs[0].find(f"{W}rPr")
    assert first_props.find(f"{W}rFonts").get(f"{W}eastAsia") == "黑体"
    assert first_props.find(f"{W}b") is not None
    second_fonts = runs[1].find(f"{W}rPr/{W}rFonts")
    assert second_fonts.get(f"{W}eastAsia") == "宋体"
    assert runs[1].find(f"{W}rPr/{W}b") is None


def test_latin_text_keeps_times_new_roman(rendered: bytes) -> None:
    styles = docx_part(rendered, "word/styles.xml")
    body_fonts = _style_fonts(styles, "MinutesBody")
    assert body_fonts.get(f"{W}ascii") == "Times New Roman"
    assert body_fonts.get(f"{W}hAnsi") == "Times New Roman"
    latin_runs = 0
    for paragraph in body_paragraphs(rendered):
        assert paragraph.find(f"{W}pPr/{W}pStyle").get(f"{W}val") == "MinutesBody"
        for run in paragraph.findall(f"{W}r"):
            if re.search(r"Q1|15%|Q4 Budget", run_text(run)):
                latin_runs += 1
                fonts = run.find(f"{W}rPr/{W}rFonts")
                # No run-level Latin override: the style's Times New Roman applies.
                assert fonts.get(f"{W}ascii") is None
                assert fonts.get(f"{W}hAnsi") is None
    assert latin_runs == 2


def test_east_asian_language_is_zh_cn(rendered: bytes) -> None:
    styles = docx_part(rendered, "word/styles.xml")
    lang = styles.find(f"{W}docDefaults/{W}rPrDefault/{W}rPr/{W}lang")
    assert lang.get(f"{W}eastAsia") == "zh-CN"


def test_no_run_nested_in_text(rendered: bytes) -> None:
    document = docx_part(rendered, "word/document.xml")
    assert document.findall(f".//{W}t/{W}r") == []


def test_configured_font_used(data_dir) -> None:
    context = json.loads((CASE / "render-context.json").read_text(encoding="utf-8"))
    output = render_docx(
        context, template=(CASE / "minutes-template-font.docx").read_bytes(), east_asia_font="仿宋"
    )
    title_run = body_paragraphs(output)[0].find(f"{W}r")
    assert title_run.find(f"{W}rPr/{W}rFonts").get(f"{W}eastAsia") == "仿宋"
    decision_runs = body_paragraphs(output)[1].findall(f"{W}r")
    # Fonts chosen in the rich text stay.
    assert decision_runs[0].find(f"{W}rPr/{W}rFonts").get(f"{W}eastAsia") == "黑体"
