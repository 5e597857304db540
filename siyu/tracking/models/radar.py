from django.db import models
from django.utils.translation import gettext_lazy as _

from siyu.core.models import TenantModel
from siyu.tenancy.models import Member


class NotificationKind(models.TextChoices):
    CONTENT_VIEW = "content_view", _("Reading content")
    KEY_PAGE = "key_page", _("Visiting a key page")
    IDENTIFIED = "identified", _("Visitor identified")


class Notification(TenantModel):
    """A radar alert for one member. Rendered in the reader's language from `data` when shown.

    `key` identifies what the alert is about (one page view), so later news of the same view — more
    dwell time, the page left — updates the alert instead of adding another.
    """

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    key = models.CharField(max_length=120)
    contact_id = models.UUIDField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    # Bumped on every change; the SSE stream sends what changed after the cursor it last saw.
    version = models.BigIntegerField(default=0)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "member", "key"], name="notification_unique_key")
        ]
        indexes = [models.Index(fields=["workspace", "member", "version"], name="notification_ws_member")]
