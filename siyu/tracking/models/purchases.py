from django.db import models
from django.utils.translation import gettext_lazy as _

from siyu.core.models import TenantModel


class PurchaseOrigin(models.TextChoices):
    EVENT = "event", _("Tracked event")
    IMPORT = "import", _("Order import")


class Purchase(TenantModel):
    """One completed order, stored once per order number whichever way it arrived.

    `Order Completed` events and order imports both land here through the event processor, so the
    contact's order counters count an order once even when it is both tracked and imported.
    """

    order_no = models.CharField(_("order no."), max_length=100)
    contact_id = models.UUIDField()
    placed_at = models.DateTimeField(_("ordered at"))
    amount = models.DecimalField(_("amount (¥)"), max_digits=14, decimal_places=2, default=0)
    items = models.JSONField(_("items"), default=list, blank=True)
    channel_id = models.UUIDField(null=True, blank=True)
    origin = models.CharField(max_length=10, choices=PurchaseOrigin.choices, default=PurchaseOrigin.EVENT)
    message_id = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "order_no"], name="purchase_unique_order")
        ]
        indexes = [
            models.Index(fields=["workspace", "contact_id", "placed_at"], name="purchase_ws_contact"),
            models.Index(fields=["workspace", "placed_at"], name="purchase_ws_placed"),
        ]

    def __str__(self) -> str:
        return self.order_no
