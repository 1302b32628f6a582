"""Checking uploaded templates: repair, placeholder list, rejection."""

from __future__ import annotations

import io

import docx
import pytest
from docx.oxml import OxmlElement
from docx.oxml.ns import qn

from confsvc.errors import ValidationFailed
from confsvc.minutes.render import (
    KNOWN_PLACEHOLDERS,
    render_docx,
    sample_context,
    validate_template,
)

from .conftest import DATA, W, all_text, body_paragraphs


def _template(*paragraphs: list[tuple[str, dict[str, object]]]) -> bytes:
    """Build a .docx whose paragraphs consist of the given (text, format) runs."""
    document = docx.Document()
    for runs in paragraphs:
        paragraph = document.add_paragraph()
        for text, fmt in runs:
            run = paragraph.add_run(text)
            run.bold = bool(fmt.get("bold"))
            if "lang" in fmt:
                lang = OxmlElement("w:lang")
                lang.set(qn("w:val"), "en-US")
                lang.set(qn("w:eastAsia"), str(fmt["lang"]))
                run._r.get_or_add_rPr().append(lang)
            if "proof" in fmt:
                mark = OxmlElement("w:proofErr")
                mark.set(qn("w:type"), "spellStart")
                run._r.addprevious(mark)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_merge_keeps_opening_run_format() -> None:
    template = _template(
        [
            ("标题：", {}),
            ("{", {"bold": True, "lang": "zh-CN"}),
            ("{ meeting.ti", {"proof": True}),
            ("tle }}", {"lang": "ja-JP"}),
            ("（完）", {}),
        ]
    )
    output = render_docx(sample_context(), template=template)
    runs = body_paragraphs(output)[0].findall(f"{W}r")
    texts = ["".join(t.text for t in r.iter(f"{W}t")) for r in runs]
    assert texts == ["标题：", "2026年第4季度经营分析会", "（完）"]
    value_props = runs[1].find(f"{W}rPr")
    assert value_props.find(f"{W}b") is not None
    assert value_props.find(f"{W}lang").get(f"{W}eastAsia") == "zh-CN"


def test_unknown_placeholder_rejected() -> None:
    template = _template(
        [("会议：{{ meeting.title }} 预算：{{ meeting.budget }}", {})],
        [("{% for a in action_items %}{{ a.owner }}{{ a.cost }}{% endfor %}", {})],
    )
    with pytest.raises(ValidationFailed) as caught:
        validate_template(template)
    names = [param["name"] for param in caught.value.invalid_params]
    assert names == ["meeting.budget", "a.cost"]


def test_unknown_filter_rejected() -> None:
    template = _template([("{{ meeting.start|shout }}", {})])
    with pytest.raises(ValidationFailed) as caught:
        validate_template(template)
    assert caught.value.invalid_params[0]["name"] == "|shout"


def test_unclosed_tag_rejected_with_paragraph() -> None:
    template = _template([("主持人：", {}), ("{{ meeting.host", {})], [("}}", {})])
    with pytest.raises(ValidationFailed) as caught:
        validate_template(template)
    paragraphs = [param.get("paragraph") for param in caught.value.invalid_params]
    assert paragraphs == ["主持人：{{ meeting.host", "}}"]
    with pytest.raises(ValidationFailed):
        render_docx(sample_context(), template=template)


def test_syntax_error_rejected_with_paragraph() -> None:
    template = _template([("{% if meeting.title %}开始", {})])
    with pytest.raises(ValidationFailed) as caught:
        validate_template(template)
    assert "开始" in caught.value.invalid_params[0]["paragraph"]


def test_not_a_docx_rejected() -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_template(b"plain text, not a zip")
    assert caught.value.invalid_params[0]["name"] == "template"


def test_corpus_font_template_placeholders_unknown() -> None:
    data = (DATA / "23-docx-chinese-font-eastasia" / "minutes-template-font.docx").read_bytes()
    with pytest.raises(ValidationFailed) as caught:
        validate_template(data)
    names = [param["name"] for param in caught.value.invalid_params]
    assert names == ["title", "r_decision", "recorder", "amount"]


def test_row_tags_split_by_proof_marks() -> None:
    document = docx.Document()
    table = document.add_table(rows=3, cols=2)
    first = table.rows[0].cells[0].paragraphs[0]
    for piece in ("{%", "tr for a in ", "action_", "items %}"):
        first.add_run(piece)
        mark = OxmlElement("w:proofErr")
        mark.set(qn("w:type"), "gramStart")
        first._p.append(mark)
    table.rows[1].cells[0].paragraphs[0].add_run("{{ a.")
    table.rows[1].cells[0].paragraphs[0].add_run("number }}")
    table.rows[1].cells[1].paragraphs[0].add_run("{{ a.owner }}")
    last = table.rows[2].cells[0].paragraphs[0]
    last.add_run("{%tr end")
    last.add_run("for %}")
    buffer = io.BytesIO()
    document.save(buffer)

    report = validate_template(buffer.getvalue())
    assert report.placeholders == ("action_items", "a.number", "a.owner")
    output = render_docx(sample_context(), template=buffer.getvalue())
    rows = [[c.text for c in row.cells] for row in docx.Document(io.BytesIO(output)).tables[0].rows]
    assert rows == [["1", "李娜"], ["2", "刘洋"], ["3", "王芳"]]
    assert "{%" not in all_text(output)


def test_value_with_braces_is_not_a_leftover() -> None:
    context = sample_context().to_template_context()
    context["meeting"]["title"] = "模板语法 {{ x }} 培训"
    template = _template([("{{ meeting.title }}", {})])
    output = render_docx(context, template=template)
    assert paragraph_texts(output) == ["模板语法 {{ x }} 培训"]


def paragraph_texts(output: bytes) -> list[str]:
    return ["".join(t.text or "" for t in p.iter(f"{W}t")) for p in body_paragraphs(output)]


def test_known_placeholders_cover_context() -> None:
    assert "meeting.title" in KNOWN_PLACEHOLDERS
    assert "action_items[].owner" in KNOWN_PLACEHOLDERS
    assert "attendance.guests[].organisation" in KNOWN_PLACEHOLDERS
    assert "resolutions[].votes_abstain" in KNOWN_PLACEHOLDERS
    assert "loop.index" in KNOWN_PLACEHOLDERS
    assert "meeting.budget" not in KNOWN_PLACEHOLDERS
