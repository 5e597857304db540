"""Orders over HTTP: send orders in bulk (the order import's path) and list recorded purchases."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from django.http import HttpResponse
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.renderers import JSONRenderer

from siyu.contacts.selectors import contact_get_for
from siyu.core.errors import PayloadTooLarge
from siyu.tenancy.api import AuthedRequest
from siyu.tracking.selectors.purchases import PurchaseFilters, channel_names, purchase_page
from siyu.tracking.services.orders import MAX_ORDERS, orders_submit

_RENDERER = JSONRenderer()

# --- schemas ------------------------------------------------------------------------------------


ORDER_FIELDS = """Each order: `order_no` (unique per workspace), `placed_at` (ISO 8601, or "YYYY-MM-DD HH:MM" in the
workspace's time zone; at most five years ago), `amount` (yuan, e.g. "199.00"; never negative), the customer
as `phone`, `email` and/or `identities` ([{"type": "wechat_unionid", "value": "…"}], any identity type),
optional `name` (for a new customer), `items` (a list of products — name, sku, quantity, price … — or text
like "面霜×2; 洁面乳") and `channel` (a channel id, code or name)."""


class OrdersBulkIn(Schema):
    orders: list[dict[str, Any]] = Field(description=f"At most {MAX_ORDERS} orders. {ORDER_FIELDS}")


class OrderResultOut(Schema):
    index: int
    status: Literal["accepted", "duplicate", "failed"]
    order_no: str
    contact_id: UUID | None
    contact_created: bool
    detail: str = Field(description="Why a duplicate is one")
    errors: dict[str, str]


class OrdersBulkOut(Schema):
    counts: dict[str, int]
    contacts_created: int
    results: list[OrderResultOut]


class OrderOut(Schema):
    id: UUID
    order_no: str
    contact_id: UUID
    placed_at: datetime
    amount: Decimal
    items: list[Any]
    channel_id: UUID | None
    channel_name: str
    origin: Literal["event", "import"]
    created_at: datetime


class OrderPageOut(Schema):
    items: list[OrderOut]
    next_cursor: str | None
    has_more: bool


class OrderListQuery(Schema):
    contact: UUID | None = Field(
        None, description="Only this contact's orders (a merged-away id follows the merge)"
    )
    placed_from: date | None = Field(None, description="First day, in the workspace's time zone")
    placed_to: date | None = Field(None, description="Last day, inclusive")
    channel: list[UUID] = Field(default_factory=list, description="Channel ids")
    origin: Literal["", "event", "import"] = ""
    cursor: str | None = Field(None, description="The next_cursor of the previous page")
    limit: int = Field(50, ge=1, le=200)


# --- routes -------------------------------------------------------------------------------------

orders_router = Router(tags=["orders"])


@orders_router.post("/bulk", response=OrdersBulkOut, operation_id="orders_bulk")
def orders_bulk(request: AuthedRequest, payload: OrdersBulkIn) -> HttpResponse:
    """Send up to 1,000 orders. Each is recorded once by its order no. (replaying a call records
    nothing twice), as an `Order Completed` event on the customer found by phone or identity; an
    unknown customer is created at the "customer" stage. Each order succeeds or fails on its own.

    `accepted` orders are recorded by the event processor within seconds.
    """
    if len(payload.orders) > MAX_ORDERS:
        raise PayloadTooLarge(
            _("At most %(n)d orders per call; split the batch.") % {"n": MAX_ORDERS},
            code="too_many_rows",
            fields={"orders": _("%(count)d orders sent.") % {"count": len(payload.orders)}},
        )
    results = orders_submit(actor=request.auth, orders=payload.orders)
    counts = dict.fromkeys(("accepted", "duplicate", "failed"), 0)
    for result in results:
        counts[result.status] += 1
    body = {
        "counts": counts,
        "contacts_created": sum(1 for r in results if r.contact_created),
        "results": [
            {
                "index": r.index,
                "status": r.status,
                "order_no": r.order_no,
                "contact_id": None if r.contact_id is None else str(r.contact_id),
                "contact_created": r.contact_created,
                "detail": r.detail,
                "errors": r.errors,
            }
            for r in results
        ],
    }
    # Already in OrdersBulkOut's shape: rendered as ninja renders, without validating 1,000 results again.
    return HttpResponse(
        _RENDERER.render(request, body, response_status=200),
        content_type=f"{_RENDERER.media_type}; charset={_RENDERER.charset}",
    )


@orders_router.get("", response=OrderPageOut, operation_id="orders_list")
def orders_list(request: AuthedRequest, query: Query[OrderListQuery]) -> dict[str, Any]:
    """Recorded orders of the contacts the caller may see, newest order first, one cursor page at a time."""
    contact_id = contact_get_for(request.auth, query.contact).id if query.contact else None
    filters = PurchaseFilters(
        contact_id=contact_id,
        placed_from=query.placed_from,
        placed_to=query.placed_to,
        channel_ids=query.channel,
        origin=query.origin,
    )
    page = purchase_page(actor=request.auth, filters=filters, cursor=query.cursor, limit=query.limit)
    names = channel_names(page.items)
    return {
        "items": [
            {
                "id": p.id,
                "order_no": p.order_no,
                "contact_id": p.contact_id,
                "placed_at": p.placed_at,
                "amount": p.amount,
                "items": p.items,
                "channel_id": p.channel_id,
                "channel_name": names.get(p.channel_id, "") if p.channel_id else "",
                "origin": p.origin,
                "created_at": p.created_at,
            }
            for p in page.items
        ],
        "next_cursor": page.next_cursor,
        "has_more": page.has_more,
    }
