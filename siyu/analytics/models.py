"""Marketing spend entered per acquisition channel and month, for CAC and ROI."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from siyu.contacts.models import Channel
from siyu.core.models import TenantModel
from siyu.tenancy.models import Member


class ChannelSpend(TenantModel):
    """What one channel cost in one calendar month (`month` is its first day), in yuan.

    A month without a row falls back to the channel's unit cost (see docs/analytics.md).
    """

    channel = models.ForeignKey(
        Channel, on_delete=models.CASCADE, related_name="+", db_index=False, verbose_name=_("channel")
    )
    month = models.DateField(_("month"))
    amount = models.DecimalField(_("amount (¥)"), max_digits=14, decimal_places=2)
    note = models.CharField(_("note"), max_length=200, blank=True)
    updated_by = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-month", "channel__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "channel", "month"], name="channelspend_unique_month"
            ),
            models.CheckConstraint(
                condition=models.Q(amount__gte=0), name="channelspend_amount_not_negative"
            ),
        ]
        indexes = [models.Index(fields=["workspace", "month"], name="channelspend_ws_month")]

    def __str__(self) -> str:
        return f"{self.channel_id} {self.month:%Y-%m}: {self.amount}"
