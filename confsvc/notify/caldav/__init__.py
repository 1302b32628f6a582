"""CalDAV delivery: write, update and delete confsvc events in people's calendars.

The outbox dispatcher creates one ``CalDAVWriter`` per server and calls
``calendar_url_for``, ``put_event``, ``delete_event`` or ``find_by_uid``. Errors are
``DeliveryError`` subclasses (retry later) or ``PermanentDeliveryError`` subclasses; see
``confsvc.notify.caldav.errors`` for the tree.
"""

from .errors import (
    CalDAVRejected,
    CalDAVUnavailable,
    CalendarNotFound,
    InvalidDeliveryInput,
    ResourceConflict,
    SyncConflict,
)
from .merge import MANAGED_PROPERTIES, MergedObject, merge_with_server_copy, prepare_for_storage
from .names import calendar_url_from_template, resource_name
from .writer import CalDAVWriter, PutResult, RemoteEvent

__all__ = [
    "MANAGED_PROPERTIES",
    "CalDAVRejected",
    "CalDAVUnavailable",
    "CalDAVWriter",
    "CalendarNotFound",
    "InvalidDeliveryInput",
    "MergedObject",
    "PutResult",
    "RemoteEvent",
    "ResourceConflict",
    "SyncConflict",
    "calendar_url_from_template",
    "merge_with_server_copy",
    "prepare_for_storage",
    "resource_name",
]
