"""Reads of purchases (orders) and order imports.

`purchase_queryset` is the building block other domains (segments, analytics) put into their own SQL;
lists shown to a member go through `purchase_list`, which applies the member's data scope through the
contacts selector: a rep sees the orders of the contacts they may see, never another rep's.
"""

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db.models import Count, Max, Min, Q, QuerySet, Sum
from django.db.models.functions import TruncDay, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.contacts.selectors import channel_list, contact_scoped
from siyu.core.errors import InvalidCursor, NotFound
from siyu.core.pagination import Page
from siyu.core.time import days_range
from siyu.tenancy.actor import Actor
from siyu.tenancy.roles import DataScope, Permission
from siyu.tracking.models import OrderImportJob, Purchase

IN_CLAUSE = 500
DAILY_BUCKETS_UP_TO = 92  # days; a longer span is charted by month


def purchase_queryset() -> QuerySet[Purchase]:
    """Every purchase of the active workspace, one row per order number.

    For other domains' SQL (segments, analytics): filter it, aggregate it or use it as a subquery on
    `contact_id` (indexed with `placed_at`). It applies no data scope: it is for figures and rules, not
    for listing orders to a member — that is `purchase_list`.
    """
    return Purchase.objects.all()


@dataclass
class PurchaseFilters:
    contact_id: UUID | None = None
    placed_from: date | None = None  # inclusive, days in the workspace's time zone
    placed_to: date | None = None  # inclusive
    channel_ids: list[UUID] = field(default_factory=list)
    origin: str = ""  # "", "event" or "import"


def purchase_list(*, actor: Actor, filters: PurchaseFilters | None = None) -> QuerySet[Purchase]:
    """The purchases of the contacts the actor may see, filtered."""
    actor.require(Permission.CONTACTS_READ)
    rows = Purchase.objects.all()
    if actor.scope != DataScope.ALL:
        rows = rows.filter(contact_id__in=contact_scoped(actor=actor).values("id"))
    if filters is None:
        return rows
    if filters.contact_id is not None:
        rows = rows.filter(contact_id=filters.contact_id)
    since, until = days_range(filters.placed_from, filters.placed_to)
    if since is not None:
        rows = rows.filter(placed_at__gte=since)
    if until is not None:
        rows = rows.filter(placed_at__lt=until)
    if filters.channel_ids:
        rows = rows.filter(channel_id__in=filters.channel_ids)
    if filters.origin:
        rows = rows.filter(origin=filters.origin)
    return rows


