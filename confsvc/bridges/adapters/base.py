"""The interface that every conference-bridge adapter implements, its values and its errors.

Errors raised by adapters, below the classes of :mod:`confsvc.errors`::

    ConfsvcError
    ├── ConfigurationError
    │   └── BridgeConfigurationError    a stored bridge has incomplete or invalid settings
    ├── NotFound
    │   └── ConferenceNotFound          the platform has no conference with that id
    ├── Conflict
    │   └── ConferenceConflict          the platform rejects the id, PIN or voice bridge as taken
    ├── ParticipantsUnsupported         the platform cannot list participants
    └── DeliveryError
        └── BridgeError                 any failure of a call to the bridge
            ├── BridgeUnavailable       connection failed or the bridge returned a server error
            │   └── BridgeTimeout       no complete response within the configured timeout
            └── BridgeRejected          (also a PermanentDeliveryError) a retry cannot help
                └── BridgeAuthenticationFailed   wrong AMI secret or API checksum

A caller that retries on ``DeliveryError`` stops on ``PermanentDeliveryError``.
"""

from __future__ import annotations

import abc
import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any, ClassVar

from confsvc.errors import (
    ConfigurationError,
    Conflict,
    ConfsvcError,
    DeliveryError,
    NotFound,
    PermanentDeliveryError,
)

__all__ = [
    "BookingInfo",
    "BridgeAdapter",
    "BridgeAuthenticationFailed",
    "BridgeConfigurationError",
    "BridgeError",
    "BridgeInfo",
    "BridgeRejected",
    "BridgeTimeout",
    "BridgeUnavailable",
    "ConferenceConflict",
    "ConferenceNotFound",
    "HealthReport",
    "Participant",
    "ParticipantsUnsupported",
    "ProvisionedConference",
]


class BridgeConfigurationError(ConfigurationError):
    """A stored bridge has settings that an adapter cannot use.

    ``invalid_params`` names each field as ``settings.<option>`` with the reason, in the same
    shape as :class:`confsvc.errors.ValidationFailed`.
    """

    def __init__(self, message: str, *, invalid_params: list[dict[str, str]]) -> None:
        super().__init__(message)
        self.invalid_params = invalid_params


class ConferenceNotFound(NotFound):
    def __init__(self, conference_id: str) -> None:
        super().__init__("conference", conference_id)


class ConferenceConflict(Conflict):
    """The platform rejects a conference because its id, PIN or voice bridge is taken."""


class ParticipantsUnsupported(ConfsvcError):
    """The bridge platform offers no way to list the participants of a conference."""

    status_code = 501
    title = "Not supported by this bridge"

    def __init__(self, kind: str) -> None:
        super().__init__(f"bridge kind {kind!r} cannot list participants")
        self.kind = kind


class BridgeError(DeliveryError):
    """A call to the bridge failed."""


class BridgeUnavailable(BridgeError):
    """The bridge could not be reached or failed on its side; a later retry may succeed."""


class BridgeTimeout(BridgeUnavailable):
    """The bridge did not send a complete response within the configured timeout."""


class BridgeRejected(BridgeError, PermanentDeliveryError):
    """The bridge returned an error that a retry of the same request cannot fix."""


class BridgeAuthenticationFailed(BridgeRejected):
    """The bridge rejected the credentials (AMI secret, BigBlueButton shared secret)."""


def _require_aware(name: str, value: dt.datetime | None) -> None:
    if value is not None and value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


@dataclasses.dataclass(frozen=True, slots=True)
class BridgeInfo:
    """The stored bridge record that an adapter serves.

    ``settings`` are the adapter options, checked by ``validate_settings`` of the registry.
    """

    id: str
    name: str
    kind: str
    settings: Mapping[str, Any] = dataclasses.field(default_factory=dict, repr=False)


@dataclasses.dataclass(frozen=True, slots=True)
class BookingInfo:
    """A booked time slot on a bridge, as the booking service passes it to ``provision``.

    ``starts_at`` and ``ends_at`` must be timezone-aware. ``meeting_uid`` is the iCalendar UID,
    stable across changes of the meeting, so names derived from it stay the same when a meeting
    moves. ``reserved_conference_ids`` lists conference ids that other bookings on the same
    bridge still hold, and adapters that allocate numbers avoid them.
    """

    booking_id: str
    meeting_uid: str
    title: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    organizer_name: str
    organizer_email: str | None = None
    expected_participants: int | None = None
    reserved_conference_ids: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        _require_aware("starts_at", self.starts_at)
        _require_aware("ends_at", self.ends_at)
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be later than starts_at")


@dataclasses.dataclass(frozen=True, slots=True)
class ProvisionedConference:
    """Access details of one conference.

    ``host_pin`` and ``chair_join_url`` are for the chair only. The PINs and join URLs are
    kept out of ``repr`` so that they do not end up in logs.
    """

    conference_id: str
    dial_in_numbers: tuple[str, ...] = ()
    access_code: str | None = None
    participant_pin: str | None = dataclasses.field(default=None, repr=False)
    host_pin: str | None = dataclasses.field(default=None, repr=False)
    chair_join_url: str | None = dataclasses.field(default=None, repr=False)
    participant_join_url: str | None = dataclasses.field(default=None, repr=False)


@dataclasses.dataclass(frozen=True, slots=True)
class HealthReport:
    """Result of a health check.

    ``free_ports`` is the number of further participants the bridge can take now, or ``None``
    when the platform or the settings give no capacity.
    """

    ok: bool
    detail: str
    free_ports: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Participant:
    """A participant in a running conference.

    ``number`` is the caller id number for phone participants. ``joined_at`` is timezone-aware
    UTC. ``None`` in a field means that the platform does not report it.
    """

    name: str
    number: str | None = None
    email: str | None = None
    joined_at: dt.datetime | None = None
    muted: bool | None = None
    chair: bool | None = None

    def __post_init__(self) -> None:
        _require_aware("joined_at", self.joined_at)


class BridgeAdapter(abc.ABC):
    """Access to one conference bridge.

    An adapter keeps no connection open between calls, so it is cheap to build per request with
    ``adapter_for`` of the registry. Network calls raise ``BridgeError`` subclasses, except
    ``health``, which reports a bridge fault in its result instead of raising.
    """

    kind: ClassVar[str]
    supports_participants: ClassVar[bool] = False
    required_options: ClassVar[tuple[str, ...]] = ()
    """Settings keys without which the registry refuses to build the adapter."""

    def __init__(self, bridge: BridgeInfo) -> None:
        self.bridge = bridge

    @classmethod
    @abc.abstractmethod
    def check_settings(cls, settings: Mapping[str, Any]) -> list[dict[str, str]]:
        """Check ``settings`` and return one ``{"name", "reason"}`` entry per invalid field.

        Field names take the form ``settings.<option>``. An empty list means valid.
        """

    @abc.abstractmethod
    async def provision(self, booking: BookingInfo) -> ProvisionedConference:
        """Allocate or create the conference for ``booking`` and return its access details."""

    @abc.abstractmethod
    async def release(self, conference_id: str) -> None:
        """End the conference and free what it holds. Releasing an ended conference is a no-op."""

    @abc.abstractmethod
    async def health(self) -> HealthReport:
        """Check that the bridge is usable now."""

    async def participants(self, conference_id: str) -> list[Participant]:
        """List the participants in the conference now, an empty list if it is not running.

        Raises ``ParticipantsUnsupported`` unless ``supports_participants`` is true.
        """
        raise ParticipantsUnsupported(self.kind)
