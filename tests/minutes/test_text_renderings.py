"""HTML and Markdown renderings and the date filters."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest

from confsvc.errors import ValidationFailed
from confsvc.minutes.render import render_docx, render_html, render_markdown, sample_context
from confsvc.minutes.render_context import MeetingInfo


def test_html_zh() -> None:
    html = render_html(sample_context(), locale="zh-CN")
    assert '<html lang="zh-CN">' in html
    assert "<h1>2026年第4季度经营分析会纪要</h1>" in html
    assert "内部资料 注意保密" in html
    assert "2026年12月10日 14:00 – 15:30" in html
    assert "<td>整理预算调整说明</td><td>王芳</td><td>李娜、孙丽</td><td>2027年1月8日</td>" in html


def test_html_en_locale_variant() -> None:
    html = render_html(sample_context(locale="en"), locale="en-GB")
    assert '<html lang="en">' in html
    assert "CONFIDENTIAL" in html
    assert "10 December 2026, 14:00 – 15:30" in html
    assert "<strong>Apologies</strong>: 吴敏 (出差)" in html


def test_html_autoescape() -> None:
    context = sample_context()
    meeting = dataclasses.replace(context.meeting, title="<script>alert(1)</script>")
    html = render_html(dataclasses.replace(context, meeting=meeting), locale="zh-CN")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_markdown_zh() -> None:
    markdown = render_markdown(sample_context(), locale="zh")
    assert markdown.startswith("**内部资料 注意保密**\n\n# 2026年第4季度经营分析会纪要\n")
    assert "| 3 | 整理预算调整说明 | 王芳 | 李娜、孙丽 | 2027年1月8日 |  |" in markdown
    assert "- **请假**: 吴敏 (出差)" in markdown


def test_markdown_escapes_values() -> None:
    context = sample_context()
    meeting = dataclasses.replace(context.meeting, title="Q1 *预算* | 调整")
    markdown = render_markdown(dataclasses.replace(context, meeting=meeting), locale="en")
    assert "# Q1 \\*预算\\* \\| 调整 — Minutes" in markdown


def test_unsupported_locale() -> None:
    with pytest.raises(ValidationFailed) as caught:
        render_html(sample_context(), locale="fr-FR")
    assert caught.value.invalid_params[0]["name"] == "locale"


def test_naive_datetime_rejected() -> None:
    context = sample_context()
    meeting = dataclasses.replace(context.meeting, start=datetime(2026, 12, 10, 14, 0))
    with pytest.raises(ValidationFailed) as caught:
        render_docx(dataclasses.replace(context, meeting=meeting))
    assert caught.value.invalid_params[0]["name"] == "meeting.start"


def test_datetime_filter_uses_meeting_zone() -> None:
    context = sample_context()
    meeting: MeetingInfo = dataclasses.replace(context.meeting, timezone="Europe/Berlin")
    markdown = render_markdown(dataclasses.replace(context, meeting=meeting), locale="zh-CN")
    # 14:00 in Shanghai (UTC+8) is 07:00 in Berlin (UTC+1 in December).
    assert "2026年12月10日 07:00 – 08:30 (Europe/Berlin)" in markdown


def test_unknown_timezone_rejected() -> None:
    context = sample_context()
    meeting = dataclasses.replace(context.meeting, timezone="Asia/Atlantis")
    with pytest.raises(ValidationFailed) as caught:
        render_markdown(dataclasses.replace(context, meeting=meeting))
    assert caught.value.invalid_params[0]["name"] == "meeting.timezone"
