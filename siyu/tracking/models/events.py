from typing import Any

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from siyu.contacts.models import Channel, Stage
from siyu.core.models import TenantModel
from siyu.tracking.models.sources import Source


class EventType(models.TextChoices):
    TRACK = "track", _("Track")
    PAGE = "page", _("Page")
    SCREEN = "screen", _("Screen")
    IDENTIFY = "identify", _("Identify")
    GROUP = "group", _("Group")
    ALIAS = "alias", _("Alias")


# The SDK's reports on one page view: a heartbeat every 15 s of visible time, then the leave.
ENGAGEMENT_EVENTS = frozenset({"Page Engaged", "Page Left"})


class InboundBatch(TenantModel):
    """Validated events as acknowledged to the sender, waiting for the processor.

    Ingestion stores one row per group commit and answers only after it is durable; the processor turns
    each batch into `Event` rows and their effects in one transaction and marks it processed there, so
    a killed worker redoes a batch and never half-applies one.
    """

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+", db_index=False)
    events_json = models.TextField()  # a JSON array of normalised events
    event_count = models.PositiveIntegerField()
    received_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["id"], name="inboundbatch_pending", condition=Q(processed_at__isnull=True)),
            models.Index(fields=["processed_at"], name="inboundbatch_processed"),
        ]


class Event(TenantModel):
    """One Segment-spec message, stored once per (workspace, messageId). Append-only, ids in time order."""

    workspace = models.ForeignKey(
        "tenancy.Workspace", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="+", db_index=False)
    message_id = models.CharField(max_length=100)
    type = models.CharField(max_length=10, choices=EventType.choices)
    # The event name (track), page or screen name, group id or previous id (alias).
    name = models.CharField(max_length=200, blank=True)
    # Not a foreign key: the tracking domain moves and deletes a contact's events itself (merge, delete),
    # which a cascade over this table could only do by scanning it.
    contact_id = models.UUIDField(null=True, blank=True)
    anonymous_id = models.CharField(max_length=100, blank=True)
    user_id = models.CharField(max_length=200, blank=True)
    properties = models.JSONField(default=dict, blank=True)  # properties, or traits for identify/group
    timestamp = models.DateTimeField()  # when it happened, corrected for the device's clock skew
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["-timestamp", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "message_id"], name="event_unique_message"),
        ]
        indexes = [
            models.Index(fields=["workspace", "contact_id", "-timestamp"], name="event_ws_contact"),
            models.Index(fields=["workspace", "type", "name", "timestamp"], name="event_ws_type_name"),
            models.Index(fields=["workspace", "received_at"], name="event_ws_received"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.name}".strip()

    @property
    def context(self) -> dict[str, Any]:
        """The stored context (page, campaign, device), or {}. Select `details` with the events shown."""
        try:
            context: dict[str, Any] = self.details.context
            return context
        except EventContext.DoesNotExist:
            return {}


class EventContext(TenantModel):
    """An event's context (page, campaign, user agent, library), beside the event rather than in it.

    It is more than half of an event's bytes and is read only when an event is shown, while segment
    rules and reports scan windows of events: kept in its own table, those scans read half the pages.
    Written with its event by the processor, only when not empty. Deleted with it by
    `services.retention.events_delete` (a statement per table; a cascade would load the events).
    """

    id = None  # type: ignore[assignment]
    event = models.OneToOneField(Event, primary_key=True, on_delete=models.DO_NOTHING, related_name="details")
    workspace = models.ForeignKey(
        "tenancy.Workspace", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    context = models.JSONField(default=dict)


# The longest property key a segment rule can name (and so the longest kept in `EventNumber` and
# `EventText`), and the longest text `EventText` keeps.
NUMBER_KEY_MAX = 64
TEXT_VALUE_MAX = 64


def text_is_kept(value: object) -> bool:
    """Does `EventText` keep this property value (and so can a rule compare with it there)?"""
    return isinstance(value, str) and 0 < len(value) <= TEXT_VALUE_MAX and "\x00" not in value


class EventValue(TenantModel):
    """One top-level property of an event, one row per key, with copies of the event's contact, type,
    name and time, so that a window of events is answered from one covering index of narrow rows
    instead of every event's row and JSON.

    Written with its event by the processor, moved with it when contacts merge, deleted with it by
    `services.retention.events_delete` (a statement per table; a cascade would load the events).
    """

    pk = models.CompositePrimaryKey("event_id", "key")
    id = None  # type: ignore[assignment]
    event = models.ForeignKey(Event, on_delete=models.DO_NOTHING, related_name="+", db_index=False)
    workspace = models.ForeignKey(
        "tenancy.Workspace", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    key = models.CharField(max_length=NUMBER_KEY_MAX)
    contact_id = models.UUIDField(null=True, blank=True)
    type = models.CharField(max_length=10, choices=EventType.choices)
    name = models.CharField(max_length=200, blank=True)
    timestamp = models.DateTimeField()

    class Meta(TenantModel.Meta):
        abstract = True


class EventNumber(EventValue):
    """A numeric property (`EventValue`): sums, averages and extremes over a window (“30 天内阅读超过
    60 秒”) read its rows in key and time order. Kept: the values that are JSON numbers (not booleans)
    under keys of at most NUMBER_KEY_MAX characters — every number a rule can name."""

    value = models.FloatField()

    class Meta(EventValue.Meta):
        indexes = [
            models.Index(
                fields=["workspace", "type", "name", "key", "timestamp", "contact_id", "value"],
                name="eventnumber_window",
            ),
        ]


class EventText(EventValue):
    """A short text property (`EventValue`): counts, first and last occurrences of events filtered by
    one property's texts (“30 天内看护肤商品 3 次以上”) read its rows by key, text and time. Kept: JSON
    texts of 1 to TEXT_VALUE_MAX characters (without NUL) under keys of at most NUMBER_KEY_MAX — a
    rule that compares with an empty or a longer text reads the events' JSON instead."""

    value = models.CharField(max_length=TEXT_VALUE_MAX)

    class Meta(EventValue.Meta):
        indexes = [
            models.Index(
                fields=["workspace", "type", "name", "key", "value", "timestamp", "contact_id"],
                name="eventtext_window",
            ),
        ]


class ContactActivity(TenantModel):
    """Counters kept up to date by the event processor, one row per contact; they outlive pruned events."""

    contact_id = models.UUIDField()
    first_seen_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    sessions = models.PositiveIntegerField(default=0)
    page_views = models.PositiveIntegerField(default=0)
    events = models.PositiveIntegerField(default=0)
    active_dwell_ms = models.PositiveBigIntegerField(default=0)
    content_views = models.PositiveIntegerField(default=0)
    category_views = models.JSONField(default=dict, blank=True)  # content category name → views
    orders = models.PositiveIntegerField(default=0)
    revenue = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    last_order_at = models.DateTimeField(null=True, blank=True)
    first_touch_channel = models.ForeignKey(
        Channel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    last_touch_channel = models.ForeignKey(
        Channel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    first_touch = models.JSONField(default=dict, blank=True)  # source, utm, referrer of the first visit
    last_touch = models.JSONField(default=dict, blank=True)
    last_event = models.CharField(max_length=200, blank=True)
    last_page_url = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "contact_id"], name="contactactivity_unique_contact")
        ]
        # Purchase recency and RFM segments read the recent buyers or the lapsed ones, not every row.
        indexes = [models.Index(fields=["workspace", "last_order_at"], name="activity_ws_last_order")]


class EventMinute(TenantModel):
    """Events processed per minute, source and type: the live view's series, kept after pruning."""

    minute = models.DateTimeField()
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+", db_index=False)
    type = models.CharField(max_length=10, choices=EventType.choices)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "minute", "source", "type"], name="eventminute_unique_bucket"
            )
        ]