def _cursor_encode(purchase: Purchase) -> str:
    raw = json.dumps([purchase.placed_at.isoformat(), str(purchase.id)])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _cursor_decode(cursor: str) -> tuple[datetime, UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        placed, purchase_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        moment = datetime.fromisoformat(placed)
        if moment.tzinfo is None:
            raise ValueError("naive time")
        return moment, UUID(purchase_id)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise InvalidCursor() from exc


def purchase_page(
    *, actor: Actor, filters: PurchaseFilters | None = None, cursor: str | None = None, limit: int = 50
) -> Page[Purchase]:
    """One keyset page of purchases, newest order first (by when it was placed, then by id)."""
    rows = purchase_list(actor=actor, filters=filters).order_by("-placed_at", "-id")
    if cursor:
        placed_at, purchase_id = _cursor_decode(cursor)
        rows = rows.filter(Q(placed_at__lt=placed_at) | Q(placed_at=placed_at, id__lt=purchase_id))
    items = list(rows[: limit + 1])
    has_more = len(items) > limit
    items = items[:limit]
    return Page(items=items, next_cursor=_cursor_encode(items[-1]) if has_more else None, has_more=has_more)


@dataclass(frozen=True)
class PurchaseTotals:
    orders: int
    revenue: Decimal
    customers: int
    first_at: datetime | None
    last_at: datetime | None

    @property
    def average(self) -> Decimal:
        return (self.revenue / self.orders).quantize(Decimal("0.01")) if self.orders else Decimal(0)


def purchase_totals(*, actor: Actor, filters: PurchaseFilters | None = None) -> PurchaseTotals:
    row = (
        purchase_list(actor=actor, filters=filters)
        .order_by()
        .aggregate(
            orders=Count("id"),
            revenue=Sum("amount"),
            customers=Count("contact_id", distinct=True),
            first_at=Min("placed_at"),
            last_at=Max("placed_at"),
        )
    )
    return PurchaseTotals(
        orders=row["orders"],
        revenue=Decimal(row["revenue"] or 0).quantize(Decimal("0.01")),
        customers=row["customers"],
        first_at=row["first_at"],
        last_at=row["last_at"],
    )


@dataclass(frozen=True)
class PurchasePeriod:
    start: date  # the first day of the bucket (a day, or a month's first day)
    orders: int
    revenue: Decimal


def purchase_series(
    *, actor: Actor, filters: PurchaseFilters | None = None, first: date, last: date
) -> tuple[str, list[PurchasePeriod]]:
    """Orders and revenue per day (spans up to DAILY_BUCKETS_UP_TO days) or per month, every bucket from
    `first` to `last` present (empty ones as zeros). Returns ("day" | "month", periods)."""
    unit = "day" if (last - first).days < DAILY_BUCKETS_UP_TO else "month"
    trunc = TruncDay if unit == "day" else TruncMonth
    rows = (
        purchase_list(actor=actor, filters=filters)
        .order_by()
        .annotate(bucket=trunc("placed_at", tzinfo=timezone.get_current_timezone()))
        .values("bucket")
        .annotate(orders=Count("id"), revenue=Sum("amount"))
    )
    found: dict[date, tuple[int, Decimal]] = {}
    for row in rows:
        bucket = row["bucket"]
        day = timezone.localtime(bucket).date() if isinstance(bucket, datetime) else bucket
        orders, revenue = found.get(day, (0, Decimal(0)))
        found[day] = (orders + row["orders"], revenue + Decimal(row["revenue"] or 0))
    periods = []
    cursor = first if unit == "day" else first.replace(day=1)
    while cursor <= last:
        orders, revenue = found.get(cursor, (0, Decimal(0)))
        periods.append(PurchasePeriod(start=cursor, orders=orders, revenue=revenue.quantize(Decimal("0.01"))))
        if unit == "day":
            cursor += timedelta(days=1)
        else:
            cursor = (cursor.replace(day=28) + timedelta(days=4)).replace(day=1)
    return unit, periods


def purchase_owners(*, order_nos: Iterable[str]) -> dict[str, UUID]:
    """Of these order numbers, those already recorded in the active workspace → the contact holding it."""
    wanted = list(dict.fromkeys(order_nos))
    found: dict[str, UUID] = {}
    for start in range(0, len(wanted), IN_CLAUSE):
        chunk = wanted[start : start + IN_CLAUSE]
        found.update(Purchase.objects.filter(order_no__in=chunk).values_list("order_no", "contact_id"))
    return found


def purchase_counts_by_contact(*, contact_ids: Iterable[UUID]) -> dict[UUID, tuple[int, Decimal]]:
    """(orders, revenue) per contact, from the purchases themselves (the counters' ground truth)."""
    rows = (
        Purchase.objects.filter(contact_id__in=list(set(contact_ids)))
        .order_by()
        .values("contact_id")
        .annotate(orders=Count("id"), revenue=Sum("amount"))
    )
    return {row["contact_id"]: (row["orders"], Decimal(row["revenue"] or 0)) for row in rows}


# Order imports ---------------------------------------------------------------------------------------


def order_import_job_get(*, actor: Actor, job_id: UUID | str) -> OrderImportJob:
    """An order import of the active workspace; another workspace's id, or a member who may not import
    orders, gets NotFound."""
    try:
        wanted = job_id if isinstance(job_id, UUID) else UUID(str(job_id))
    except ValueError:
        raise NotFound(_("Import not found.")) from None
    job = OrderImportJob.objects.select_related("created_by").filter(id=wanted).first()
    if job is None or not actor.can(Permission.ORDERS_IMPORT):
        raise NotFound(_("Import not found."))
    return job


def order_import_job_list(*, actor: Actor, limit: int = 20) -> list[OrderImportJob]:
    if not actor.can(Permission.ORDERS_IMPORT):
        return []
    return list(OrderImportJob.objects.select_related("created_by")[:limit])


def channel_names(rows: Iterable[Any]) -> dict[UUID, str]:
    """Names of the channels these purchases were attributed to (a helper for list pages)."""
    wanted = {row.channel_id for row in rows if row.channel_id}
    if not wanted:
        return {}
    return dict(channel_list().filter(id__in=wanted).values_list("id", "name"))
