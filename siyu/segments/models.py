from django.db import models
from django.utils.translation import gettext_lazy as _

from siyu.contacts.models import Contact
from siyu.core.models import TenantModel
from siyu.tenancy.models import Member


class SegmentKind(models.TextChoices):
    DYNAMIC = "dynamic", _("Dynamic (rules)")
    STATIC = "static", _("Static list")


class Segment(TenantModel):
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(
        _("type"), max_length=10, choices=SegmentKind.choices, default=SegmentKind.DYNAMIC
    )
    rules = models.JSONField(_("rules"), default=dict, blank=True)  # the rule document, see docs/segments.md
    revision = models.PositiveIntegerField(default=1)  # bumped whenever the rules change
    # What the rules read ("event:track:Order Completed", "field:city", "tags", "segment:<id>", …),
    # mirrored into SegmentDependency so a change finds the segments it may affect.
    dependencies = models.JSONField(default=list, blank=True)
    is_time_relative = models.BooleanField(default=False)
    member_count = models.PositiveIntegerField(_("members"), default=0)
    is_ready = models.BooleanField(default=False)  # the first full build has run
    problem = models.CharField(max_length=300, blank=True)  # why the rules can no longer be evaluated
    last_built_at = models.DateTimeField(null=True, blank=True)
    # The last local day whose date boundaries ("birthday within 7 days") have been applied.
    dates_checked_on = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    snapshot_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )  # a static list taken from a dynamic segment
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="segment_unique_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_dynamic(self) -> bool:
        return self.kind == SegmentKind.DYNAMIC


class SegmentDependency(TenantModel):
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=250)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "key", "segment"], name="segmentdependency_unique")
        ]


class SegmentMember(TenantModel):
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="+", db_index=False)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+", db_index=False)
    entered_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "segment", "contact"], name="segmentmember_unique")
        ]
        indexes = [models.Index(fields=["workspace", "contact"], name="segmentmember_ws_contact")]


class MembershipChangeKind(models.TextChoices):
    ENTERED = "entered", _("Entered")
    EXITED = "exited", _("Exited")


class ChangeCause(models.TextChoices):
    BUILD = "build", _("Full build")
    RECONCILE = "reconcile", _("Reconciliation")
    ACTIVITY = "activity", _("Activity or profile change")
    CLOCK = "clock", _("Time passed")
    MANUAL = "manual", _("Added or removed by hand")
    IMPORT = "import", _("Import")
    SNAPSHOT = "snapshot", _("Snapshot")


class MembershipChange(TenantModel):
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="+", db_index=False)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.CharField(max_length=10, choices=MembershipChangeKind.choices)
    cause = models.CharField(max_length=10, choices=ChangeCause.choices)
    at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "segment", "at"], name="membershipchange_ws_segment"),
            models.Index(fields=["workspace", "contact", "at"], name="membershipchange_ws_contact"),
        ]


class Recheck(TenantModel):
    """When a contact's time-relative conditions can next change their answer for a segment."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="+", db_index=False)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+", db_index=False)
    due_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "segment", "contact"], name="recheck_unique")
        ]
        indexes = [models.Index(fields=["due_at"], name="recheck_due")]


class SegmentDay(TenantModel):
    """Size at the end of the day and the day's entries and exits, for charts."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    size = models.PositiveIntegerField(default=0)
    entered = models.PositiveIntegerField(default=0)
    exited = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "segment", "day"], name="segmentday_unique")
        ]


class BuildKind(models.TextChoices):
    FULL = "full", _("Full build")
    RECONCILE = "reconcile", _("Reconciliation")


class SegmentBuild(TenantModel):
    """One full evaluation of a segment; a reconciliation that had to add or remove anyone is drift."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.CharField(max_length=10, choices=BuildKind.choices)
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    added = models.PositiveIntegerField(default=0)
    removed = models.PositiveIntegerField(default=0)
    size = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "segment", "-started_at"], name="segmentbuild_ws_segment")
        ]

    @property
    def found_drift(self) -> bool:
        return self.kind == BuildKind.RECONCILE and (self.added or self.removed) > 0


class RfmMethod(models.TextChoices):
    QUINTILES = "quintiles", _("Quintiles of this workspace's customers")
    THRESHOLDS = "thresholds", _("Thresholds I set")


class RfmSettings(TenantModel):
    """Cut points for the 1–5 scores. Recency cuts are days (ascending, lower is better); frequency and
    monetary cuts are ascending minimums for scores 2..5."""

    method = models.CharField(
        _("scoring"), max_length=12, choices=RfmMethod.choices, default=RfmMethod.QUINTILES
    )
    recency_cuts = models.JSONField(default=list)
    frequency_cuts = models.JSONField(default=list)
    monetary_cuts = models.JSONField(default=list)
    computed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace"], name="rfmsettings_unique_ws")]


class BuildEventMeasure(models.Model):
    """While a segment is being built: per event condition of its rules (numbered) and contact, the
    condition's measure over its window, the oldest event in it and, for a sum, the smallest value —
    one pass over the events serves both the membership test and the clock re-checks.

    A temporary table of the build's own transaction (`services.evaluation._measures_fill`), filled
    from the active workspace's events only; never migrated or stored.
    """

    pk = models.CompositePrimaryKey("condition", "contact_id")
    condition = models.PositiveSmallIntegerField()
    contact_id = models.UUIDField()
    measure = models.FloatField(null=True)
    oldest = models.DateTimeField()
    floor = models.FloatField(null=True)  # a sum's smallest value: none below zero, it only falls with time

    class Meta:
        managed = False
        db_table = "segment_build_event_measures"

    def __str__(self) -> str:
        return f"{self.condition}:{self.contact_id}={self.measure}"
