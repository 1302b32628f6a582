"""Every invalid field of a request body, with reasons in the request's language.

msgspec stops at the first field that fails to decode, so Litestar reports only that one.
``body_errors`` walks the parsed JSON against the handler's ``data`` type instead: it
records every field that is missing, unknown or of the wrong type, and runs the
``validation.Check`` rules of the fields that did decode. ``msgspec_reason`` turns each
msgspec message into a reason that names the expected form.
"""

from __future__ import annotations

import enum
import re
import types
from collections.abc import Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import msgspec

from confsvc.i18n import gettext as _
from confsvc.validation import Check, FieldErrors

# msgspec's names for JSON and Python types, as a phrase that can follow "must be".
# Each English phrase is a msgid in the zh-CN catalog.
_TYPE_PHRASES = {
    "str": "text",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "null": "null",
    "array": "a list",
    "object": "an object",
    "datetime": "an RFC 3339 time such as 2026-12-07T09:00:00+08:00",
    "date": "a date such as 2026-12-07",
    "time": "a time of day such as 09:00:00",
    "duration": "an ISO 8601 duration such as PT30M",
    "uuid": "a UUID such as 0d9e6a4c-3b1f-4c2a-9e7d-5f8a1b2c3d4e",
    "decimal": "a decimal number such as 12.50",
    "bytes": "base64 text",
}

