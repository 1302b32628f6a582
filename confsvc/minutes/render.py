"""Render minutes as .docx (docxtpl), HTML and Markdown, and validate uploaded templates.

A pure library: no database and no HTTP. Errors are ``TemplateRejected`` (a
``ValidationFailed``) for unusable templates and ``ValidationFailed`` for bad context
values; ``NotFound`` when a shipped template name is unknown.
"""

from __future__ import annotations

import functools
import importlib.resources
import io
import logging
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any, Final, Literal

from docxtpl import DocxTemplate, RichText
from jinja2 import FileSystemLoader, TemplateError, TemplateSyntaxError
from lxml import etree

from confsvc.errors import NotFound, ValidationFailed
from confsvc.minutes.eastasia import (
    StyleFonts,
    east_asian_rich_text,
    ensure_east_asian_language,
    fix_east_asian_fonts,
    lift_nested_runs,
    rich_text_from_segments,
)
from confsvc.minutes.formatting import minutes_environment
from confsvc.minutes.render_context import KNOWN_PLACEHOLDERS, MinutesContext, sample_context
from confsvc.minutes.templating import (
    TemplateRejected,
    analyse_placeholders,
    jinja_source,
    paragraph_text,
    read_package,
    repair_package,
    write_package,
)

__all__ = [
    "KNOWN_PLACEHOLDERS",
    "SHIPPED_TEMPLATES",
    "TemplateRejected",
    "TemplateReport",
    "minutes_template_dirs",
    "render_docx",
    "render_html",
    "render_markdown",
    "sample_context",
    "shipped_template_path",
    "validate_template",
]

logger = logging.getLogger(__name__)

SHIPPED_TEMPLATES: Final[Mapping[str, str]] = {
    "default-zh": "default-zh.docx",
    "business-en": "business-en.docx",
}

DEFAULT_EAST_ASIA_FONT: Final = "宋体"

_LEFTOVER_MARKERS: Final = ("{{", "}}", "{%", "%}", "{#", "#}")
_W: Final = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_TEXT_PARTNAME_RE: Final = re.compile(r"^/word/(document|header\d*|footer\d*)\.xml$")

MinutesInput = MinutesContext | Mapping[str, Any]
TemplateSource = bytes | str | PathLike[str]


@dataclass(frozen=True, slots=True)
class TemplateReport:
    """Result of a successful template check.

    ``placeholders`` are the variable paths as the template writes them, in order of first
    use (loop variables included, e.g. ``item.owner``, ``loop.index``); ``filters`` are the
    filter names used; ``merged_tags`` counts tags that Word had split across runs.
    """

    placeholders: tuple[str, ...]
    filters: tuple[str, ...]
    merged_tags: int


# Shipped templates


def minutes_template_dirs() -> list[Path]:
    """Return the folders holding shipped minutes templates, installed package first.

    A wheel puts the repository's templates/ folder at confsvc/_templates; an editable
    install or a checkout uses templates/ next to the confsvc package.
    """
    candidates = [
        Path(str(importlib.resources.files("confsvc").joinpath("_templates", "minutes"))),
        Path(__file__).resolve().parents[2] / "templates" / "minutes",
    ]
    return [folder for folder in candidates if folder.is_dir()]


def shipped_template_path(filename: str) -> Path:
    """Find a file among the shipped minutes templates.

    Raises:
        NotFound: no template folder holds ``filename``.
    """
    for folder in minutes_template_dirs():
        path = folder / filename
        if path.is_file():
            return path
    raise NotFound("minutes template", filename)


def _template_bytes(template: TemplateSource) -> tuple[bytes, str]:
    if isinstance(template, bytes):
        return template, "uploaded"
    if isinstance(template, str) and template in SHIPPED_TEMPLATES:
        return shipped_template_path(SHIPPED_TEMPLATES[template]).read_bytes(), template
    path = Path(template)
    try:
        return path.read_bytes(), path.name
    except OSError as exc:
        raise NotFound("minutes template", str(template)) from exc


