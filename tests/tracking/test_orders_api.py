"""The orders API: bulk orders on the import's path, and the cursor-paginated list of recorded orders."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from siyu.contacts.models import Contact
from siyu.contacts.services import contact_merge
from siyu.core.tenancy import workspace_scope
from siyu.tenancy.models import Member
from siyu.tenancy.roles import Role
from siyu.tracking.models import ContactActivity, Purchase
from siyu.tracking.services.orders import MAX_ORDERS
from tests.api.helpers import ApiClient, error_of, make_key, other_workspace_client
from tests.conftest import client_for
from tests.factories import ChannelFactory, ContactFactory
from tests.tracking.events import process_all

SHANGHAI = ZoneInfo("Asia/Shanghai")  # the test settings' TIME_ZONE
pytestmark = pytest.mark.django_db

PHONE = "+8613800001234"


def session_api(member: Member) -> ApiClient:
    return ApiClient(client=client_for(member))


@pytest.fixture
def api(admin: Member) -> ApiClient:
    return session_api(admin)


def placed(days_ago: int) -> str:
    return (timezone.now() - timedelta(days=days_ago)).replace(microsecond=0).isoformat()


def test_bulk_orders_report_each_order_and_are_recorded_once(api, admin, workspace):
    ChannelFactory(name="门店", code="store")
    customer = ContactFactory(name="张三", phone=PHONE)
    orders = [
        {
            "order_no": "A-1",
            "placed_at": placed(3),
            "amount": "199.00",
            "phone": "13800001234",
            "items": [{"sku": "C-50", "name": "修护面霜", "quantity": 1, "price": 199}],
            "channel": "store",
        },
        {
            "order_no": "A-2",
            "placed_at": "2026-03-05 14:30",
            "amount": 58.5,
            "phone": "13900005678",
            "name": "李四",
        },
        {"order_no": "A-3", "placed_at": placed(1), "amount": "-5", "phone": PHONE},
        {"order_no": "A-1", "placed_at": placed(2), "amount": "1", "phone": PHONE},
        {
            "order_no": "A-5",
            "placed_at": placed(1),
            "amount": "5",
            "identities": [{"type": "passport", "value": "x"}],
        },
    ]
    response = api.post("/orders/bulk", {"orders": orders})
    assert response.status_code == 200, response.content
    body = response.json()
    created = Contact.objects.get(phone="+8613900005678")
    assert body["counts"] == {"accepted": 2, "duplicate": 1, "failed": 2}
    assert body["contacts_created"] == 1
    assert [
        (r["index"], r["status"], r["order_no"], r["contact_id"], r["contact_created"])
        for r in body["results"]
    ] == [
        (0, "accepted", "A-1", str(customer.id), False),
        (1, "accepted", "A-2", str(created.id), True),
        (2, "failed", "A-3", None, False),
        (3, "duplicate", "A-1", None, False),
        (4, "failed", "A-5", None, False),
    ]
    assert body["results"][2]["errors"] == {
        "amount": "“-5” is negative; refunds cannot be imported as orders."
    }
    assert (
        body["results"][3]["detail"]
        == "The same order no. is at index 0 of this call; only that order is sent."
    )
    assert body["results"][4]["errors"] == {
        "identities.0": "“passport” is not an identity type (one of phone, email, wecom_external_userid, "
        "wechat_openid, wechat_unionid, anonymous_id, user_id, external_id)."
    }

    process_all()
    purchases = {p.order_no: p for p in Purchase.objects.all()}
    assert set(purchases) == {"A-1", "A-2"}
    assert purchases["A-2"].placed_at == datetime(2026, 3, 5, 14, 30, tzinfo=SHANGHAI)
    assert purchases["A-2"].amount == Decimal("58.50")

    # Replaying the call records nothing new: the orders are duplicates now.
    again = api.post("/orders/bulk", {"orders": orders[:2]}).json()
    assert again["counts"] == {"accepted": 0, "duplicate": 2, "failed": 0}
    assert [r["detail"] for r in again["results"]] == [
        "This order is already recorded; it was left as it is."
    ] * 2
    assert [r["contact_id"] for r in again["results"]] == [str(customer.id), str(created.id)]
    process_all()
    assert sorted(ContactActivity.objects.values_list("orders", "revenue")) == [
        (1, Decimal("58.50")),
        (1, Decimal("199.00")),
    ]


def test_a_replay_before_processing_is_still_recorded_once(api, workspace):
    ContactFactory(name="张三", phone=PHONE)
    orders = [{"order_no": "R-1", "placed_at": placed(1), "amount": "10", "phone": PHONE}]
    assert api.post("/orders/bulk", {"orders": orders}).json()["counts"]["accepted"] == 1
    assert api.post("/orders/bulk", {"orders": orders}).json()["counts"]["accepted"] == 1
    process_all()
    assert Purchase.objects.count() == 1
    assert ContactActivity.objects.get().orders == 1


def test_too_many_orders_are_refused_whole(api, workspace):
    orders = [{"order_no": str(n)} for n in range(MAX_ORDERS + 1)]
    response = api.post("/orders/bulk", {"orders": orders})
    assert response.status_code == 413
    assert error_of(response)["code"] == "too_many_rows"
    assert not Purchase.objects.exists()


def test_writing_needs_the_orders_import_permission(workspace, rep, admin_actor):
    ContactFactory(name="张三", phone=PHONE)
    orders = [{"order_no": "P-1", "placed_at": placed(1), "amount": "10", "phone": PHONE}]
    response = session_api(rep).post("/orders/bulk", {"orders": orders})
    assert response.status_code == 403
    assert error_of(response)["code"] == "permission_denied"
    read_key = ApiClient(make_key(admin_actor, ["read"]))
    assert read_key.post("/orders/bulk", {"orders": orders}).status_code == 403
    assert read_key.get("/orders").status_code == 200
    assert ApiClient().get("/orders").status_code == 401
    assert not Purchase.objects.exists()


def _purchase(contact: Contact, order_no: str, *, at: datetime, amount: str = "1", **fields: Any) -> Purchase:
    return Purchase.objects.create(
        order_no=order_no,
        contact_id=contact.id,
        placed_at=at,
        amount=Decimal(amount),
        message_id=order_no,
        **fields,
    )


def test_the_list_pages_by_cursor_and_filters(api, admin_actor, workspace):
    first = ContactFactory(name="甲")
    second = ContactFactory(name="乙")
    store = ChannelFactory(name="门店", code="store")
    base = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
    for n in range(5):
        _purchase(first if n % 2 else second, f"L-{n}", at=base + timedelta(days=n), amount=str(n + 1))
    _purchase(
        second,
        "L-9",
        at=base + timedelta(days=9),
        channel_id=store.id,
        origin="import",
        items=[{"name": "面霜"}],
    )

    page = api.get("/orders", {"limit": 4}).json()
    assert [o["order_no"] for o in page["items"]] == ["L-9", "L-4", "L-3", "L-2"]
    assert page["has_more"] is True
    assert page["items"][0] == {
        "id": str(Purchase.objects.get(order_no="L-9").id),
        "order_no": "L-9",
        "contact_id": str(second.id),
        "placed_at": "2026-03-10T02:00:00Z",
        "amount": "1.00",
        "items": [{"name": "面霜"}],
        "channel_id": str(store.id),
        "channel_name": "门店",
        "origin": "import",
        "created_at": page["items"][0]["created_at"],
    }
    rest = api.get("/orders", {"limit": 4, "cursor": page["next_cursor"]}).json()
    assert [o["order_no"] for o in rest["items"]] == ["L-1", "L-0"]
    assert (rest["has_more"], rest["next_cursor"]) == (False, None)

    def numbers(**query: Any) -> list[str]:
        response = api.get("/orders", query)
        assert response.status_code == 200, response.content
        return [o["order_no"] for o in response.json()["items"]]

    assert numbers(contact=str(first.id)) == ["L-3", "L-1"]
    assert numbers(placed_from="2026-03-02", placed_to="2026-03-03") == ["L-2", "L-1"]
    assert numbers(channel=str(store.id)) == ["L-9"]
    assert numbers(origin="import") == ["L-9"]
    # A merged-away contact id follows the merge to the survivor's orders.
    merged_id = first.id
    contact_merge(actor=admin_actor, survivor=second, other=first)
    assert numbers(contact=str(merged_id)) == ["L-9", "L-4", "L-3", "L-2", "L-1", "L-0"]
    bad = api.get("/orders", {"cursor": "nope"})
    assert (bad.status_code, error_of(bad)["fields"]) == (422, {"cursor": "Invalid."})
    assert numbers(placed_from="0001-01-01", placed_to="9999-12-31") == [
        "L-9",
        "L-4",
        "L-3",
        "L-2",
        "L-1",
        "L-0",
    ]


def test_an_item_number_beyond_64_bits_is_kept_as_text(api, workspace):
    order = {"order_no": "Q-1", "placed_at": placed(1), "amount": "1", "phone": "13800003333"}
    huge = 2**64
    response = api.post(
        "/orders/bulk", {"orders": [{**order, "items": [{"name": "面霜", "quantity": huge}]}]}
    )
    assert response.status_code == 200, response.content
    process_all()
    assert Purchase.objects.get(order_no="Q-1").items == [{"name": "面霜", "quantity": str(huge)}]


def test_the_list_follows_the_data_scope(workspace, rep, make_member):
    other_rep = make_member(Role.SALES)
    at = datetime(2026, 3, 1, tzinfo=UTC)
    _purchase(ContactFactory(name="我的", owner=rep), "D-1", at=at)
    _purchase(ContactFactory(name="公海"), "D-2", at=at + timedelta(hours=1))
    theirs = ContactFactory(name="别人的", owner=other_rep)
    _purchase(theirs, "D-3", at=at + timedelta(hours=2))
    api = session_api(rep)
    assert [o["order_no"] for o in api.get("/orders").json()["items"]] == ["D-2", "D-1"]
    response = api.get("/orders", {"contact": str(theirs.id)})
    assert response.status_code == 404


def test_another_workspace_sees_nothing_and_gets_404_for_our_contacts(api, workspace, other_workspace):
    contact = ContactFactory(name="张三", phone=PHONE)
    _purchase(contact, "W-1", at=datetime(2026, 3, 1, tzinfo=UTC))
    other_api = other_workspace_client(other_workspace)
    assert other_api.get("/orders").json() == {"items": [], "next_cursor": None, "has_more": False}
    response = other_api.get("/orders", {"contact": str(contact.id)})
    assert (response.status_code, error_of(response)["code"]) == (404, "not_found")
    with workspace_scope(other_workspace.id):
        assert not Purchase.objects.exists()
