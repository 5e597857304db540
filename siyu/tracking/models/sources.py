from django.db import models
from django.utils.translation import gettext_lazy as _

from siyu.contacts.models import Channel
from siyu.core.models import TenantModel


class SourceKind(models.TextChoices):
    WEBSITE = "website", _("Website")
    WECHAT_H5 = "wechat_h5", _("Official account H5")
    MINI_PROGRAM = "mini_program", _("Mini-program")
    SERVER = "server", _("Server")
    IMPORT = "import", _("Import")


class Source(TenantModel):
    """Where events come from. Its write key authenticates the Segment-compatible ingestion endpoints."""

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("type"), max_length=20, choices=SourceKind.choices, default=SourceKind.WEBSITE)
    write_key = models.CharField(max_length=64, unique=True)
    # Browser origins allowed to send with this key (CORS), e.g. "https://shop.example.com"; empty: none.
    allowed_origins = models.JSONField(_("allowed origins"), default=list, blank=True)
    # The channel contacts first seen through this source are attributed to when nothing more specific is.
    channel = models.ForeignKey(
        Channel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("channel")
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="source_unique_name")]

    def __str__(self) -> str:
        return self.name


class WarningCode(models.TextChoices):
    MISSING_ID = "missing_id", _("Neither userId nor anonymousId")
    ILLEGAL_ID = "illegal_id", _("Illegal id")
    BAD_TIMESTAMP = "bad_timestamp", _("Timestamp out of range")
    BAD_TYPE = "bad_type", _("Unknown event type")
    BAD_FIELD = "bad_field", _("Malformed field")
    TOO_LARGE = "too_large", _("Event larger than 32 KB")
    IDENTITY_CONFLICT = "identity_conflict", _("Two known contacts claim one identity")


class IngestWarning(TenantModel):
    """An event that was skipped (or a merge that was refused), kept so the source's owner can fix it."""

    source = models.ForeignKey(Source, null=True, on_delete=models.CASCADE, related_name="+")
    code = models.CharField(max_length=30, choices=WarningCode.choices)
    detail = models.CharField(max_length=300, blank=True)
    message_id = models.CharField(max_length=100, blank=True)
    sample = models.TextField(blank=True)  # the start of the offending event, as received
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["workspace", "source", "-created_at"], name="ingestwarning_ws_source")
        ]