def default_stage_rules() -> dict[str, str]:
    return {
        "Form Submitted": Stage.ENGAGED,
        "Signed Up": Stage.ENGAGED,
        "Signed In": Stage.ENGAGED,
        "Comment Posted": Stage.ENGAGED,
        "Content Liked": Stage.ENGAGED,
        "Content Shared": Stage.ENGAGED,
        "Subscribed": Stage.FOLLOWER,
        "Account Followed": Stage.FOLLOWER,
        "WeCom Friend Added": Stage.FRIEND,
        "Order Completed": Stage.CUSTOMER,
        "Member Joined": Stage.MEMBER,
    }


def default_radar_paths() -> list[str]:
    return ["/pricing", "/product", "/checkout", "/cart"]


class TrackingSettings(TenantModel):
    """A workspace's tracking choices; a workspace without a row uses the defaults."""

    # Track event name → the stage it moves a contact up to. Any event makes a contact at least a visitor.
    stage_rules = models.JSONField(_("stage rules"), default=default_stage_rules)
    # URL path prefixes whose visits are worth a radar notification, besides every content view.
    radar_paths = models.JSONField(_("key pages"), default=default_radar_paths, blank=True)
    retention_days = models.PositiveIntegerField(_("keep raw events for (days)"), default=365)
    session_timeout_minutes = models.PositiveIntegerField(_("session timeout (minutes)"), default=30)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace"], name="trackingsettings_unique_ws")]
