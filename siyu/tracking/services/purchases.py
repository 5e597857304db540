"""Purchases: one row per order number, written only by the event processor.

Every way an order arrives — an `Order Completed` event from a shop, the order import, the orders API —
is an `Order Completed` track event, and the processor stores its purchase with INSERT … ON CONFLICT
DO NOTHING on (workspace, order no.). The first recording of an order wins; later ones (the same order
tracked and imported, or sent twice with different messageIds) store nothing and count nothing.
"""

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from siyu.core.db import rows_write
from siyu.core.ids import uuid7
from siyu.tracking.models import Purchase, PurchaseOrigin

ORDER_COMPLETED = "Order Completed"
ORDER_NUMBER_KEYS = ("order_id", "orderId", "order_no")
AMOUNT_KEYS = ("revenue", "total", "value", "amount")
ITEM_LIST_KEYS = ("products", "items")
MAX_ORDER_NO_LENGTH = Purchase._meta.get_field("order_no").max_length or 100
MAX_ORDER_AMOUNT = Decimal("100000000")
MAX_ITEMS = 50  # items kept per order
MAX_ITEM_FIELDS = 20  # fields kept per item
MAX_ITEM_TEXT = 200  # characters kept per text value
IN_CLAUSE = 500


def order_amount(properties: Mapping[str, Any]) -> Decimal:
    """The order's amount: the first of revenue, total, value, amount that is a sane sum of money."""
    for key in AMOUNT_KEYS:
        raw = properties.get(key)
        if raw is None or isinstance(raw, bool):
            continue
        try:
            amount = Decimal(str(raw)).quantize(Decimal("0.01"))
        except (InvalidOperation, ValueError):
            continue
        if amount.is_finite() and 0 <= amount < MAX_ORDER_AMOUNT:
            return amount
    return Decimal(0)


def order_number(properties: Mapping[str, Any], *, message_id: str) -> str:
    """The order's number (order_id, orderId or order_no), else the event's own messageId."""
    for key in ORDER_NUMBER_KEYS:
        raw = properties.get(key)
        if raw is None or isinstance(raw, bool | dict | list):
            continue
        text = str(raw).strip()
        if text:
            return text[:MAX_ORDER_NO_LENGTH]
    return message_id[:MAX_ORDER_NO_LENGTH]


def _item_value(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):  # kept as text beyond the 64 bits JSON stores carry
        return value if -(2**63) <= value < 2**64 else str(value)[:MAX_ITEM_TEXT]
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    return str(value)[:MAX_ITEM_TEXT] if isinstance(value, str) else None


def order_items(properties: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The order's products (Segment's `products`, or `items`), trimmed: at most MAX_ITEMS items of
    MAX_ITEM_FIELDS scalar fields each, texts cut to MAX_ITEM_TEXT characters."""
    raw: list[Any] = next((properties[k] for k in ITEM_LIST_KEYS if isinstance(properties.get(k), list)), [])
    items: list[dict[str, Any]] = []
    for entry in raw[:MAX_ITEMS]:
        if isinstance(entry, dict):
            item = {}
            for key, value in list(entry.items())[:MAX_ITEM_FIELDS]:
                kept = _item_value(value)
                if kept is not None:
                    item[str(key)[:50]] = kept
            if item:
                items.append(item)
        elif isinstance(entry, str | int) and not isinstance(entry, bool) and str(entry).strip():
            items.append({"name": str(entry).strip()[:MAX_ITEM_TEXT]})
    return items


def is_order_event(event: Mapping[str, Any]) -> bool:
    return bool(event["type"] == "track" and event["name"] == ORDER_COMPLETED)


def purchases_record(events: Sequence[dict[str, Any]], *, import_source_ids: set[UUID]) -> int:
    """Store a purchase for each `Order Completed` event of a processor chunk; return how many were new.

    `events` are the chunk's fresh events in time order, with `contactId` resolved and `_channel` (the
    attributed channel) set. The events whose order was stored now get `_new_order` (and
    `_order_amount`): only they count in their contact's order counters. One INSERT and one read of the
    new ids per chunk, never a query per event.
    """
    chosen: dict[str, tuple[UUID, dict[str, Any]]] = {}
    for event in events:
        if not is_order_event(event):
            continue
        order_no = order_number(event["properties"], message_id=event["messageId"])
        if order_no not in chosen:  # the earliest recording of an order in the chunk wins
            chosen[order_no] = (uuid7(), event)
    if not chosen:
        return 0
    amounts = {order_no: order_amount(event["properties"]) for order_no, (_id, event) in chosen.items()}
    rows_write(
        Purchase,
        [
            {
                "id": purchase_id,
                "order_no": order_no,
                "contact_id": event["contactId"],
                "placed_at": event["timestamp"],
                "amount": amounts[order_no],
                "items": order_items(event["properties"]),
                "channel_id": event.get("_channel"),
                "origin": PurchaseOrigin.IMPORT
                if event["sourceId"] in import_source_ids
                else PurchaseOrigin.EVENT,
                "message_id": event["messageId"],
            }
            for order_no, (purchase_id, event) in chosen.items()
        ],
        conflict="ignore",
    )
    # The rows that went in carry the ids given above; an order already stored kept its own id.
    ids = [purchase_id for purchase_id, _event in chosen.values()]
    stored: set[UUID] = set()
    for start in range(0, len(ids), IN_CLAUSE):
        stored.update(
            Purchase.objects.filter(id__in=ids[start : start + IN_CLAUSE]).values_list("id", flat=True)
        )
    for order_no, (purchase_id, event) in chosen.items():
        if purchase_id in stored:
            event["_new_order"] = True
            event["_order_amount"] = amounts[order_no]
    return len(stored)


def purchases_move(*, survivor_id: UUID, merged_id: UUID) -> int:
    """A merged-away contact's purchases now belong to the survivor (its counters are folded apart)."""
    return Purchase.objects.filter(contact_id=merged_id).update(contact_id=survivor_id)


def purchases_delete(*, contact_id: UUID) -> int:
    return Purchase.objects.filter(contact_id=contact_id).delete()[0]
