"""A template whose tags Word split across runs, spell-check marks and table rows."""

from __future__ import annotations

import io
import json

import docx
import pytest

from confsvc.minutes.render import render_docx, validate_template

from .conftest import DATA, W, all_text, body_paragraphs, paragraph_text

CASE = DATA / "24-docxtpl-tags-split-across-runs"
TEMPLATE = CASE / "minutes-template-split.docx"


@pytest.fixture(scope="module")
def rendered() -> bytes:
    context = json.loads((CASE / "render-context.json").read_text(encoding="utf-8"))
    return render_docx(context, template=TEMPLATE.read_bytes())


def test_paragraph_texts(rendered: bytes) -> None:
    texts = [paragraph_text(p) for p in body_paragraphs(rendered)]
    assert texts == [
        "会议主题：2026年第4季度经营分析会",
        "主持人：张伟",
        "时间：2026年12月10日 14:00",
    ]


def test_table_rows(rendered: bytes) -> None:
    table = docx.Document(io.BytesIO(rendered)).tables[0]
    rows = [" ".join(cell.text for cell in row.cells) for row in table.rows]
    assert rows == [
        "序号 待办事项 负责人",
        "1 提交华东区续约清单 李娜",
        "2 更新 Q1 招聘计划 刘洋",
        "3 整理预算调整说明 王芳",
    ]


def test_no_tag_text_left(rendered: bytes) -> None:
    text = all_text(rendered)
    for marker in ("{", "}}", "{%", "%}", "meeting.", "action_items", "tr for", "endfor"):
        assert marker not in text


def test_merged_run_keeps_opening_run_format(rendered: bytes) -> None:
    title = body_paragraphs(rendered)[0]
    runs = title.findall(f"{W}r")
    assert len(runs) == 2
    value_run = runs[1]
    # The run that held "{{ meeting." had no w:lang; the en-US w:lang of the "le }}" run
    # must not leak in, and w:rsidR of that run is gone with it.
    assert value_run.find(f"{W}rPr/{W}lang") is None
    assert value_run.get(f"{W}rsidR") is None
    # Effective East Asian language comes from the defaults: zh-CN.
    from .conftest import docx_part

    styles = docx_part(rendered, "word/styles.xml")
    lang = styles.find(f"{W}docDefaults/{W}rPrDefault/{W}rPr/{W}lang")
    assert lang.get(f"{W}eastAsia") == "zh-CN"
    assert value_run.find(f"{W}rPr/{W}rFonts").get(f"{W}eastAsia") == "宋体"
    label_run = runs[0]
    assert label_run.find(f"{W}rPr/{W}lang").get(f"{W}eastAsia") == "zh-CN"


def test_proof_marks_removed(rendered: bytes) -> None:
    from .conftest import docx_part

    assert docx_part(rendered, "word/document.xml").findall(f".//{W}proofErr") == []


def test_validate_lists_placeholders() -> None:
    report = validate_template(TEMPLATE.read_bytes())
    assert report.placeholders == (
        "meeting.title",
        "meeting.host",
        "meeting.start",
        "action_items",
        "loop.index",
        "item.text",
        "item.owner",
    )
    assert report.filters == ("datetime_cn",)
    assert report.merged_tags == 4
