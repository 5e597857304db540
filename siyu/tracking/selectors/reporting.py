"""Reads of tracking data for reports: activity windows, orders and revenue, content joined to orders.

These return expressions and querysets for the database to aggregate (EXISTS probes on the
`(workspace, contact_id, timestamp)` event index, GROUP BY over purchases); the analytics domain
composes them with its own grouping. Scoped to the active workspace by the tenant managers.

Definitions (docs/analytics.md):
- A contact is *active* in a time window when it has any stored event in it (any type).
- Orders and revenue come from `Purchase`, one row per order number, however the order arrived.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db.models import (
    Count,
    DecimalField,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from siyu.tracking.models import Content, ContentViewer, Event, Purchase

MONEY = DecimalField(max_digits=16, decimal_places=2)


def event_in_window(*, contact_id: Any, start: Any, end: Any) -> Exists:
    """Whether the contact has any event with `start <= timestamp < end` (expressions or values)."""
    return Exists(Event.objects.filter(contact_id=contact_id, timestamp__gte=start, timestamp__lt=end))


def buyer_ids(*, min_orders: int = 1) -> QuerySet[Purchase, Any]:
    """Ids of contacts with at least `min_orders` orders, for `id IN (…)` (hashed once per query)."""
    rows = Purchase.objects.order_by()
    if min_orders <= 1:
        return rows.values("contact_id")
    return (
        rows.values("contact_id")
        .annotate(orders=Count("id"))
        .filter(orders__gte=min_orders)
        .values("contact_id")
    )


def orders_of(*, contact_id: Any = None) -> Subquery:
    """The number of orders of the contact (the outer row's pk by default)."""
    rows = Purchase.objects.filter(contact_id=contact_id or OuterRef("pk")).order_by()
    return Subquery(
        rows.values("contact_id").annotate(n=Count("id")).values("n")[:1], output_field=IntegerField()
    )


def revenue_of(*, contact_id: Any = None) -> Subquery:
    """The total amount of the contact's orders (the outer row's pk by default)."""
    rows = Purchase.objects.filter(contact_id=contact_id or OuterRef("pk")).order_by()
    return Subquery(
        rows.values("contact_id").annotate(total=Sum("amount")).values("total")[:1], output_field=MONEY
    )


def purchase_totals(*, contact_ids: QuerySet[Any, Any]) -> dict[str, Any]:
    """Orders, revenue and buyers of a set of contacts (a values queryset of ids), in one aggregate."""
    row = Purchase.objects.filter(contact_id__in=contact_ids).aggregate(
        orders=Count("id"),
        revenue=Coalesce(Sum("amount"), Value(Decimal(0)), output_field=MONEY),
        buyers=Count("contact_id", distinct=True),
    )
    return {"orders": int(row["orders"]), "revenue": Decimal(row["revenue"]), "buyers": int(row["buyers"])}


# Content joined to orders ----------------------------------------------------------------------------


def content_outcomes(
    *, since: datetime, until: datetime, window: timedelta | None = None
) -> QuerySet[Any, Any]:
    """Per content: contacts who first read it in `[since, until)`, and how many of them ordered after.

    Rows are `content_id, viewers, buyers, orders, revenue`: `buyers` are viewers with an order placed
    after their first view (within `window` of it when given); `orders` and `revenue` count those
    orders. A contact who read several pieces before ordering counts for each of them.
    """
    after = Purchase.objects.filter(
        contact_id=OuterRef("contact_id"), placed_at__gt=OuterRef("first_viewed_at")
    )
    if window is not None:
        after = after.filter(placed_at__lte=OuterRef("first_viewed_at") + window)
    after = after.order_by()
    orders = Subquery(
        after.values("contact_id").annotate(n=Count("id")).values("n")[:1], output_field=IntegerField()
    )
    revenue = Subquery(
        after.values("contact_id").annotate(total=Sum("amount")).values("total")[:1], output_field=MONEY
    )
    return (
        ContentViewer.objects.filter(first_viewed_at__gte=since, first_viewed_at__lt=until)
        .annotate(bought=Exists(after), later_orders=orders, later_revenue=revenue)
        .values("content_id")
        .annotate(
            viewers=Count("id"),
            buyers=Count("id", filter=Q(bought=True)),
            orders=Coalesce(Sum("later_orders"), 0),
            revenue=Coalesce(Sum("later_revenue"), Value(Decimal(0)), output_field=MONEY),
        )
        .order_by("content_id")
    )


def contents_by_ids(*, content_ids: Iterable[UUID]) -> dict[UUID, Content]:
    return {c.id: c for c in Content.objects.filter(id__in=list(content_ids))}


def content_for_reports(*, published_only: bool = False) -> QuerySet[Content]:
    rows = Content.objects.order_by("-created_at", "-id")
    return rows.filter(is_published=True) if published_only else rows
