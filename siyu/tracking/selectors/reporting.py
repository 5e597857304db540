"""Reads of tracking data for reports: activity windows, orders and revenue, content joined to orders.

These return expressions and querysets for the database to aggregate (EXISTS probes on the
`(workspace, contact_id, timestamp)` event index, GROUP BY over purchases); the analytics domain
composes them with its own grouping. Scoped to the active workspace by the tenant managers.

Definitions (docs/analytics.md):
- A contact is *active* in a time window when it has any stored event in it (any type).
- Orders and revenue come from `Purchase`, one row per order number, however the order arrived.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
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

from siyu.tracking.models import Content, ContentViewer, Event
from siyu.tracking.selectors.purchases import purchase_queryset

MONEY = DecimalField(max_digits=16, decimal_places=2)
CENT = Decimal("0.01")


def event_in_window(*, contact_id: Any, start: Any, end: Any) -> Exists:
    """Whether the contact has any event with `start <= timestamp < end` (expressions or values)."""
    return Exists(Event.objects.filter(contact_id=contact_id, timestamp__gte=start, timestamp__lt=end))


@dataclass(frozen=True)
class BuyerTotals:
    buyers: int  # contacts with at least one order
    repeat_buyers: int  # contacts with at least two
    orders: int
    revenue: Decimal


def purchase_totals_by(*, contacts: QuerySet[Any, Any], key: str) -> dict[Any, BuyerTotals]:
    """Orders and revenue to date of a set of contacts, added up per value of the contacts' `key`
    column (e.g. "channel_id"); a key with no buyers is absent.

    One statement: the workspace's purchases counted per contact (the ORM's compilation, scoped by the
    tenant manager), joined to the contacts as the caller's queryset compiles, then counted per key — a
    hash or merge join in the database, whatever the number of contacts.
    """
    if not key.isidentifier():
        raise ValueError(f"Not a column name: {key!r}")
    field = contacts.model._meta.get_field(key)
    chosen, chosen_params = contacts.values("id", key).order_by().query.sql_with_params()
    per_contact = (
        purchase_queryset()
        .values("contact_id")
        .annotate(orders=Count("id"), revenue=Sum("amount"))
        .order_by()
    )
    bought, bought_params = per_contact.query.sql_with_params()
    column = connection.ops.quote_name(key)
    # Both inner queries are the ORM's own compilations with their parameters; the name is quoted.
    sql = (
        f"SELECT c.{column}, COUNT(*), SUM(CASE WHEN b.orders >= 2 THEN 1 ELSE 0 END), "  # noqa: S608
        f"SUM(b.orders), SUM(b.revenue) FROM ({chosen}) c JOIN ({bought}) b ON b.contact_id = c.id "
        f"GROUP BY c.{column}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*chosen_params, *bought_params])
        rows = cursor.fetchall()
    return {
        field.to_python(group): BuyerTotals(
            buyers=int(buyers),
            repeat_buyers=int(repeat or 0),
            orders=int(orders or 0),
            revenue=_money(revenue),
        )
        for group, buyers, repeat, orders, revenue in rows
    }


def _money(value: object) -> Decimal:
    """A database sum as yuan: SQLite sums decimals as floats, so round through their text."""
    return Decimal(str(value if value is not None else 0)).quantize(CENT)


# Content joined to orders ----------------------------------------------------------------------------


def content_outcomes(
    *, since: datetime, until: datetime, window: timedelta | None = None
) -> QuerySet[Any, Any]:
    """Per content: contacts who first read it in `[since, until)`, and how many of them ordered after.

    Rows are `content_id, viewers, buyers, orders, revenue`: `buyers` are viewers with an order placed
    after their first view (within `window` of it when given); `orders` and `revenue` count those
    orders. A contact who read several pieces before ordering counts for each of them.
    """
    after = purchase_queryset().filter(
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


def content_for_reports(*, published_only: bool = False) -> QuerySet[Content]:
    rows = Content.objects.order_by("-created_at", "-id")
    return rows.filter(is_published=True) if published_only else rows
