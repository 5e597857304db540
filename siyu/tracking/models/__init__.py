from siyu.tracking.models.content import Content, ContentCategory, ContentKind, ContentViewer, ShareLink
from siyu.tracking.models.events import (
    ENGAGEMENT_EVENTS,
    NUMBER_KEY_MAX,
    ContactActivity,
    Event,
    EventContext,
    EventMinute,
    EventNumber,
    EventText,
    EventType,
    InboundBatch,
    TrackingSettings,
    text_is_kept,
)
from siyu.tracking.models.imports import OrderImportJob
from siyu.tracking.models.purchases import Purchase, PurchaseOrigin
from siyu.tracking.models.radar import Notification, NotificationKind
from siyu.tracking.models.sources import IngestWarning, Source, SourceKind, WarningCode

__all__ = [
    "ENGAGEMENT_EVENTS",
    "NUMBER_KEY_MAX",
    "ContactActivity",
    "Content",
    "ContentCategory",
    "ContentKind",
    "ContentViewer",
    "Event",
    "EventContext",
    "EventMinute",
    "EventNumber",
    "EventText",
    "EventType",
    "InboundBatch",
    "IngestWarning",
    "Notification",
    "NotificationKind",
    "OrderImportJob",
    "Purchase",
    "PurchaseOrigin",
    "ShareLink",
    "Source",
    "SourceKind",
    "TrackingSettings",
    "WarningCode",
    "text_is_kept",
]
