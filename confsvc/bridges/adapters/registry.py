"""Choice of the adapter for a bridge by its ``kind``, and checks of its settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from confsvc.bridges.adapters._settings import raise_for_problems
from confsvc.bridges.adapters.asterisk import AsteriskAdapter
from confsvc.bridges.adapters.base import BridgeAdapter, BridgeConfigurationError, BridgeInfo
from confsvc.bridges.adapters.bigbluebutton import BigBlueButtonAdapter
from confsvc.bridges.adapters.jitsi import JitsiAdapter
from confsvc.bridges.adapters.static import StaticAdapter
from confsvc.errors import ValidationFailed

ADAPTERS: Mapping[str, type[BridgeAdapter]] = {
    adapter.kind: adapter
    for adapter in (StaticAdapter, AsteriskAdapter, BigBlueButtonAdapter, JitsiAdapter)
}
"""Adapter classes by bridge kind."""


def _kinds() -> str:
    return ", ".join(sorted(ADAPTERS))


def validate_settings(kind: str, settings: Mapping[str, Any]) -> None:
    """Check the settings of a bridge that is being created or changed.

    Raises ``ValidationFailed`` with one ``invalid_params`` entry per invalid field, named
    ``kind`` or ``settings.<option>``.
    """
    adapter = ADAPTERS.get(kind)
    if adapter is None:
        raise ValidationFailed.field("kind", f"unknown bridge kind {kind!r}; use one of {_kinds()}")

    problems = adapter.check_settings(settings)
    if problems:
        names = ", ".join(problem["name"] for problem in problems)
        raise ValidationFailed(f"invalid {kind} bridge settings: {names}", invalid_params=problems)


def adapter_for(kind: str, *, settings: Mapping[str, Any], bridge: BridgeInfo) -> BridgeAdapter:
    """Build the adapter for ``bridge`` with ``settings``.

    Raises ``BridgeConfigurationError`` (a ``ConfigurationError``) when ``kind`` is unknown or
    differs from ``bridge.kind``, when a required option is missing (all are named, e.g.
    ``settings.ami_host``), or when a value is invalid. The static adapter is built with
    invalid values too, so that its ``health`` can report them.
    """
    adapter = ADAPTERS.get(kind)
    if adapter is None or kind != bridge.kind:
        raise BridgeConfigurationError(
            f"bridge {bridge.id} has kind {bridge.kind!r}, expected {kind!r} and one of {_kinds()}",
            invalid_params=[{"name": "kind", "reason": f"must be one of {_kinds()}"}],
        )

    missing = [
        {"name": f"settings.{option}", "reason": "is required"}
        for option in adapter.required_options
        if settings.get(option) in (None, "", [])
    ]
    raise_for_problems(bridge, missing)

    if settings is not bridge.settings:
        bridge = BridgeInfo(id=bridge.id, name=bridge.name, kind=bridge.kind, settings=settings)
    return adapter(bridge)