_PATH = re.compile(r"\s*-\s*at `\$(?P<path>[^`]*)`\s*$")
_WRONG_TYPE = re.compile(r"^Expected `(?P<expected>[^`]+)`, got `(?P<actual>[^`]+)`$")
_LENGTH = re.compile(r"^Expected `(?P<kind>str|array|object|bytes)` of length (?P<op><=|>=) (?P<limit>\d+)$")
_BOUND = re.compile(r"^Expected `(?P<kind>int|float|decimal)` (?P<op><=|>=|<|>) (?P<limit>\S+)$")
_MULTIPLE = re.compile(r"^Expected `(?:int|float)` that's a multiple of (?P<step>\S+)$")
_PATTERN = re.compile(r"^Expected `str` matching regex (?P<pattern>.+)$")
_RFC3339 = re.compile(r"^Invalid RFC3339 encoded (?P<kind>datetime|date|time)$")
_ENUM = re.compile(r"^Invalid enum value (?P<value>.+)$")
_MISSING = re.compile(r"^Object missing required field `(?P<field>[^`]+)`$")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<field>[^`]+)`$")
_NEEDS_OFFSET = re.compile(r"^Expected `(?:datetime|time)` with a timezone component$")
_NO_OFFSET = re.compile(r"^Expected `(?:datetime|time)` with no timezone component$")

_FIXED = {
    "Invalid ISO8601 duration": "duration",
    "Invalid UUID": "uuid",
    "Invalid decimal string": "decimal",
    "Invalid base64 encoded string": "bytes",
}


def join_path(base: str, relative: str) -> str:
    """Join a field name and a msgspec path such as ``.attendees[0].email`` or ``[2]``."""
    relative = relative.lstrip(".")
    if not relative:
        return base
    if not base or base == "body":
        return relative
    return f"{base}{relative}" if relative.startswith("[") else f"{base}.{relative}"


def _type_phrase(names: str) -> str:
    phrases = [_(_TYPE_PHRASES.get(name.strip(), name.strip())) for name in names.split("|")]
    return _(" or ").join(phrases)


def msgspec_reason(
    message: str, *, field: str, choices: Sequence[str] = (), known_fields: Sequence[str] = ()
) -> tuple[str, str]:
    """Return (field name, translated reason) for a msgspec ``ValidationError`` message.

    ``field`` is the field that was being decoded. A path in the message, or the field
    named by a missing or unknown field message, is appended to it. ``choices`` lists the
    allowed values of an enum and ``known_fields`` the fields of the object, when known.
    A message of an unknown form is kept in English inside a translated reason.
    """
    text = message.strip()
    if located := _PATH.search(text):
        field = join_path(field, located.group("path"))
        text = text[: located.start()]

    if match := _MISSING.match(text):
        return join_path(field, match.group("field")), _("missing: this field is required")
    if match := _UNKNOWN.match(text):
        name = join_path(field, match.group("field"))
        if known_fields:
            return name, _("unknown field; remove it or use one of: {fields}", fields=", ".join(known_fields))
        return name, _("unknown field; remove it")
    return field, _plain_reason(text, choices=choices)


def _plain_reason(text: str, *, choices: Sequence[str]) -> str:
    if match := _WRONG_TYPE.match(text):
        return _(
            "must be {expected}, not {actual}",
            expected=_type_phrase(match.group("expected")),
            actual=_type_phrase(match.group("actual")),
        )
    if match := _LENGTH.match(text):
        return _length_reason(match.group("kind"), match.group("op"), int(match.group("limit")))
    if match := _BOUND.match(text):
        templates = {
            ">=": "must be at least {limit}",
            "<=": "must be at most {limit}",
            ">": "must be greater than {limit}",
            "<": "must be less than {limit}",
        }
        return _(templates[match.group("op")], limit=match.group("limit"))
    if match := _MULTIPLE.match(text):
        return _("must be a multiple of {step}", step=match.group("step"))
    if match := _PATTERN.match(text):
        return _("has the wrong format: it must match the pattern {pattern}", pattern=match.group("pattern"))
    if match := _RFC3339.match(text):
        return _("must be {expected}", expected=_(_TYPE_PHRASES[match.group("kind")]))
    if text in _FIXED:
        return _("must be {expected}", expected=_(_TYPE_PHRASES[_FIXED[text]]))
    if match := _ENUM.match(text):
        if choices:
            return _("invalid value {value}; use one of: {choices}", value=match.group("value"), choices=", ".join(choices))
        return _("invalid value {value}", value=match.group("value"))
    if _NEEDS_OFFSET.match(text):
        return _("the time has no UTC offset; write it like 2027-03-01T09:30:00+08:00")
    if _NO_OFFSET.match(text):
        return _("must be a local time without a UTC offset, such as 2026-12-07T09:00:00")
    # NOTE: a msgspec message of a form not listed above stays English inside this reason.
    return _("invalid value ({error})", error=text)


_JSON_AT_BYTE = re.compile(r"^JSON is malformed: .*\(byte (?P<position>\d+)\)$")


def json_syntax_reason(message: str) -> str:
    """Return a translated reason for msgspec's message about a body that is not JSON."""
    text = message.strip()
    if match := _JSON_AT_BYTE.match(text):
        return _("check quotes, commas and brackets near byte {position}", position=match.group("position"))
    if text == "Input data was truncated":
        return _("the JSON ends too early; check that every quote and bracket is closed")
    return _("check the JSON syntax ({error})", error=text)


def _length_reason(kind: str, op: str, limit: int) -> str:
    if kind in ("str", "bytes"):
        if op == "<=":
            return _("too long: at most {limit} characters", limit=limit)
        if limit == 1:
            return _("must not be empty")
        return _("too short: at least {limit} characters", limit=limit)
    if op == "<=":
        return _("too many entries: at most {limit}", limit=limit)
    return _("too few entries: at least {limit}", limit=limit)


# -- walking a body against its type ---------------------------------------------------


def body_errors(value: Any, annotation: Any) -> FieldErrors:
    """Check ``value`` (parsed JSON) against ``annotation`` and record every invalid field."""
    errors = FieldErrors()
    _walk(value, annotation, "", errors)
    return errors


def _split_annotated(annotation: Any) -> tuple[Any, tuple[Any, ...]]:
    if get_origin(annotation) is Annotated:
        base, *extras = get_args(annotation)
        inner, inner_extras = _split_annotated(base)
        return inner, (*inner_extras, *extras)
    return annotation, ()


def _is_struct(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, msgspec.Struct)


def _union_members(annotation: Any) -> tuple[Any, ...]:
    if get_origin(annotation) in (Union, types.UnionType):
        return get_args(annotation)
    return ()


def _choices(annotation: Any) -> list[str]:
    base, _extras = _split_annotated(annotation)
    members = _union_members(base) or (base,)
    values: list[str] = []
    for member in members:
        inner, _ignored = _split_annotated(member)
        if get_origin(inner) is Literal:
            values.extend(str(choice) for choice in get_args(inner))
        elif isinstance(inner, type) and issubclass(inner, enum.Enum):
            values.extend(str(item.value) for item in inner)
    return values


def _checks(annotation: Any, value: Any) -> list[Check]:
    """Return the ``Check`` markers that apply to ``value`` under ``annotation``."""
    base, extras = _split_annotated(annotation)
    found = [extra for extra in extras if isinstance(extra, Check)]
    for member in _union_members(base):
        if value is not None:
            found.extend(extra for extra in _split_annotated(member)[1] if isinstance(extra, Check))
    return found


def _walk(value: Any, annotation: Any, path: str, errors: FieldErrors) -> None:
    base, extras = _split_annotated(annotation)
    members = _union_members(base)
    if members and value is not None:
        structs = [m for m in members if _is_struct(_split_annotated(m)[0])]
        lists = [m for m in members if get_origin(_split_annotated(m)[0]) is list]
        if isinstance(value, dict) and len(structs) == 1:
            _walk(value, structs[0], path, errors)
            return
        if isinstance(value, list) and len(lists) == 1:
            _walk(value, lists[0], path, errors)
            return
    elif _is_struct(base) and isinstance(value, dict):
        _walk_struct(value, base, path, errors)
        return
    elif get_origin(base) is list and isinstance(value, list):
        _walk_list(value, base, extras, path, errors)
        return
    _leaf(value, annotation, path, errors)


def _walk_struct(value: dict[str, Any], struct: type[msgspec.Struct], path: str, errors: FieldErrors) -> None:
    fields = msgspec.structs.fields(struct)
    known = [field.encode_name for field in fields]
    for field in fields:
        name = join_path(path, field.encode_name)
        if field.encode_name not in value:
            if field.required:
                errors.add(name, _("missing: this field is required"))
            continue
        _walk(value[field.encode_name], field.type, name, errors)
    if struct.__struct_config__.forbid_unknown_fields:
        for key in value:
            if key not in known:
                errors.add(
                    join_path(path, str(key)),
                    _("unknown field; remove it or use one of: {fields}", fields=", ".join(known)),
                )


def _walk_list(value: list[Any], base: Any, extras: tuple[Any, ...], path: str, errors: FieldErrors) -> None:
    metas = tuple(extra for extra in extras if isinstance(extra, msgspec.Meta))
    if metas:
        try:
            msgspec.convert(value, Annotated[list[Any], *metas])
        except msgspec.ValidationError as exc:
            errors.add(*msgspec_reason(str(exc), field=path or "body"))
            return
    (item_type,) = get_args(base) or (Any,)
    for index, item in enumerate(value):
        _walk(item, item_type, f"{path}[{index}]", errors)


def _leaf(value: Any, annotation: Any, path: str, errors: FieldErrors) -> None:
    field = path or "body"
    try:
        converted = msgspec.convert(value, annotation, strict=False)
    except msgspec.ValidationError as exc:
        errors.add(*msgspec_reason(str(exc), field=field, choices=_choices(annotation)))
        return
    except (TypeError, ValueError):
        # msgspec cannot convert this type without Litestar's decoders, so Litestar's message is kept.
        return
    for check in _checks(annotation, converted):
        with errors.collect():
            check.func(converted, field=field)
