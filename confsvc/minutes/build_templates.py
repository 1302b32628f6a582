"""Build the shipped .docx minutes templates with python-docx.

Run once after changing the layout, and commit the output::

    python -m confsvc.minutes.build_templates            # writes templates/minutes/
    python -m confsvc.minutes.build_templates --output-dir /tmp/minutes

``default-zh.docx`` follows the 纪要 layout of GB/T 9704-2012 (党政机关公文格式): A4, margins
top 37 mm, bottom 35 mm, left 28 mm, right 26 mm; body 3号仿宋 (16 pt); title 2号 (22 pt)
in red; headings 3号黑体; page numbers 4号 (14 pt) as "— 1 —", right on odd pages and left
on even pages. GB/T 9704 asks for 小标宋 in the title; it is not installed with Windows or
Office, so the title uses bold 宋体 instead. ``business-en.docx`` is a plain English
business layout. Both carry docxtpl tags for the context in ``render_context``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.section import WD_ORIENT
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from docx.styles.style import BaseStyle
from docx.text.paragraph import Paragraph

__all__ = ["build_business_en", "build_default_zh", "main"]

# East Asian font names as Word on Windows installs them (仿宋 is FangSong, 黑体 SimHei,
# 宋体 SimSun).
BODY_FONT_ZH: Final = "仿宋"
HEADING_FONT_ZH: Final = "黑体"
TITLE_FONT_ZH: Final = "宋体"
LATIN_FONT_ZH: Final = "Times New Roman"
LATIN_FONT_EN: Final = "Calibri"
EAST_ASIA_FONT_EN: Final = "宋体"

RED: Final = RGBColor(0xC0, 0x00, 0x00)


def _set_fonts(style: BaseStyle, *, latin: str | None, east_asia: str | None) -> None:
    """Set Latin (w:ascii, w:hAnsi, w:cs) and East Asian (w:eastAsia) fonts on a style and
    drop its theme fonts, which Word would prefer."""
    rpr = style.element.get_or_add_rPr()
    fonts = rpr.get_or_add_rFonts()
    if latin:
        fonts.set(qn("w:ascii"), latin)
        fonts.set(qn("w:hAnsi"), latin)
        fonts.set(qn("w:cs"), latin)
    if east_asia:
        fonts.set(qn("w:eastAsia"), east_asia)
    for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(theme), None)


def _set_document_language(document: DocumentObject, *, latin: str) -> None:
    """Put w:lang (Latin and zh-CN East Asian) and plain fonts in the document defaults."""
    styles = document.styles.element
    defaults = styles.find(qn("w:docDefaults"))
    rpr = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rpr.append(lang)
    lang.set(qn("w:val"), latin)
    lang.set(qn("w:eastAsia"), "zh-CN")
    lang.set(qn("w:bidi"), "ar-SA")


def _paragraph_style(
    document: DocumentObject,
    name: str,
    *,
    latin: str,
    east_asia: str,
    size: float,
    bold: bool = False,
    color: RGBColor | None = None,
    alignment: WD_ALIGN_PARAGRAPH | None = None,
    exact_line_pt: float | None = None,
    first_line_chars: int = 0,
    space_before_pt: float = 0,
    space_after_pt: float = 0,
) -> BaseStyle:
    style = document.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
    style.base_style = document.styles["Normal"]
    style.quick_style = True
    _set_fonts(style, latin=latin, east_asia=east_asia)
    style.font.size = Pt(size)
    style.font.bold = bold
    if color is not None:
        style.font.color.rgb = color
    layout = style.paragraph_format
    if alignment is not None:
        layout.alignment = alignment
    if exact_line_pt is not None:
        layout.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        layout.line_spacing = Pt(exact_line_pt)
    if first_line_chars:
        layout.first_line_indent = Pt(size * first_line_chars)
    layout.space_before = Pt(space_before_pt)
    layout.space_after = Pt(space_after_pt)
    return style


def _character_style(
    document: DocumentObject, name: str, *, east_asia: str, bold: bool = False
) -> None:
    style = document.styles.add_style(name, WD_STYLE_TYPE.CHARACTER)
    _set_fonts(style, latin=None, east_asia=east_asia)
    style.font.bold = bold


def _add_field(paragraph: Paragraph, instruction: str, placeholder: str) -> None:
    """Append a Word field (PAGE, NUMPAGES) that Word updates when it lays out the page."""
    begin = paragraph.add_run()
    char = OxmlElement("w:fldChar")
    char.set(qn("w:fldCharType"), "begin")
    begin._r.append(char)

    code = paragraph.add_run()
    text = OxmlElement("w:instrText")
    text.set(qn("xml:space"), "preserve")
    text.text = f" {instruction} "
    code._r.append(text)

    separate = paragraph.add_run()
    char = OxmlElement("w:fldChar")
    char.set(qn("w:fldCharType"), "separate")
    separate._r.append(char)

    paragraph.add_run(placeholder)

    end = paragraph.add_run()
    char = OxmlElement("w:fldChar")
    char.set(qn("w:fldCharType"), "end")
    end._r.append(char)


def _set_a4(
    document: DocumentObject, *, top: float, bottom: float, left: float, right: float
) -> None:
    section = document.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width = Mm(210)
    section.page_height = Mm(297)
    section.top_margin = Mm(top)
    section.bottom_margin = Mm(bottom)
    section.left_margin = Mm(left)
    section.right_margin = Mm(right)
    section.header_distance = Mm(15)
    section.footer_distance = Mm(20)


def _labelled(
    document: DocumentObject, label: str, value: str, *, style: str = "MinutesBody"
) -> None:
    paragraph = document.add_paragraph(style=style)
    paragraph.add_run(label, style="MinutesLabel")
    paragraph.add_run(value)


def _tag(document: DocumentObject, text: str, *, style: str = "MinutesBody") -> None:
    """Add a paragraph that holds only a docxtpl paragraph tag ({%p ... %}); docxtpl
    removes the whole paragraph when it renders."""
    document.add_paragraph(text, style=style)


def _action_table(
    document: DocumentObject, headers: Sequence[str], cells: Sequence[str], *, style: str
) -> None:
    """Add the action-item table: a header row, then the {%tr %} loop around one row."""
    table = document.add_table(rows=4, cols=len(headers))
    table.style = document.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for column, header in enumerate(headers):
        cell = table.rows[0].cells[column]
        cell.paragraphs[0].style = document.styles[style]
        cell.paragraphs[0].add_run(header).bold = True
    table.rows[1].cells[0].paragraphs[0].text = "{%tr for a in action_items %}"
    for column, value in enumerate(cells):
        table.rows[2].cells[column].paragraphs[0].text = value
    table.rows[3].cells[0].paragraphs[0].text = "{%tr endfor %}"
    for row in table.rows:
        for cell in row.cells:
            cell.paragraphs[0].style = document.styles[style]


def build_default_zh() -> DocumentObject:
    """Build the Chinese 纪要 template (GB/T 9704-2012 layout)."""
    document = Document()
    _set_a4(document, top=37, bottom=35, left=28, right=26)
    _set_document_language(document, latin="en-US")

    normal = document.styles["Normal"]
    _set_fonts(normal, latin=LATIN_FONT_ZH, east_asia=BODY_FONT_ZH)
    normal.font.size = Pt(16)
    body = _paragraph_style(
        document,
        "MinutesBody",
        latin=LATIN_FONT_ZH,
        east_asia=BODY_FONT_ZH,
        size=16,
        alignment=WD_ALIGN_PARAGRAPH.JUSTIFY,
        exact_line_pt=28.95,
    )
    body.paragraph_format.widow_control = False
    _paragraph_style(
        document,
        "MinutesNotes",
        latin=LATIN_FONT_ZH,
        east_asia=BODY_FONT_ZH,
        size=16,
        alignment=WD_ALIGN_PARAGRAPH.JUSTIFY,
        exact_line_pt=28.95,
        first_line_chars=2,
    )
    _paragraph_style(
        document,
        "MinutesTitle",
        latin=LATIN_FONT_ZH,
        east_asia=TITLE_FONT_ZH,
        size=22,
        bold=True,
        color=RED,
        alignment=WD_ALIGN_PARAGRAPH.CENTER,
        space_before_pt=12,
        space_after_pt=6,
    )
    _paragraph_style(
        document,
        "MinutesNumber",
        latin=LATIN_FONT_ZH,
        east_asia=BODY_FONT_ZH,
        size=16,
        alignment=WD_ALIGN_PARAGRAPH.CENTER,
        exact_line_pt=28.95,
        space_after_pt=12,
    )
    _paragraph_style(
        document,
        "MinutesHeading",
        latin=LATIN_FONT_ZH,
        east_asia=HEADING_FONT_ZH,
        size=16,
        exact_line_pt=28.95,
        first_line_chars=2,
    )
    _paragraph_style(
        document,
        "MinutesMark",
        latin=LATIN_FONT_ZH,
        east_asia=HEADING_FONT_ZH,
        size=16,
        exact_line_pt=28.95,
    )
    _paragraph_style(
        document,
        "MinutesTable",
        latin=LATIN_FONT_ZH,
        east_asia=BODY_FONT_ZH,
        size=12,
        alignment=WD_ALIGN_PARAGRAPH.CENTER,
    )
    _paragraph_style(
        document,
        "MinutesPageNumber",
        latin=LATIN_FONT_ZH,
        east_asia="宋体",
        size=14,
    )
    _character_style(document, "MinutesLabel", east_asia=HEADING_FONT_ZH)

    _tag(document, "{%p if confidential %}", style="MinutesMark")
    document.add_paragraph("{{ confidentiality_mark }}", style="MinutesMark")
    _tag(document, "{%p endif %}", style="MinutesMark")

    document.add_paragraph("{{ meeting.title }}纪要", style="MinutesTitle")
    _tag(document, "{%p if meeting.number %}", style="MinutesNumber")
    document.add_paragraph("{{ meeting.number }}", style="MinutesNumber")
    _tag(document, "{%p endif %}", style="MinutesNumber")

    _labelled(
        document,
        "时间：",
        "{{ meeting.start|datetime_cn }}至{{ meeting.end|time_hm }}",
    )
    _tag(document, "{%p if meeting.location %}")
    _labelled(document, "地点：", "{{ meeting.location }}")
    _tag(document, "{%p endif %}")
    _tag(document, "{%p if meeting.bridge %}")
    _labelled(document, "电话会议：", "{{ meeting.bridge }}")
    _tag(document, "{%p endif %}")
    _labelled(document, "主持：", "{{ meeting.chair }}")
    _labelled(document, "记录：", "{{ meeting.secretary }}")

    _labelled(document, "出席：", "{{ attendance.present|names }}")
    groups = (
        (
            "late",
            "迟到：",
            "{% for p in attendance.late %}{{ p.name }}（迟到{{ p.minutes_late }}分钟）"
            "{% if not loop.last %}、{% endif %}{% endfor %}",
        ),
        (
            "left_early",
            "早退：",
            "{% for p in attendance.left_early %}{{ p.name }}（{{ p.left_at|time_hm }}离会）"
            "{% if not loop.last %}、{% endif %}{% endfor %}",
        ),
        ("absent", "缺席：", "{{ attendance.absent|names }}"),
        (
            "excused",
            "请假：",
            "{% for p in attendance.excused %}{{ p.name }}{% if p.reason %}（{{ p.reason }}）"
            "{% endif %}{% if not loop.last %}、{% endif %}{% endfor %}",
        ),
        (
            "represented",
            "委托出席：",
            "{% for p in attendance.represented %}{{ p.name }}（委托{{ p.proxy }}）"
            "{% if not loop.last %}、{% endif %}{% endfor %}",
        ),
        (
            "guests",
            "列席：",
            "{% for p in attendance.guests %}{{ p.name }}{% if p.organisation %}"
            "（{{ p.organisation }}）{% endif %}{% if not loop.last %}、{% endif %}{% endfor %}",
        ),
    )
    for group, label, value in groups:
        _tag(document, f"{{%p if attendance.{group} %}}")
        _labelled(document, label, value)
        _tag(document, "{%p endif %}")

    document.add_paragraph("一、会议议题", style="MinutesHeading")
    _tag(document, "{%p for a in agenda_items %}")
    document.add_paragraph(
        "（{{ a.number }}）{{ a.title }}{% if a.presenter %}（汇报人：{{ a.presenter }}）{% endif %}",
        style="MinutesNotes",
    )
    _tag(document, "{%p if a.notes %}")
    document.add_paragraph("{{ a.notes }}", style="MinutesNotes")
    _tag(document, "{%p endif %}")
    _tag(document, "{%p endfor %}")

    document.add_paragraph("二、会议决议", style="MinutesHeading")
    _tag(document, "{%p for r in resolutions %}")
    document.add_paragraph(
        "{{ r.number }}. {{ r.text }}"
        "{% if r.decided_by or r.has_votes %}（{{ r.decided_by }}"
        "{% if r.decided_by and r.has_votes %}，{% endif %}"
        "{% if r.has_votes %}同意{{ r.votes_for }}票、反对{{ r.votes_against }}票、"
        "弃权{{ r.votes_abstain }}票{% endif %}）{% endif %}",
        style="MinutesNotes",
    )
    _tag(document, "{%p endfor %}")

    document.add_paragraph("三、待办事项", style="MinutesHeading")
    _action_table(
        document,
        ("序号", "事项", "负责人", "协办人", "完成时限", "对应决议"),
        (
            "{{ a.number }}",
            "{{ a.title }}",
            "{{ a.owner }}",
            "{{ a.co_owners|names }}",
            "{{ a.due|date_cn }}",
            "{{ a.resolution_number }}",
        ),
        style="MinutesTable",
    )

    _tag(document, "{%p if approval.approved_by %}")
    _labelled(document, "审定：", "{{ approval.approved_by }}　{{ approval.approved_at|date_cn }}")
    _tag(document, "{%p endif %}")

    # GB/T 9704: page number in 4号 半角 digits between 一字线, one character (14 pt) in
    # from the outer edge; odd pages on the right, even pages on the left.
    document.settings.odd_and_even_pages_header_footer = True
    section = document.sections[0]
    for footer, alignment in (
        (section.footer, WD_ALIGN_PARAGRAPH.RIGHT),
        (section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT),
    ):
        paragraph = footer.paragraphs[0]
        paragraph.style = document.styles["MinutesPageNumber"]
        paragraph.alignment = alignment
        if alignment == WD_ALIGN_PARAGRAPH.RIGHT:
            paragraph.paragraph_format.right_indent = Pt(14)
        else:
            paragraph.paragraph_format.left_indent = Pt(14)
        paragraph.add_run("— ")
        _add_field(paragraph, "PAGE", "1")
        paragraph.add_run(" —")
    return document


def build_business_en() -> DocumentObject:
    """Build the English business minutes template (A4, 25 mm margins, Calibri 11 pt)."""
    document = Document()
    _set_a4(document, top=25, bottom=25, left=25, right=25)
    _set_document_language(document, latin="en-GB")

    normal = document.styles["Normal"]
    _set_fonts(normal, latin=LATIN_FONT_EN, east_asia=EAST_ASIA_FONT_EN)
    normal.font.size = Pt(11)
    _paragraph_style(
        document,
        "MinutesBody",
        latin=LATIN_FONT_EN,
        east_asia=EAST_ASIA_FONT_EN,
        size=11,
        space_after_pt=4,
    )
    _paragraph_style(
        document,
        "MinutesNotes",
        latin=LATIN_FONT_EN,
        east_asia=EAST_ASIA_FONT_EN,
        size=11,
        space_after_pt=6,
    )
    _paragraph_style(
        document,
        "MinutesTitle",
        latin=LATIN_FONT_EN,
        east_asia=EAST_ASIA_FONT_EN,
        size=20,
        bold=True,
        space_after_pt=2,
    )
    _paragraph_style(
        document,
        "MinutesNumber",
        latin=LATIN_FONT_EN,
        east_asia=EAST_ASIA_FONT_EN,
        size=11,
        space_after_pt=10,
    )
    _paragraph_style(
        document,
        "MinutesHeading",
        latin=LATIN_FONT_EN,
        east_asia="黑体",
        size=13,
        bold=True,
        space_before_pt=12,
        space_after_pt=4,
    )
    _paragraph_style(
        document,
        "MinutesMark",
        latin=LATIN_FONT_EN,
        east_asia="黑体",
        size=10,
        bold=True,
        color=RED,
        alignment=WD_ALIGN_PARAGRAPH.RIGHT,
    )
    _paragraph_style(
        document,
        "MinutesTable",
        latin=LATIN_FONT_EN,
        east_asia=EAST_ASIA_FONT_EN,
        size=10,
    )
    _character_style(document, "MinutesLabel", east_asia="黑体", bold=True)

    header = document.sections[0].header.paragraphs[0]
    header.style = document.styles["MinutesMark"]
    header.text = "{% if confidential %}{{ confidentiality_mark }}{% endif %}"

    document.add_paragraph("Minutes: {{ meeting.title }}", style="MinutesTitle")
    _tag(document, "{%p if meeting.number %}", style="MinutesNumber")
    document.add_paragraph("Reference {{ meeting.number }}", style="MinutesNumber")
    _tag(document, "{%p endif %}", style="MinutesNumber")

    _labelled(
        document,
        "Date and time: ",
        "{{ meeting.start|datetime_en }} to {{ meeting.end|time_hm }} ({{ meeting.timezone }})",
    )
    _tag(document, "{%p if meeting.actual_start %}")
    _labelled(
        document,
        "Held: ",
        "{{ meeting.actual_start|time_hm }} to {{ meeting.actual_end|time_hm }}",
    )
    _tag(document, "{%p endif %}")
    _tag(document, "{%p if meeting.location %}")
    _labelled(document, "Location: ", "{{ meeting.location }}")
    _tag(document, "{%p endif %}")
    _tag(document, "{%p if meeting.bridge %}")
    _labelled(document, "Conference bridge: ", "{{ meeting.bridge }}")
    _tag(document, "{%p endif %}")
    _labelled(document, "Organiser: ", "{{ meeting.organiser }}")
    _labelled(document, "Chair: ", "{{ meeting.chair }}")
    _labelled(document, "Secretary: ", "{{ meeting.secretary }}")

    document.add_paragraph("Attendance", style="MinutesHeading")
    _labelled(document, "Present: ", "{{ attendance.present|names(', ') }}")
    groups = (
        (
            "late",
            "Late: ",
            "{% for p in attendance.late %}{{ p.name }} ({{ p.minutes_late }} min)"
            "{% if not loop.last %}, {% endif %}{% endfor %}",
        ),
        (
            "left_early",
            "Left early: ",
            "{% for p in attendance.left_early %}{{ p.name }} (left at {{ p.left_at|time_hm }})"
            "{% if not loop.last %}, {% endif %}{% endfor %}",
        ),
        ("absent", "Absent: ", "{{ attendance.absent|names(', ') }}"),
        (
            "excused",
            "Apologies: ",
            "{% for p in attendance.excused %}{{ p.name }}{% if p.reason %} ({{ p.reason }})"
            "{% endif %}{% if not loop.last %}, {% endif %}{% endfor %}",
        ),
        (
            "represented",
            "Represented: ",
            "{% for p in attendance.represented %}{{ p.name }} (by {{ p.proxy }})"
            "{% if not loop.last %}, {% endif %}{% endfor %}",
        ),
        (
            "guests",
            "In attendance: ",
            "{% for p in attendance.guests %}{{ p.name }}{% if p.organisation %}"
            " ({{ p.organisation }}){% endif %}{% if not loop.last %}, {% endif %}{% endfor %}",
        ),
    )
    for group, label, value in groups:
        _tag(document, f"{{%p if attendance.{group} %}}")
        _labelled(document, label, value)
        _tag(document, "{%p endif %}")

    document.add_paragraph("Agenda", style="MinutesHeading")
    _tag(document, "{%p for a in agenda_items %}")
    paragraph = document.add_paragraph(style="MinutesBody")
    paragraph.add_run("{{ a.number }}. {{ a.title }}").bold = True
    paragraph.add_run("{% if a.presenter %} (presented by {{ a.presenter }}){% endif %}")
    _tag(document, "{%p if a.notes %}")
    document.add_paragraph("{{ a.notes }}", style="MinutesNotes")
    _tag(document, "{%p endif %}")
    _tag(document, "{%p endfor %}")

    document.add_paragraph("Resolutions", style="MinutesHeading")
    _tag(document, "{%p for r in resolutions %}")
    document.add_paragraph(
        "{{ r.number }}. {{ r.text }}"
        "{% if r.decided_by or r.has_votes %} ({{ r.decided_by }}"
        "{% if r.decided_by and r.has_votes %}; {% endif %}"
        "{% if r.has_votes %}for {{ r.votes_for }}, against {{ r.votes_against }}, "
        "abstaining {{ r.votes_abstain }}{% endif %}){% endif %}",
        style="MinutesNotes",
    )
    _tag(document, "{%p endfor %}")

    document.add_paragraph("Action items", style="MinutesHeading")
    _action_table(
        document,
        ("No.", "Action", "Owner", "Co-owners", "Due", "Resolution"),
        (
            "{{ a.number }}",
            "{{ a.title }}",
            "{{ a.owner }}",
            "{{ a.co_owners|names(', ') }}",
            "{{ a.due|date_en }}",
            "{{ a.resolution_number }}",
        ),
        style="MinutesTable",
    )

    _tag(document, "{%p if approval.approved_by %}")
    _labelled(
        document,
        "Approved by: ",
        "{{ approval.approved_by }} on {{ approval.approved_at|date_en }}",
    )
    _tag(document, "{%p endif %}")

    footer = document.sections[0].footer.paragraphs[0]
    footer.style = document.styles["MinutesTable"]
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    footer.add_run("Page ")
    _add_field(footer, "PAGE", "1")
    footer.add_run(" of ")
    _add_field(footer, "NUMPAGES", "1")
    return document


def main(argv: Sequence[str] | None = None) -> None:
    """Write default-zh.docx and business-en.docx into the output folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path(__file__).resolve().parents[2] / "templates" / "minutes",
        help="folder to write the .docx templates into (default: the repository's templates/minutes)",
    )
    arguments = parser.parse_args(argv)
    arguments.output_dir.mkdir(parents=True, exist_ok=True)
    build_default_zh().save(arguments.output_dir / "default-zh.docx")
    build_business_en().save(arguments.output_dir / "business-en.docx")


if __name__ == "__main__":
    main()
