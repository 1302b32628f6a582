"""Conference-bridge adapters: one interface over static lines, Asterisk, BigBlueButton, Jitsi."""

from confsvc.bridges.adapters.base import (
    BookingInfo,
    BridgeAdapter,
    BridgeAuthenticationFailed,
    BridgeConfigurationError,
    BridgeError,
    BridgeInfo,
    BridgeRejected,
    BridgeTimeout,
    BridgeUnavailable,
    ConferenceConflict,
    ConferenceNotFound,
    HealthReport,
    Participant,
    ParticipantsUnsupported,
    ProvisionedConference,
)
from confsvc.bridges.adapters.registry import ADAPTERS, adapter_for, validate_settings

__all__ = [
    "ADAPTERS",
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
    "adapter_for",
    "validate_settings",
]
