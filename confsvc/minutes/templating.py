"""Reading .docx templates: the package, tag repair across Word runs, placeholder analysis.

Word stores a paragraph as runs, and it starts a new run wherever spell-check marks,
revision ids or formatting change, even between the two braces of ``{{``. docxtpl only
understands a tag whose text it can join, so ``repair_package`` first moves the whole text
of each tag into the run that holds its opening brace (keeping that run's ``w:rPr``,
including ``w:lang``) and drops the runs and ``w:proofErr`` marks it emptied.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from jinja2 import Environment, nodes
from lxml import etree

from confsvc.errors import ValidationFailed
from confsvc.minutes.render_context import LOOP_ATTRIBUTES, TEMPLATE_SCHEMA

__all__ = [
    "W_NS",
    "TemplateRejected",
    "analyse_placeholders",
    "jinja_source",
    "read_package",
    "repair_package",
    "text_parts",
    "write_package",
]

W_NS: Final = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_W: Final = f"{{{W_NS}}}"
_NSMAP: Final = {"w": W_NS}

# Limits for uploaded packages; a .docx minutes template is normally under 100 KiB.
MAX_PACKAGE_BYTES: Final = 20 * 1024 * 1024
MAX_UNPACKED_BYTES: Final = 100 * 1024 * 1024

_TEXT_PART_RE: Final = re.compile(r"^word/(document|header\d*|footer\d*|footnotes|endnotes)\.xml$")

# Runs that belong to a paragraph itself (not to a text box nested inside one of its runs).
_RUN_XPATH: Final = etree.XPath(
    "./w:r | ./w:hyperlink/w:r | ./w:ins/w:r | ./w:smartTag/w:r | ./w:customXml/w:r"
    " | ./w:sdt/w:sdtContent/w:r | ./w:fldSimple/w:r",
    namespaces=_NSMAP,
)
_TAG_RE: Final = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_TAG_MARKERS: Final = ("{{", "}}", "{%", "%}", "{#", "#}")
# Children that may appear in a run whose text is merged; anything else (tabs, breaks,
# drawings, field characters) would change position or meaning.
_MERGEABLE_RUN_CHILDREN: Final = frozenset({f"{_W}rPr", f"{_W}t", f"{_W}lastRenderedPageBreak"})
# docxtpl's structural tag prefixes: paragraph, table row, table cell, run.
_DOCXTPL_PREFIX_RE: Final = re.compile(r"\{%-?\s*(?:p|tr|tc|r)\s+")
_SMART_QUOTES: Final = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'"})

_SAFE_PARSER: Final = etree.XMLParser(
    resolve_entities=False, no_network=True, huge_tree=False, remove_blank_text=False
)


class TemplateRejected(ValidationFailed):
    """A minutes template cannot be used: broken tags, unknown placeholders or a failed
    render. ``invalid_params`` lists each problem."""


@dataclass(slots=True)
class RepairResult:
    parts: dict[str, bytes]
    merged_tags: int = 0
    broken_paragraphs: list[str] = field(default_factory=list)


def read_package(data: bytes) -> dict[str, bytes]:
    """Unpack a .docx into ``{part name: bytes}`` in archive order.

    Raises:
        TemplateRejected: not a zip archive, too large, or without word/document.xml.
    """
    if len(data) > MAX_PACKAGE_BYTES:
        raise TemplateRejected.field("template", f"file is larger than {MAX_PACKAGE_BYTES} bytes")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            if sum(info.file_size for info in infos) > MAX_UNPACKED_BYTES:
                raise TemplateRejected.field(
                    "template", f"unpacked size is larger than {MAX_UNPACKED_BYTES} bytes"
                )
            parts = {info.filename: archive.read(info) for info in infos if not info.is_dir()}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        raise TemplateRejected.field("template", "file is not a .docx (zip) package") from exc
    if "word/document.xml" not in parts:
        raise TemplateRejected.field("template", "package has no word/document.xml")
    return parts


def write_package(parts: Mapping[str, bytes]) -> bytes:
    """Zip parts into a .docx, with [Content_Types].xml first as Word expects."""
    buffer = io.BytesIO()
    names = sorted(parts, key=lambda name: name != "[Content_Types].xml")
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in names:
            archive.writestr(name, parts[name])
    return buffer.getvalue()


def text_parts(parts: Mapping[str, bytes]) -> Iterator[str]:
    """Yield the names of parts that hold document text (body, headers, footers, notes)."""
    for name in parts:
        if _TEXT_PART_RE.match(name):
            yield name


def parse_part(name: str, data: bytes) -> etree._Element:
    try:
        return etree.fromstring(data, parser=_SAFE_PARSER)
    except etree.XMLSyntaxError as exc:
        raise TemplateRejected.field("template", f"part {name} is not well-formed XML") from exc


def serialise_part(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def repair_package(parts: Mapping[str, bytes]) -> RepairResult:
    """Merge the runs of every template tag that Word split, in all text parts.

    Paragraphs whose tags cannot be repaired (unclosed tag, tag crossing a paragraph, a tab
    or field inside a tag) are listed in ``broken_paragraphs`` by their text; the caller
    decides whether to reject.
    """
    result = RepairResult(parts=dict(parts))
    for name in list(text_parts(parts)):
        data = parts[name]
        if b"{" not in data and b"}" not in data:
            continue
        root = parse_part(name, data)
        changed = _add_missing_table_grids(root)
        for paragraph in root.iter(f"{_W}p"):
            merged, broken = _repair_paragraph(paragraph)
            if merged:
                changed = True
                result.merged_tags += merged
            if broken:
                result.broken_paragraphs.append(paragraph_text(paragraph))
        if changed:
            result.parts[name] = serialise_part(root)
    return result


# Width given to each column of a table that has no w:tblGrid: 16 cm (A4 minus margins),
# in twentieths of a point, shared equally.
_DEFAULT_TABLE_WIDTH: Final = 9070


def _add_missing_table_grids(root: etree._Element) -> bool:
    """Give tables without the required ``w:tblGrid`` an equal-width grid, because
    docxtpl's table fix-up fails on them. Returns whether any table changed."""
    changed = False
    for table in root.iter(f"{_W}tbl"):
        if table.find(f"{_W}tblGrid") is not None:
            continue
        columns = max((len(row.findall(f"{_W}tc")) for row in table.iter(f"{_W}tr")), default=1)
        grid = etree.Element(f"{_W}tblGrid")
        for _ in range(max(columns, 1)):
            etree.SubElement(grid, f"{_W}gridCol", {f"{_W}w": str(_DEFAULT_TABLE_WIDTH // columns)})
        properties = table.find(f"{_W}tblPr")
        table.insert(table.index(properties) + 1 if properties is not None else 0, grid)
        changed = True
    return changed


def paragraph_text(paragraph: etree._Element) -> str:
    return "".join(_run_text(run) for run in _RUN_XPATH(paragraph))


def _run_text(run: etree._Element) -> str:
    return "".join(t.text or "" for t in run.iterchildren(f"{_W}t"))


def _repair_paragraph(paragraph: etree._Element) -> tuple[int, bool]:
    """Return (number of tags merged, whether a broken tag remains)."""
    merged = 0
    while True:
        runs = _RUN_XPATH(paragraph)
        texts = [_run_text(run) for run in runs]
        full = "".join(texts)
        if not any(marker in full for marker in _TAG_MARKERS):
            return merged, False

        starts = []
        offset = 0
        for text in texts:
            starts.append(offset)
            offset += len(text)

        split = None
        for match in _TAG_RE.finditer(full):
            first = _run_at(starts, texts, match.start())
            last = _run_at(starts, texts, match.end() - 1)
            if first != last:
                split = (match, first, last)
                break

        if split is None:
            leftover = _TAG_RE.sub("", full)
            return merged, any(marker in leftover for marker in _TAG_MARKERS)

        match, first, last = split
        involved = runs[first : last + 1]
        if not all(_is_mergeable(run) for run in involved):
            return merged, True

        head = texts[first][: match.start() - starts[first]] + match.group(0)
        tail = texts[last][match.end() - starts[last] :]
        _set_run_text(runs[first], head)
        for run in runs[first + 1 : last]:
            _set_run_text(run, "")
        _set_run_text(runs[last], tail)
        for run in runs[first + 1 : last + 1]:
            if not _run_text(run):
                run.getparent().remove(run)
        for mark in paragraph.findall(f".//{_W}proofErr"):
            mark.getparent().remove(mark)
        merged += 1


def _run_at(starts: list[int], texts: list[str], position: int) -> int:
    for index in range(len(starts) - 1, -1, -1):
        if starts[index] <= position and texts[index]:
            return index
    return 0


def _is_mergeable(run: etree._Element) -> bool:
    return all(child.tag in _MERGEABLE_RUN_CHILDREN for child in run)


def _set_run_text(run: etree._Element, text: str) -> None:
    texts = run.findall(f"{_W}t")
    if not texts:
        texts = [etree.SubElement(run, f"{_W}t")]
    texts[0].text = text
    texts[0].set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
    for extra in texts[1:]:
        run.remove(extra)


def jinja_source(parts: Mapping[str, bytes]) -> str:
    """Join the text of all paragraphs (one per line) into the Jinja source docxtpl renders,
    with docxtpl's ``{%p``/``{%tr``/``{%tc``/``{%r`` prefixes reduced to ``{%``."""
    lines: list[str] = []
    for name in text_parts(parts):
        root = parse_part(name, parts[name])
        for paragraph in root.iter(f"{_W}p"):
            lines.append(paragraph_text(paragraph))
    source = "\n".join(lines)
    source = _DOCXTPL_PREFIX_RE.sub(lambda m: "{%- " if "-" in m.group(0) else "{% ", source)
    return _TAG_RE.sub(lambda m: m.group(0).translate(_SMART_QUOTES), source)


@dataclass(slots=True)
class PlaceholderAnalysis:
    """Placeholders as written (dotted paths in order of first use), the filters used, and
    the placeholders and filters that the minutes context does not provide."""

    placeholders: list[str] = field(default_factory=list)
    filters: list[str] = field(default_factory=list)
    unknown_placeholders: list[str] = field(default_factory=list)
    unknown_filters: list[str] = field(default_factory=list)


class _Opaque:
    """Schema of a value whose shape is unknown (a macro argument, a filter result)."""


_ANY: Final = _Opaque()
_LOOP_SCHEMA: Final = dict.fromkeys(LOOP_ATTRIBUTES)
_MISSING: Final = object()


def analyse_placeholders(source: str, env: Environment) -> PlaceholderAnalysis:
    """List every variable path the template reads and check it against ``TEMPLATE_SCHEMA``.

    Loop variables resolve through their iterable (``item`` in ``for item in action_items``
    is an action item), and ``loop`` is known inside for blocks.

    Raises:
        jinja2.TemplateSyntaxError: the source is not valid Jinja.
    """
    tree = env.parse(source)
    walker = _PlaceholderWalker(env)
    walker.visit(tree)
    return walker.analysis


class _PlaceholderWalker:
    def __init__(self, env: Environment) -> None:
        self.env = env
        self.scopes: list[dict[str, Any]] = [{}]
        self.analysis = PlaceholderAnalysis()

    def visit(self, node: nodes.Node) -> None:
        method = getattr(self, f"visit_{type(node).__name__}", None)
        if method is not None:
            method(node)
        else:
            self.generic_visit(node)

    def generic_visit(self, node: nodes.Node) -> None:
        for child in node.iter_child_nodes():
            self.visit(child)

    # Expressions

    def visit_Name(self, node: nodes.Name) -> None:
        if node.ctx == "load":
            self.resolve(node)

    def visit_Getattr(self, node: nodes.Getattr) -> None:
        self.resolve(node)

    def visit_Getitem(self, node: nodes.Getitem) -> None:
        self.resolve(node)

    def visit_Call(self, node: nodes.Call) -> None:
        # A method call such as meeting.start.strftime("%Y"): the object is the placeholder.
        if isinstance(node.node, nodes.Getattr):
            self.visit(node.node.node)
        else:
            self.visit(node.node)
        for child in (*node.args, *node.kwargs):
            self.visit(child)
        for extra in (node.dyn_args, node.dyn_kwargs):
            if extra is not None:
                self.visit(extra)

    def visit_Filter(self, node: nodes.Filter) -> None:
        self._note_filter(node.name)
        self.generic_visit(node)

    # Statements that bind names

    def visit_For(self, node: nodes.For) -> None:
        iterable = self.resolve(node.iter)
        element: Any = _ANY
        if isinstance(iterable, list):
            element = iterable[0]
        scope: dict[str, Any] = {"loop": _LOOP_SCHEMA}
        self._bind(node.target, element, scope)
        self.scopes.append(scope)
        if node.test is not None:
            self.visit(node.test)
        for child in node.body:
            self.visit(child)
        self.scopes.pop()
        for child in node.else_:
            self.visit(child)

    def visit_Assign(self, node: nodes.Assign) -> None:
        value = self.resolve(node.node)
        self._bind(node.target, value, self.scopes[-1])

    def visit_AssignBlock(self, node: nodes.AssignBlock) -> None:
        for child in node.body:
            self.visit(child)
        self._bind(node.target, _ANY, self.scopes[-1])

    def visit_With(self, node: nodes.With) -> None:
        scope: dict[str, Any] = {}
        for target, value in zip(node.targets, node.values, strict=True):
            self._bind(target, self.resolve(value), scope)
        self.scopes.append(scope)
        for child in node.body:
            self.visit(child)
        self.scopes.pop()

    def visit_Macro(self, node: nodes.Macro) -> None:
        self.scopes[-1][node.name] = _ANY
        scope: dict[str, Any] = {"caller": _ANY, "varargs": _ANY, "kwargs": _ANY}
        for arg in node.args:
            scope[arg.name] = _ANY
        for default in node.defaults:
            self.visit(default)
        self.scopes.append(scope)
        for child in node.body:
            self.visit(child)
        self.scopes.pop()

    def visit_CallBlock(self, node: nodes.CallBlock) -> None:
        self.visit(node.call)
        scope: dict[str, Any] = {arg.name: _ANY for arg in node.args}
        self.scopes.append(scope)
        for child in node.body:
            self.visit(child)
        self.scopes.pop()

    def visit_FilterBlock(self, node: nodes.FilterBlock) -> None:
        self.visit(node.filter)
        for child in node.body:
            self.visit(child)

    # Helpers

    def _note_filter(self, name: str) -> None:
        if name not in self.analysis.filters:
            self.analysis.filters.append(name)
        if name not in self.env.filters and name not in self.analysis.unknown_filters:
            self.analysis.unknown_filters.append(name)

    def _bind(self, target: nodes.Node, schema: Any, scope: dict[str, Any]) -> None:
        if isinstance(target, nodes.Name):
            scope[target.name] = schema
        elif isinstance(target, nodes.Tuple):
            for item in target.items:
                self._bind(item, _ANY, scope)

    def _lookup(self, name: str) -> Any:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        if name in TEMPLATE_SCHEMA:
            return TEMPLATE_SCHEMA[name]
        if name in self.env.globals:
            return _ANY
        return _MISSING

    def resolve(self, node: nodes.Node) -> Any:
        """Record the path read by ``node`` and return its schema (``_ANY`` if unknown)."""
        segments: list[str | int] = []
        current = node
        while True:
            if isinstance(current, nodes.Getattr):
                segments.append(current.attr)
                current = current.node
            elif isinstance(current, nodes.Getitem) and isinstance(current.arg, nodes.Const):
                segments.append(current.arg.value)
                current = current.node
            else:
                break
        if not isinstance(current, nodes.Name):
            # Attribute of an expression, e.g. (people|first).name: check the expression.
            self.visit(current)
            if isinstance(node, nodes.Getitem) and not isinstance(node.arg, nodes.Const):
                self.visit(node.arg)
            return _ANY
        if isinstance(node, nodes.Getitem) and not isinstance(node.arg, nodes.Const):
            self.visit(node.arg)
        segments.reverse()

        path = current.name
        for segment in segments:
            path += f"[{segment}]" if isinstance(segment, int) else f".{segment}"
        if path not in self.analysis.placeholders and current.name not in self.env.globals:
            self.analysis.placeholders.append(path)

        schema = self._lookup(current.name)
        for segment in segments:
            if schema is _MISSING or schema is _ANY:
                break
            if isinstance(schema, dict) and isinstance(segment, str) and segment in schema:
                schema = schema[segment]
            elif isinstance(schema, list) and isinstance(segment, int):
                schema = schema[0]
            else:
                schema = _MISSING
        if schema is _MISSING:
            if path not in self.analysis.unknown_placeholders:
                self.analysis.unknown_placeholders.append(path)
            return _ANY
        return schema