@functools.lru_cache(maxsize=16)
def _repaired_template(data: bytes) -> bytes:
    """Repair split tags; cached because the shipped templates are rendered again and again."""
    repair = repair_package(read_package(data))
    if repair.broken_paragraphs:
        raise TemplateRejected(
            "template has broken tags",
            invalid_params=[_broken_paragraph_param(text) for text in repair.broken_paragraphs],
        )
    return write_package(repair.parts)


def _broken_paragraph_param(text: str) -> dict[str, str]:
    return {
        "name": "template",
        "reason": f"paragraph {text!r} holds an unclosed template tag, or one that crosses "
        "a paragraph, tab or field; retype the tag in one piece",
        "paragraph": text,
    }


# Context preparation


def _template_context(context: MinutesInput) -> dict[str, Any]:
    if isinstance(context, MinutesContext):
        return context.to_template_context()
    if isinstance(context, Mapping):
        return dict(context)
    raise TypeError(f"context must be a MinutesContext or a mapping, not {type(context).__name__}")


def _docx_values(value: Any) -> Any:
    """Turn rich-text values into RichText with East Asian fonts in ``w:eastAsia``.

    ``{"richtext": [{"text": ..., "font": ..., "bold": ...}, ...]}`` becomes a RichText.
    """
    if isinstance(value, RichText):
        return east_asian_rich_text(value)
    if isinstance(value, Mapping):
        segments = value.get("richtext")
        if len(value) == 1 and isinstance(segments, list):
            try:
                return east_asian_rich_text(rich_text_from_segments(segments))
            except TypeError as exc:
                raise ValidationFailed.field(
                    "richtext", f"invalid rich-text segment: {exc}"
                ) from exc
        return {key: _docx_values(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_docx_values(item) for item in value]
    return value


_RICH_TEXT_RE: Final = re.compile(r"<w:t(?:\s[^>]*)?>([^<]*)</w:t>")


def _plain_values(value: Any) -> Any:
    """Turn rich-text values into plain strings for the HTML and Markdown renderings."""
    if isinstance(value, RichText):
        return _unescape_xml("".join(_RICH_TEXT_RE.findall(value.xml)))
    if isinstance(value, Mapping):
        segments = value.get("richtext")
        if len(value) == 1 and isinstance(segments, list):
            return "".join(str(segment.get("text", "")) for segment in segments)
        return {key: _plain_values(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain_values(item) for item in value]
    return value


def _unescape_xml(text: str) -> str:
    return (
        text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
    )


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, RichText):
        yield value.xml
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


# .docx


def render_docx(
    context: MinutesInput,
    *,
    template: TemplateSource = "default-zh",
    east_asia_font: str = DEFAULT_EAST_ASIA_FONT,
) -> bytes:
    """Render minutes into a .docx and return its bytes.

    ``template`` is a shipped name ("default-zh", "business-en"), a path, or the bytes of
    a .docx. Tags that Word split across runs are merged first. Every run with CJK text
    ends with an explicit East Asian font (its own, its style's, or ``east_asia_font``),
    and the document defaults carry ``w:lang w:eastAsia="zh-CN"``.

    Raises:
        TemplateRejected: broken tags, a render error, or tag text left in the output.
        ValidationFailed: a naive datetime or unknown time zone in the context.
        NotFound: an unknown shipped template name or a missing file.
    """
    started = time.perf_counter()
    data, label = _template_bytes(template)
    repaired = _repaired_template(data)
    values = _docx_values(_template_context(context))
    document = _render_repaired(repaired, values, east_asia_font=east_asia_font)
    logger.debug(
        "minutes docx rendered template=%s bytes=%d ms=%.1f",
        label,
        len(document),
        (time.perf_counter() - started) * 1000,
    )
    return document


def _render_repaired(repaired: bytes, values: dict[str, Any], *, east_asia_font: str) -> bytes:
    env = minutes_environment(autoescape=True)
    document = DocxTemplate(io.BytesIO(repaired))
    try:
        document.render(values, env, autoescape=True)
    except TemplateSyntaxError as exc:
        raise TemplateRejected(
            f"template syntax error: {exc.message}",
            invalid_params=[
                {"name": "template", "reason": f"invalid template syntax: {exc.message}"}
            ],
        ) from exc
    except (
        TemplateError,
        ValueError,
        TypeError,
        LookupError,
        AttributeError,
        etree.LxmlError,
    ) as exc:
        raise TemplateRejected(
            f"template cannot be rendered: {exc}",
            invalid_params=[{"name": "template", "reason": f"rendering failed: {exc}"}],
        ) from exc

    allowed = {
        marker for text in _strings(values) for marker in _LEFTOVER_MARKERS if marker in text
    }
    _finish_document(document, east_asia_font=east_asia_font, allowed_markers=allowed)

    output = io.BytesIO()
    document.save(output)
    return output.getvalue()


def _finish_document(
    document: DocxTemplate, *, east_asia_font: str, allowed_markers: set[str]
) -> None:
    """Fix East Asian fonts and language, and reject tag text left in the output."""
    docx = document.docx
    styles_root = docx.styles.element
    ensure_east_asian_language(styles_root)
    style_fonts = StyleFonts.from_styles(styles_root)

    leftovers: list[str] = []
    for part in docx.part.package.iter_parts():
        if not _TEXT_PARTNAME_RE.match(str(part.partname)):
            continue
        root = getattr(part, "element", None)
        if root is None:
            continue
        lift_nested_runs(root)
        fix_east_asian_fonts(root, style_fonts, font=east_asia_font)
        for paragraph in root.iter(f"{_W}p"):
            text = paragraph_text(paragraph)
            if any(
                marker in text and marker not in allowed_markers for marker in _LEFTOVER_MARKERS
            ):
                leftovers.append(text)

    if leftovers:
        logger.warning("minutes render left template tags count=%d", len(leftovers))
        raise TemplateRejected(
            "rendered document still contains template tags",
            invalid_params=[
                {
                    "name": "template",
                    "reason": f"tag text left after rendering: {text!r}",
                    "paragraph": text,
                }
                for text in leftovers
            ],
        )


# Template validation


def validate_template(data: bytes) -> TemplateReport:
    """Check an uploaded .docx template: repair split tags, list its placeholders, check
    them against ``KNOWN_PLACEHOLDERS`` and the filters, and render it with
    ``sample_context()``.

    Raises:
        TemplateRejected: not a .docx, broken tags (``invalid_params`` gives the paragraph
            text), unknown placeholders or filters (one entry each), a syntax error, or a
            failed sample render.
    """
    repair = repair_package(read_package(data))
    if repair.broken_paragraphs:
        _reject(
            "template has broken tags",
            [_broken_paragraph_param(text) for text in repair.broken_paragraphs],
        )

    source = jinja_source(repair.parts)
    env = minutes_environment(autoescape=True)
    try:
        analysis = analyse_placeholders(source, env)
    except TemplateSyntaxError as exc:
        lines = source.splitlines()
        paragraph = lines[exc.lineno - 1] if exc.lineno and exc.lineno <= len(lines) else ""
        _reject(
            f"template syntax error: {exc.message}",
            [
                {
                    "name": "template",
                    "reason": f"invalid template syntax ({exc.message}) in paragraph {paragraph!r}",
                    "paragraph": paragraph,
                }
            ],
        )

    problems = [
        {"name": path, "reason": "unknown placeholder; see the minutes template guide"}
        for path in analysis.unknown_placeholders
    ]
    problems += [
        {"name": f"|{name}", "reason": "unknown filter"} for name in analysis.unknown_filters
    ]
    if problems:
        _reject("template uses unknown placeholders or filters", problems)

    repaired = write_package(repair.parts)
    values = _docx_values(sample_context().to_template_context())
    try:
        _render_repaired(repaired, values, east_asia_font=DEFAULT_EAST_ASIA_FONT)
    except TemplateRejected as exc:
        logger.info("minutes template rejected reason=render problems=%d", len(exc.invalid_params))
        raise

    return TemplateReport(
        placeholders=tuple(analysis.placeholders),
        filters=tuple(analysis.filters),
        merged_tags=repair.merged_tags,
    )


def _reject(message: str, problems: list[dict[str, str]]) -> None:
    logger.info("minutes template rejected message=%s problems=%d", message, len(problems))
    raise TemplateRejected(message, invalid_params=problems)


# HTML and Markdown


Locale = Literal["zh-CN", "en"]

_LABELS: Final[Mapping[str, Mapping[str, str]]] = {
    "zh-CN": {
        "minutes": "会议纪要",
        "number": "文号",
        "time": "时间",
        "actual_time": "实际时间",
        "location": "地点",
        "bridge": "电话会议",
        "timezone": "时区",
        "organiser": "组织部门",
        "chair": "主持",
        "secretary": "记录",
        "attendance": "出席情况",
        "present": "出席",
        "late": "迟到",
        "left_early": "早退",
        "absent": "缺席",
        "excused": "请假",
        "represented": "委托出席",
        "guests": "列席",
        "minutes_late": "分钟",
        "left_at": "离会",
        "proxy": "代理人",
        "agenda": "会议议题",
        "presenter": "汇报人",
        "resolutions": "会议决议",
        "votes": "同意 {for_} 票，反对 {against} 票，弃权 {abstain} 票",
        "action_items": "待办事项",
        "owner": "负责人",
        "co_owners": "协办人",
        "due": "完成时限",
        "resolution": "对应决议",
        "approval": "审定",
        "approved_by": "审定人",
        "approved_at": "审定时间",
        "separator": "、",
    },
    "en": {
        "minutes": "Minutes",
        "number": "Reference",
        "time": "Time",
        "actual_time": "Actual time",
        "location": "Location",
        "bridge": "Conference bridge",
        "timezone": "Time zone",
        "organiser": "Organiser",
        "chair": "Chair",
        "secretary": "Secretary",
        "attendance": "Attendance",
        "present": "Present",
        "late": "Late",
        "left_early": "Left early",
        "absent": "Absent",
        "excused": "Apologies",
        "represented": "Represented",
        "guests": "In attendance (guests)",
        "minutes_late": "min",
        "left_at": "left at",
        "proxy": "proxy",
        "agenda": "Agenda",
        "presenter": "Presenter",
        "resolutions": "Resolutions",
        "votes": "for {for_}, against {against}, abstaining {abstain}",
        "action_items": "Action items",
        "owner": "Owner",
        "co_owners": "Co-owners",
        "due": "Due",
        "resolution": "Resolution",
        "approval": "Approval",
        "approved_by": "Approved by",
        "approved_at": "Approved at",
        "separator": ", ",
    },
}


def normalise_locale(locale: str) -> Locale:
    """Map a locale tag (zh, zh-CN, zh_Hans, en, en-GB, ...) to "zh-CN" or "en".

    Raises:
        ValidationFailed: any other language.
    """
    language = locale.replace("_", "-").split("-", 1)[0].lower()
    if language == "zh":
        return "zh-CN"
    if language == "en":
        return "en"
    raise ValidationFailed.field("locale", f"unsupported locale {locale!r}; use zh-CN or en")


def _render_text(context: MinutesInput, *, locale: str, template_name: str, markdown: bool) -> str:
    language = normalise_locale(locale)
    loader = FileSystemLoader([str(folder) for folder in minutes_template_dirs()])
    env = minutes_environment(autoescape=not markdown, loader=loader, escape_markdown=markdown)
    values = _plain_values(_template_context(context))
    try:
        return env.get_template(template_name).render(
            **values, labels=_LABELS[language], locale=language
        )
    except (TemplateError, ValueError, TypeError, LookupError, AttributeError) as exc:
        raise TemplateRejected(
            f"{template_name} cannot be rendered: {exc}",
            invalid_params=[{"name": "context", "reason": f"rendering failed: {exc}"}],
        ) from exc


def render_html(context: MinutesInput, *, locale: str = "zh-CN") -> str:
    """Render minutes as an HTML document (autoescaped) in zh-CN or English.

    Raises:
        ValidationFailed: unsupported locale, or bad values in the context.
    """
    return _render_text(context, locale=locale, template_name="minutes.html.j2", markdown=False)


def render_markdown(context: MinutesInput, *, locale: str = "zh-CN") -> str:
    """Render minutes as Markdown in zh-CN or English; Markdown syntax characters in values
    are backslash-escaped.

    Raises:
        ValidationFailed: unsupported locale, or bad values in the context.
    """
    return _render_text(context, locale=locale, template_name="minutes.md.j2", markdown=True)
