"""Purchases: stored once per order number by the event processor, counted once, kept with their contact."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from siyu.contacts.models import Contact, Identity
from siyu.contacts.services import contact_delete, contact_merge
from siyu.core.errors import PermissionDenied, ValidationError
from siyu.core.pagination import Page
from siyu.core.tenancy import workspace_scope
from siyu.core.time import now
from siyu.tenancy.roles import Role
from siyu.tenancy.selectors import actor_for_member
from siyu.tracking.models import ContactActivity, Event, Purchase, PurchaseOrigin, TrackingSettings
from siyu.tracking.selectors.purchases import (
    PurchaseFilters,
    purchase_counts_by_contact,
    purchase_list,
    purchase_page,
    purchase_queryset,
    purchase_series,
    purchase_totals,
)
from siyu.tracking.services.orders import orders_submit
from siyu.tracking.services.retention import tracking_prune
from tests.conftest import client_for
from tests.factories import ChannelFactory, ContactFactory, MemberFactory
from tests.tracking.events import ago, iso, make_source, message, process_all, send


def send_and_process(source: Any, messages: list[dict[str, Any]]) -> None:
    """Send without a batch `sentAt`, so the events keep the exact times they carry."""
    response = send(source, messages, sentAt=None)
    assert response.status_code == 200, response.content
    process_all()


SHANGHAI = ZoneInfo("Asia/Shanghai")  # the test settings' TIME_ZONE
pytestmark = pytest.mark.django_db

PHONE = "+8613800001234"


def order(anonymous_id: str, *, at: datetime | None = None, **properties: Any) -> dict[str, Any]:
    return message(
        anonymousId=anonymous_id,
        event="Order Completed",
        timestamp=iso(at or ago(hours=1)),
        properties=properties,
    )


def counters(contact_id: Any) -> tuple[int, Decimal, datetime | None]:
    activity = ContactActivity.objects.get(contact_id=contact_id)
    return activity.orders, activity.revenue, activity.last_order_at


def contact_of(anonymous_id: str) -> Contact:
    return Identity.objects.get(value=anonymous_id).contact


def test_each_order_completed_event_stores_a_purchase(workspace):
    ad = ChannelFactory(name="朋友圈广告", code="moments-ad")
    source = make_source()
    placed = ago(days=2).replace(microsecond=0)
    send_and_process(
        source,
        [
            order(
                "anon-1",
                at=placed,
                order_id=10086,
                revenue="299.50",
                channel="moments-ad",
                products=[{"sku": "C-50", "name": "修护面霜", "quantity": 2, "price": 149.75}],
            ),
            order("anon-1", at=placed + timedelta(hours=1), orderId="B-2", total=88),
            order("anon-1", at=placed + timedelta(hours=2), order_no=" C-3 ", amount="10"),
            {**order("anon-1", at=placed + timedelta(hours=3), total=5), "messageId": "no-order-id"},
            message(anonymousId="anon-1", event="Product Viewed", properties={"order_id": "not-an-order"}),
        ],
    )
    rows = {
        p.order_no: (p.amount, p.placed_at, p.channel_id, p.origin, p.items, p.message_id)
        for p in Purchase.objects.all()
    }
    first = Event.objects.get(properties__order_id=10086).message_id
    assert rows == {
        "10086": (
            Decimal("299.50"),
            placed,
            ad.id,
            PurchaseOrigin.EVENT,
            [{"sku": "C-50", "name": "修护面霜", "quantity": 2, "price": 149.75}],
            first,
        ),
        "B-2": (Decimal("88.00"), placed + timedelta(hours=1), None, "event", [], rows["B-2"][5]),
        "C-3": (Decimal("10.00"), placed + timedelta(hours=2), None, "event", [], rows["C-3"][5]),
        "no-order-id": (Decimal("5.00"), placed + timedelta(hours=3), None, "event", [], "no-order-id"),
    }
    contact = contact_of("anon-1")
    assert set(Purchase.objects.values_list("contact_id", flat=True)) == {contact.id}
    assert counters(contact.id) == (4, Decimal("402.50"), placed + timedelta(hours=3))


def test_an_order_sent_twice_with_different_message_ids_counts_once(workspace):
    source = make_source()
    first_at = ago(hours=5).replace(microsecond=0)
    send_and_process(
        source,
        [
            order("anon-2", at=first_at, order_id="A-1", total=199),
            order("anon-2", at=first_at + timedelta(minutes=1), order_id="A-1", total=199),  # same chunk
        ],
    )
    send_and_process(source, [order("anon-2", at=ago(hours=1), order_id="A-1", total=250)])  # later

    assert Event.objects.filter(name="Order Completed").count() == 3
    purchase = Purchase.objects.get()
    assert (purchase.order_no, purchase.amount, purchase.placed_at) == ("A-1", Decimal("199.00"), first_at)
    assert counters(purchase.contact_id) == (1, Decimal("199.00"), first_at)
    assert ContactActivity.objects.get().events == 3  # each event is still an event


def test_an_order_both_tracked_and_imported_is_recorded_and_counted_once(workspace, admin_actor):
    source = make_source()
    contact = ContactFactory(name="张三", phone=PHONE)
    tracked_at = ago(days=1).replace(microsecond=0)
    send_and_process(
        source,
        [
            message("identify", anonymousId="anon-3", traits={"phone": PHONE}, timestamp=iso(tracked_at)),
            order("anon-3", at=tracked_at, order_id="T-1", total=120),
        ],
    )
    assert counters(contact.id) == (1, Decimal("120.00"), tracked_at)

    # The shop's export has the same order and one more; the tracked one is a duplicate and is not sent.
    results = orders_submit(
        actor=admin_actor,
        orders=[
            {"order_no": "T-1", "placed_at": iso(tracked_at), "amount": "120", "phone": PHONE},
            {"order_no": "T-2", "placed_at": iso(ago(hours=2)), "amount": "80", "phone": PHONE},
        ],
    )
    assert [(r.status, r.contact_id, r.contact_created) for r in results] == [
        ("duplicate", contact.id, False),
        ("accepted", contact.id, False),
    ]
    send_and_process(source, [])
    assert dict(Purchase.objects.values_list("order_no", "origin")) == {"T-1": "event", "T-2": "import"}
    assert counters(contact.id)[:2] == (2, Decimal("200.00"))

    # The other way round: imported first, then the shop's tracker reports it with its own messageId.
    send_and_process(source, [order("anon-3", at=ago(hours=2), order_id="T-2", total=80)])
    assert Purchase.objects.count() == 2
    assert counters(contact.id)[:2] == (2, Decimal("200.00"))
    assert purchase_counts_by_contact(contact_ids=[contact.id]) == {contact.id: (2, Decimal("200.00"))}


def test_items_are_kept_trimmed(workspace):
    source = make_source()
    products = [
        {
            "name": "n" * 250,
            "sku": f"S{i}",
            "tags": ["nested"],
            "meta": {"a": 1},
            "on_sale": True,
            "price": 9.9,
        }
        for i in range(60)
    ]
    send_and_process(source, [order("anon-4", order_id="I-1", total=1, products=products)])
    items = Purchase.objects.get().items
    assert len(items) == 50
    assert items[0] == {"name": "n" * 200, "sku": "S0", "on_sale": True, "price": 9.9}
    assert items[49]["sku"] == "S49"


def test_merging_contacts_moves_their_purchases_and_keeps_the_counters_right(workspace, admin_actor):
    source = make_source()
    send_and_process(
        source,
        [
            order("anon-a", at=ago(days=3), order_id="M-1", total=100),
            order("anon-a", at=ago(days=2), order_id="M-2", total=50),
            order("anon-b", at=ago(days=1), order_id="M-3", total=30),
        ],
    )
    survivor, other = contact_of("anon-a"), contact_of("anon-b")
    last_at = Purchase.objects.get(order_no="M-3").placed_at

    contact_merge(actor=admin_actor, survivor=survivor, other=other)

    assert set(Purchase.objects.values_list("contact_id", flat=True)) == {survivor.id}
    assert counters(survivor.id) == (3, Decimal("180.00"), last_at)
    assert purchase_counts_by_contact(contact_ids=[survivor.id, other.id]) == {
        survivor.id: (3, Decimal("180.00"))
    }
    # An order of the merged-away contact sent again still counts nothing.
    send_and_process(source, [order("anon-b", order_id="M-3", total=30)])
    assert counters(survivor.id)[:2] == (3, Decimal("180.00"))


def test_deleting_a_contact_deletes_its_purchases(workspace, admin_actor):
    source = make_source()
    send_and_process(
        source, [order("anon-d", order_id="D-1", total=10), order("anon-e", order_id="E-1", total=20)]
    )
    contact_delete(actor=admin_actor, contact=contact_of("anon-d"))
    assert list(Purchase.objects.values_list("order_no", flat=True)) == ["E-1"]


def test_pruning_old_events_keeps_purchases(workspace):
    TrackingSettings.objects.create(retention_days=30)
    source = make_source()
    send_and_process(source, [order("anon-p", at=ago(days=40), order_id="P-1", total=66)])
    Event.objects.update(received_at=now() - timedelta(days=40))

    assert tracking_prune().events == 1

    assert not Event.objects.exists()
    assert list(Purchase.objects.values_list("order_no", "amount")) == [("P-1", Decimal("66.00"))]
    # With the raw event gone the order number still holds: replaying the old order counts nothing.
    send_and_process(source, [order("anon-p", at=ago(days=40), order_id="P-1", total=66)])
    assert counters(Purchase.objects.get().contact_id)[:2] == (1, Decimal("66.00"))


def _purchase(contact: Contact, order_no: str, *, at: datetime, amount: str, **fields: Any) -> Purchase:
    return Purchase.objects.create(
        order_no=order_no,
        contact_id=contact.id,
        placed_at=at,
        amount=Decimal(amount),
        message_id=order_no,
        **fields,
    )


def test_lists_follow_the_data_scope_and_the_workspace(
    workspace, other_workspace, admin_actor, rep, make_member
):
    other_rep = make_member(Role.SALES, display_name="销售小李")
    mine = ContactFactory(name="我的客户", owner=rep)
    pooled = ContactFactory(name="公海客户")
    theirs = ContactFactory(name="别人的客户", owner=other_rep)
    at = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
    _purchase(mine, "S-1", at=at, amount="10")
    _purchase(pooled, "S-2", at=at + timedelta(hours=1), amount="20")
    _purchase(theirs, "S-3", at=at + timedelta(hours=2), amount="30")
    rep_actor = actor_for_member(member=rep)

    assert sorted(purchase_list(actor=rep_actor).values_list("order_no", flat=True)) == ["S-1", "S-2"]
    assert purchase_totals(actor=rep_actor).revenue == Decimal("30.00")
    assert purchase_totals(actor=admin_actor).orders == 3
    assert purchase_queryset().count() == 3
    with workspace_scope(other_workspace.id):
        assert purchase_queryset().count() == 0
        assert not Purchase.objects.exists()


def test_reading_orders_needs_contacts_read(workspace, make_member):
    member = make_member(Role.SALES)
    actor = actor_for_member(member=member)
    actor.permissions = frozenset()
    with pytest.raises(PermissionDenied):
        purchase_list(actor=actor)


def test_pages_run_newest_order_first_and_filters_apply(workspace, admin_actor):
    first = ContactFactory(name="甲")
    second = ContactFactory(name="乙")
    store = ChannelFactory(name="门店", code="store")
    base = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
    _purchase(first, "K-1", at=base, amount="1")
    _purchase(second, "K-2", at=base + timedelta(days=1), amount="2", channel_id=store.id)
    _purchase(
        first, "K-3", at=base + timedelta(days=1), amount="3", origin=PurchaseOrigin.IMPORT
    )  # same time
    _purchase(second, "K-4", at=base + timedelta(days=2), amount="4")

    seen: list[str] = []
    page: Page[Purchase] = purchase_page(actor=admin_actor, limit=3)
    seen += [p.order_no for p in page.items]
    assert page.has_more
    page = purchase_page(actor=admin_actor, cursor=page.next_cursor, limit=3)
    seen += [p.order_no for p in page.items]
    assert not page.has_more
    assert seen == ["K-4", "K-3", "K-2", "K-1"]  # equal times: the later id first

    def numbers(**filters: Any) -> list[str]:
        return [
            p.order_no for p in purchase_page(actor=admin_actor, filters=PurchaseFilters(**filters)).items
        ]

    assert numbers(contact_id=first.id) == ["K-3", "K-1"]
    assert numbers(channel_ids=[store.id]) == ["K-2"]
    assert numbers(origin="import") == ["K-3"]
    # Days are the workspace's (Asia/Shanghai): 2026-03-02 02:00 UTC is 10:00 on the 2nd there.
    assert numbers(placed_from=date(2026, 3, 2), placed_to=date(2026, 3, 2)) == ["K-3", "K-2"]
    with pytest.raises(ValidationError):
        purchase_page(actor=admin_actor, cursor="not-a-cursor")


def test_series_by_day_and_by_month(workspace, admin_actor):
    contact = ContactFactory(name="丙")
    _purchase(contact, "Q-1", at=datetime(2026, 1, 31, 17, 0, tzinfo=UTC), amount="10")  # Feb 1st in Shanghai
    _purchase(contact, "Q-2", at=datetime(2026, 2, 1, 3, 0, tzinfo=UTC), amount="5")
    _purchase(contact, "Q-3", at=datetime(2026, 2, 3, 3, 0, tzinfo=UTC), amount="7.5")
    _purchase(contact, "Q-4", at=datetime(2026, 5, 3, 3, 0, tzinfo=UTC), amount="1")

    unit, days = purchase_series(actor=admin_actor, first=date(2026, 1, 31), last=date(2026, 2, 3))
    assert unit == "day"
    assert [(p.start, p.orders, p.revenue) for p in days] == [
        (date(2026, 1, 31), 0, Decimal("0.00")),
        (date(2026, 2, 1), 2, Decimal("15.00")),
        (date(2026, 2, 2), 0, Decimal("0.00")),
        (date(2026, 2, 3), 1, Decimal("7.50")),
    ]
    unit, months = purchase_series(actor=admin_actor, first=date(2026, 1, 15), last=date(2026, 5, 20))
    assert unit == "month"
    assert [(p.start, p.orders, p.revenue) for p in months] == [
        (date(2026, 1, 1), 0, Decimal("0.00")),
        (date(2026, 2, 1), 3, Decimal("22.50")),
        (date(2026, 3, 1), 0, Decimal("0.00")),
        (date(2026, 4, 1), 0, Decimal("0.00")),
        (date(2026, 5, 1), 1, Decimal("1.00")),
    ]


# --- the orders page ------------------------------------------------------------------------------


def test_the_orders_page_lists_filters_charts_and_exports(workspace, admin, rep):
    store = ChannelFactory(name="门店", code="store")
    zhang = ContactFactory(name="张三", owner=rep)
    li = ContactFactory(name="李四", phone="+8613900005678")
    base = datetime(2026, 3, 1, 10, 0, tzinfo=SHANGHAI)
    _purchase(
        zhang, "O-1", at=base, amount="100", channel_id=store.id, items=[{"name": "面霜", "quantity": 2}]
    )
    _purchase(li, "=O-2", at=base + timedelta(days=2), amount="50.5", origin=PurchaseOrigin.IMPORT)
    client = client_for(admin)

    page = client.get(reverse("orders:list"))
    html = page.content.decode()
    assert page.status_code == 200
    assert html.index("=O-2") < html.index("O-1")  # newest order first
    assert f'href="{reverse("contacts:detail", args=[zhang.id])}">张三</a>' in html
    assert 'id="total-orders">2<' in html
    assert 'id="total-revenue">150.50<' in html
    assert "面霜×2" in html
    assert 'href="/orders/import/"' in html
    chart = page.context["chart_data"]
    assert (chart["unit"], chart["periods"][0], chart["periods"][-1]) == ("day", "2026-03-01", "2026-03-03")
    assert (chart["orders"], chart["revenue"]) == ([1, 0, 1], [100.0, 0.0, 50.5])

    filtered = client.get(reverse("orders:list"), {"channel": str(store.id)}).content.decode()
    assert "O-1" in filtered
    assert "=O-2" not in filtered
    dated = client.get(reverse("orders:list"), {"from": "2026-03-02", "to": "2026-03-31"}).context
    assert [row["purchase"].order_no for row in dated["rows"]] == ["=O-2"]
    assert dated["period"] == "custom"

    export = client.get(reverse("orders:list"), {"format": "csv"})
    body = b"".join(export.streaming_content)  # type: ignore[attr-defined]
    lines = body.decode("utf-8-sig").splitlines()
    assert lines == [
        "Order no.,Customer,Ordered at,Amount (¥),Channel,Recorded from,Items",
        "'=O-2,李四,2026-03-03 10:00:00,50.50,,Order import,",
        "O-1,张三,2026-03-01 10:00:00,100.00,门店,Tracked event,面霜×2",
    ]

    # The rep sees the orders of their own contacts and the public pool's, not others'.
    mine = ContactFactory(name="小王的客户", owner=rep)
    _purchase(mine, "O-3", at=base, amount="1")
    owned_elsewhere = ContactFactory(name="别人的", owner=admin)
    _purchase(owned_elsewhere, "O-4", at=base, amount="1")
    rep_page = client_for(rep).get(reverse("orders:list"))
    assert sorted(row["purchase"].order_no for row in rep_page.context["rows"]) == ["=O-2", "O-1", "O-3"]
    assert 'href="/orders/import/"' not in rep_page.content.decode()


def test_more_rows_arrive_by_htmx_and_other_workspaces_see_none(workspace, admin, other_workspace):
    contact = ContactFactory(name="张三")
    base = datetime(2026, 3, 1, 10, 0, tzinfo=SHANGHAI)
    for n in range(52):
        _purchase(contact, f"H-{n:02d}", at=base + timedelta(minutes=n), amount="1")
    client = client_for(admin)
    first = client.get(reverse("orders:list"))
    assert len(first.context["rows"]) == 50
    cursor = first.context["page"].next_cursor
    more = client.get(reverse("orders:list"), {"cursor": cursor}, headers={"HX-Request": "true"})
    html = more.content.decode()
    assert "H-01" in html
    assert "H-00" in html
    assert "H-02" not in html
    assert "<html" not in html
    assert 'id="orders-more"' not in html

    with workspace_scope(other_workspace.id):
        stranger = MemberFactory(role=Role.OWNER)
    assert client_for(stranger).get(reverse("orders:list")).context["rows"] == []
