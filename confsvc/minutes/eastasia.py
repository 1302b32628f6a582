"""East Asian fonts in rendered minutes.

Word picks the font of CJK characters from ``w:rFonts/@w:eastAsia`` (or ``@w:eastAsiaTheme``,
which wins when both are present), never from ``w:ascii``/``w:hAnsi``. python-docx and
docxtpl's ``RichText(font=...)`` write only the Latin attributes, so Chinese text falls back
to a theme font that depends on the reader's Office install and locale. After rendering,
``fix_east_asian_fonts`` gives every run with CJK text an explicit East Asian font: the
run's own ``w:eastAsia``, or its character/paragraph style's, or else the configured font.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any, Final

from docxtpl import RichText
from lxml import etree

from confsvc.minutes.templating import W_NS

__all__ = [
    "CJK_RE",
    "east_asian_rich_text",
    "ensure_east_asian_language",
    "fix_east_asian_fonts",
    "is_east_asian_font",
    "lift_nested_runs",
    "rich_text_from_segments",
]

_W: Final = f"{{{W_NS}}}"

# Han (with extensions and compatibility forms), CJK punctuation, kana, Hangul, Bopomofo,
# full-width forms.
CJK_RE: Final = re.compile(
    "[\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u3190-\u31ff\u3400-\u4dbf"
    "\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"
    "\U00020000-\U0003134f]"
)

# Latin names of common CJK fonts; names written in CJK characters are recognised by CJK_RE.
_EAST_ASIAN_FONT_NAMES: Final = frozenset(
    name.casefold()
    for name in (
        "SimSun",
        "NSimSun",
        "SimHei",
        "FangSong",
        "FangSong_GB2312",
        "KaiTi",
        "KaiTi_GB2312",
        "SimKai",
        "SimFang",
        "Microsoft YaHei",
        "Microsoft JhengHei",
        "DengXian",
        "PMingLiU",
        "MingLiU",
        "STSong",
        "STHeiti",
        "STKaiti",
        "STFangsong",
        "STZhongsong",
        "PingFang SC",
        "PingFang TC",
        "Hiragino Sans GB",
        "MS Mincho",
        "MS Gothic",
        "Yu Mincho",
        "Yu Gothic",
        "Malgun Gothic",
        "Batang",
        "Gulim",
    )
)
_EAST_ASIAN_FONT_WORDS: Final = ("cjk", "source han", "wenquanyi", "fzxiaobiaosong")


def is_east_asian_font(name: str) -> bool:
    """Return whether ``name`` is a CJK font (by its characters or a known Latin name)."""
    folded = name.casefold()
    if CJK_RE.search(name) or folded in _EAST_ASIAN_FONT_NAMES:
        return True
    return any(word in folded for word in _EAST_ASIAN_FONT_WORDS)


def rich_text_from_segments(segments: list[dict[str, Any]]) -> RichText:
    """Build a docxtpl RichText from ``[{"text": ..., "font": ..., "bold": ...}, ...]``.

    Keys are RichText.add keyword arguments (text, font, bold, italic, underline, color,
    size in half-points, ...). Unknown keys raise TypeError.
    """
    rich = RichText()
    for segment in segments:
        options = dict(segment)
        text = options.pop("text", "")
        rich.add(text, **options)
    return rich


_RFONTS_RE: Final = re.compile(r"<w:rFonts((?:\s+w:\w+=\"[^\"]*\")*)\s*/>")
_ATTRIBUTE_RE: Final = re.compile(r'w:(\w+)="([^"]*)"')


def east_asian_rich_text(rich: RichText) -> RichText:
    """Return a copy whose CJK fonts sit in ``w:eastAsia``.

    docxtpl writes ``RichText(font="黑体")`` as ``w:ascii``/``w:hAnsi``/``w:cs``. For a CJK
    font name this copy writes ``w:eastAsia`` instead, so Latin letters in the same run keep
    the paragraph style's Latin font. Latin font names are left as they are.
    """
    if "<w:rFonts" not in rich.xml:
        return rich

    def move_to_east_asia(match: re.Match[str]) -> str:
        attributes = dict(_ATTRIBUTE_RE.findall(match.group(1)))
        latin = attributes.get("ascii")
        if not latin or "eastAsia" in attributes or not is_east_asian_font(latin):
            return match.group(0)
        for name in ("ascii", "hAnsi", "cs"):
            attributes.pop(name, None)
        attributes["eastAsia"] = latin
        rendered = " ".join(f'w:{name}="{value}"' for name, value in attributes.items())
        return f"<w:rFonts {rendered}/>"

    fixed = RichText()
    fixed.xml = _RFONTS_RE.sub(move_to_east_asia, rich.xml)
    return fixed


@dataclass(slots=True)
class _Style:
    based_on: str | None
    east_asia: str | None


@dataclass(slots=True)
class StyleFonts:
    """Explicit East Asian fonts of the styles in styles.xml (theme fonts count as unset)."""

    styles: dict[str, _Style] = field(default_factory=dict)
    default_paragraph: str | None = None

    @classmethod
    def from_styles(cls, root: etree._Element | None) -> StyleFonts:
        fonts = cls()
        if root is None:
            return fonts
        for style in root.iterfind(f"{_W}style"):
            style_id = style.get(f"{_W}styleId")
            if style_id is None:
                continue
            based_on = style.find(f"{_W}basedOn")
            fonts.styles[style_id] = _Style(
                based_on=based_on.get(f"{_W}val") if based_on is not None else None,
                east_asia=_explicit_east_asia(style.find(f"{_W}rPr")),
            )
            if style.get(f"{_W}type") == "paragraph" and style.get(f"{_W}default") in ("1", "true"):
                fonts.default_paragraph = style_id
        return fonts

    def east_asia(self, style_id: str | None) -> str | None:
        seen: set[str] = set()
        while style_id and style_id not in seen:
            seen.add(style_id)
            style = self.styles.get(style_id)
            if style is None:
                return None
            if style.east_asia:
                return style.east_asia
            style_id = style.based_on
        return None


def _explicit_east_asia(rpr: etree._Element | None) -> str | None:
    if rpr is None:
        return None
    fonts = rpr.find(f"{_W}rFonts")
    if fonts is None or fonts.get(f"{_W}eastAsiaTheme") is not None:
        return None
    return fonts.get(f"{_W}eastAsia")


def fix_east_asian_fonts(root: etree._Element, styles: StyleFonts, *, font: str) -> int:
    """Set ``w:eastAsia=font`` on each run with CJK text that has no explicit East Asian
    font of its own or from its character or paragraph style. Modifies ``root`` in place.

    A theme East Asian font (``w:eastAsiaTheme``) on the run is removed, because Word would
    prefer it over ``w:eastAsia``. Returns the number of runs changed.
    """
    changed = 0
    for paragraph in root.iter(f"{_W}p"):
        paragraph_style = None
        ppr = paragraph.find(f"{_W}pPr")
        if ppr is not None:
            pstyle = ppr.find(f"{_W}pStyle")
            if pstyle is not None:
                paragraph_style = pstyle.get(f"{_W}val")
        paragraph_font = styles.east_asia(paragraph_style or styles.default_paragraph)

        for run in paragraph.iterchildren(f"{_W}r"):
            changed += _fix_run(run, paragraph_font, styles, font)
        for container in paragraph.iterchildren(
            f"{_W}hyperlink", f"{_W}ins", f"{_W}smartTag", f"{_W}fldSimple"
        ):
            for run in container.iterchildren(f"{_W}r"):
                changed += _fix_run(run, paragraph_font, styles, font)
    return changed


def _fix_run(run: etree._Element, paragraph_font: str | None, styles: StyleFonts, font: str) -> int:
    text = "".join(t.text or "" for t in run.iterchildren(f"{_W}t"))
    if not CJK_RE.search(text):
        return 0

    rpr = run.find(f"{_W}rPr")
    fonts = rpr.find(f"{_W}rFonts") if rpr is not None else None
    # A theme font on the run overrides every style, so only the run itself can fix it.
    run_theme = fonts is not None and fonts.get(f"{_W}eastAsiaTheme") is not None
    if fonts is not None and not run_theme and fonts.get(f"{_W}eastAsia"):
        return 0
    if not run_theme:
        rstyle = rpr.find(f"{_W}rStyle") if rpr is not None else None
        if rstyle is not None and styles.east_asia(rstyle.get(f"{_W}val")):
            return 0
        if paragraph_font:
            return 0

    if rpr is None:
        rpr = etree.Element(f"{_W}rPr")
        run.insert(0, rpr)
    if fonts is None:
        fonts = etree.Element(f"{_W}rFonts")
        # rFonts comes right after rStyle in the CT_RPr sequence.
        has_style = rpr.find(f"{_W}rStyle") is not None
        rpr.insert(1 if has_style else 0, fonts)
    fonts.attrib.pop(f"{_W}eastAsiaTheme", None)
    fonts.set(f"{_W}eastAsia", font)
    return 1


def ensure_east_asian_language(styles_root: etree._Element, *, language: str = "zh-CN") -> bool:
    """Add ``w:lang/@w:eastAsia`` to the document defaults when absent, so Word does not
    treat Han characters as Japanese. Returns whether styles.xml changed."""
    defaults = styles_root.find(f"{_W}docDefaults")
    if defaults is None:
        defaults = etree.Element(f"{_W}docDefaults")
        styles_root.insert(0, defaults)
    rpr_default = defaults.find(f"{_W}rPrDefault")
    if rpr_default is None:
        rpr_default = etree.Element(f"{_W}rPrDefault")
        defaults.insert(0, rpr_default)
    rpr = rpr_default.find(f"{_W}rPr")
    if rpr is None:
        rpr = etree.SubElement(rpr_default, f"{_W}rPr")
    lang = rpr.find(f"{_W}lang")
    if lang is None:
        lang = etree.SubElement(rpr, f"{_W}lang")
    if lang.get(f"{_W}eastAsia"):
        return False
    lang.set(f"{_W}eastAsia", language)
    return True


# Element order that the CT_RPr schema type of ECMA-376 Part 1 requires inside w:rPr.
_RPR_ORDER: Final = {
    f"{_W}{name}": position
    for position, name in enumerate(
        (
            "rStyle", "rFonts", "b", "bCs", "i", "iCs", "caps", "smallCaps", "strike",
            "dstrike", "outline", "shadow", "emboss", "imprint", "noProof", "snapToGrid",
            "vanish", "webHidden", "color", "spacing", "w", "kern", "position", "sz", "szCs",
            "highlight", "u", "effect", "bdr", "shd", "fitText", "vertAlign", "rtl", "cs",
            "em", "lang", "eastAsianLayout", "specVanish", "oMath", "rPrChange",
        )
    )
}  # fmt: skip


def sort_run_properties(rpr: etree._Element) -> None:
    """Reorder the children of a ``w:rPr`` into schema order, in place."""
    children = list(rpr)
    children.sort(key=lambda child: _RPR_ORDER.get(child.tag, len(_RPR_ORDER)))
    for child in children:
        rpr.append(child)


def lift_nested_runs(root: etree._Element) -> int:
    """Move runs that a RichText put inside another run's ``w:t`` out to the paragraph.

    docxtpl expects ``{{r value }}`` for RichText; with a plain ``{{ value }}`` the rich
    runs land inside ``w:t``, which Word rejects. Each nested run becomes a sibling of the
    run that held the tag and inherits that run's properties unless it sets its own; text
    around the tag stays in runs with the original properties. Returns the number of runs
    that were split.
    """
    split = 0
    for text in list(root.iter(f"{_W}t")):
        if len(text) == 0:
            continue
        outer = text.getparent()
        if outer is None or outer.tag != f"{_W}r":
            continue
        outer_rpr = outer.find(f"{_W}rPr")
        pieces: list[etree._Element] = []
        if text.text:
            pieces.append(_plain_run(outer_rpr, text.text))
        for child in list(text):
            tail = child.tail
            child.tail = None
            if child.tag == f"{_W}r":
                _inherit_properties(child, outer_rpr)
                pieces.append(child)
            elif child.tag == f"{_W}hyperlink":
                for run in child.iterchildren(f"{_W}r"):
                    _inherit_properties(run, outer_rpr)
                pieces.append(child)
            if tail:
                pieces.append(_plain_run(outer_rpr, tail))
        container = outer.getparent()
        position = container.index(outer)
        for offset, piece in enumerate(pieces):
            container.insert(position + offset, piece)
        container.remove(outer)
        split += 1
    return split


# A theme font attribute and its explicit counterpart: a run that sets one must not inherit
# the other, because the theme attribute wins when both are present.
_THEME_COUNTERPART: Final = {
    f"{_W}{theme}": f"{_W}{explicit}"
    for theme, explicit in (
        ("asciiTheme", "ascii"),
        ("hAnsiTheme", "hAnsi"),
        ("eastAsiaTheme", "eastAsia"),
        ("cstheme", "cs"),
    )
}
_THEME_COUNTERPART.update({explicit: theme for theme, explicit in list(_THEME_COUNTERPART.items())})


def _plain_run(rpr: etree._Element | None, text: str) -> etree._Element:
    run = etree.Element(f"{_W}r")
    if rpr is not None:
        run.append(copy.deepcopy(rpr))
    t = etree.SubElement(run, f"{_W}t")
    t.text = text
    t.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
    return run


def _inherit_properties(run: etree._Element, outer_rpr: etree._Element | None) -> None:
    rpr = run.find(f"{_W}rPr")
    if outer_rpr is None:
        if rpr is not None:
            sort_run_properties(rpr)
        return
    if rpr is None:
        run.insert(0, copy.deepcopy(outer_rpr))
        return
    for inherited in outer_rpr:
        own = rpr.find(inherited.tag)
        if own is None:
            rpr.append(copy.deepcopy(inherited))
        elif inherited.tag in (f"{_W}rFonts", f"{_W}lang"):
            for name, value in inherited.attrib.items():
                counterpart = _THEME_COUNTERPART.get(name)
                if name not in own.attrib and counterpart not in own.attrib:
                    own.set(name, value)
    sort_run_properties(rpr)
