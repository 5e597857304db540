"""The event processor: identity resolution, counters, stages, attribution, radar, exactly-once effects."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from siyu.contacts.models import Contact, Identity, IdentityType, Stage, TimelineEntry, TimelineKind
from siyu.contacts.services import contact_delete, contact_merge
from siyu.core.ids import uuid7
from siyu.core.tenancy import workspace_scope
from siyu.tracking.ingest.spec import Received
from siyu.tracking.ingest.store import events_accept
from siyu.tracking.models import (
    ContactActivity,
    Content,
    ContentViewer,
    Event,
    EventContext,
    EventMinute,
    EventNumber,
    EventText,
    InboundBatch,
    IngestWarning,
    Notification,
    ShareLink,
    TrackingSettings,
    WarningCode,
)
from siyu.tracking.services import effects
from siyu.tracking.services.processing import inbound_process
from tests.factories import ChannelFactory, ContactFactory
from tests.tracking.events import ago, iso, make_source, message, page, process_all, send, send_and_process

pytestmark = pytest.mark.django_db


def _identities(contact: Contact) -> set[tuple[str, str]]:
    return set(Identity.objects.filter(contact=contact).values_list("type", "value"))


def test_an_unknown_browser_becomes_a_visitor_with_its_history(workspace):
    source = make_source()
    send_and_process(source, [page("anon-1"), message(anonymousId="anon-1")])
    contact = Contact.objects.get()
    assert contact.stage == Stage.VISITOR
    assert _identities(contact) == {(IdentityType.ANONYMOUS, "anon-1")}
    assert set(Event.objects.values_list("contact_id", flat=True)) == {contact.id}
    assert contact.last_seen_at is not None
    activity = ContactActivity.objects.get(contact_id=contact.id)
    assert (activity.events, activity.page_views, activity.sessions) == (2, 1, 1)


def test_identify_links_the_anonymous_history_to_the_user(workspace):
    source = make_source()
    send_and_process(source, [page("anon-1"), page("anon-1", path="/articles/2")])
    send_and_process(
        source,
        [
            message(
                "identify",
                anonymousId="anon-1",
                userId="u-100",
                traits={"name": "张三", "email": "zs@example.com"},
            )
        ],
    )
    contact = Contact.objects.get()
    assert contact.name == "张三"
    assert contact.email == "zs@example.com"
    assert _identities(contact) == {
        (IdentityType.ANONYMOUS, "anon-1"),
        (IdentityType.USER_ID, "u-100"),
        (IdentityType.EMAIL, "zs@example.com"),
    }
    assert Event.objects.filter(contact_id=contact.id).count() == 3
    # A later visit on another device, already logged in, joins the same contact.
    send_and_process(source, [page("anon-phone", userId="u-100")])
    assert Contact.objects.count() == 1
    assert (IdentityType.ANONYMOUS, "anon-phone") in _identities(contact)


def test_a_visitor_who_gives_a_known_phone_is_merged_into_that_contact(workspace):
    known = ContactFactory(name="李四", phone="+8613800138000")
    source = make_source()
    send_and_process(source, [page("anon-7"), page("anon-7", path="/pricing")])
    visitor_id = Contact.objects.exclude(id=known.id).get().id
    send_and_process(source, [message("identify", anonymousId="anon-7", traits={"phone": "13800138000"})])
    assert list(Contact.objects.values_list("id", flat=True)) == [known.id]
    assert Event.objects.filter(contact_id=known.id).count() == 3
    assert (IdentityType.ANONYMOUS, "anon-7") in _identities(known)
    merged = TimelineEntry.objects.get(contact=known, kind=TimelineKind.MERGED)
    assert merged.data["merged_id"] == str(visitor_id)
    assert merged.data["reason"] == "identity"
    assert ContactActivity.objects.get(contact_id=known.id).page_views == 2


def test_two_identified_contacts_are_never_merged_automatically(workspace):
    source = make_source()
    send_and_process(source, [page("anon-a", userId="alice"), page("anon-b", userId="bob")])
    alice = Identity.objects.get(value="alice").contact
    bob = Identity.objects.get(value="bob").contact
    # Bob's device reports Alice's user id: two known people meet in one event.
    send_and_process(source, [message(anonymousId="anon-b", userId="alice", messageId="clash")])
    assert Contact.objects.count() == 2
    assert Event.objects.get(message_id="clash").contact_id == alice.id
    assert _identities(bob) == {(IdentityType.ANONYMOUS, "anon-b"), (IdentityType.USER_ID, "bob")}
    warning = IngestWarning.objects.get(code=WarningCode.IDENTITY_CONFLICT)
    assert warning.message_id == "clash"


def test_a_new_user_on_a_shared_device_starts_a_new_contact(workspace):
    source = make_source()
    send_and_process(source, [page("family-ipad", userId="mum")])
    send_and_process(source, [page("family-ipad", userId="son", messageId="son-visit")])
    mum = Identity.objects.get(value="mum").contact
    son = Identity.objects.get(value="son").contact
    assert mum.id != son.id
    assert Event.objects.get(message_id="son-visit").contact_id == son.id
    assert (IdentityType.ANONYMOUS, "family-ipad") in _identities(mum)


def test_an_identity_trait_held_by_another_known_contact_is_not_applied(workspace):
    known = ContactFactory(name="王五", phone="+8613900139000")
    source = make_source()
    send_and_process(
        source, [message("identify", userId="u-9", anonymousId="anon-9", traits={"name": "小九"})]
    )
    send_and_process(
        source, [message("identify", userId="u-9", traits={"phone": "13900139000", "city": "上海"})]
    )
    nine = Identity.objects.get(value="u-9").contact
    assert nine.id != known.id
    assert (nine.phone, nine.city) == ("", "上海")
    assert IngestWarning.objects.filter(code=WarningCode.IDENTITY_CONFLICT).exists()


def test_alias_joins_the_previous_id_to_the_user(workspace):
    source = make_source()
    send_and_process(source, [page("anon-x")])
    send_and_process(source, [message("alias", previousId="anon-x", userId="member-1")])
    contact = Contact.objects.get()
    assert (IdentityType.USER_ID, "member-1") in _identities(contact)


def test_events_move_the_stage_forward_and_never_back(workspace):
    source = make_source()
    anon = "anon-s"
    send_and_process(source, [message(anonymousId=anon, event="Form Submitted")])
    assert Contact.objects.get().stage == Stage.ENGAGED
    send_and_process(
        source,
        [message(anonymousId=anon, event="Order Completed", properties={"order_id": "o1", "total": 199})],
    )
    contact = Contact.objects.get()
    assert contact.stage == Stage.CUSTOMER
    send_and_process(source, [message(anonymousId=anon, event="Subscribed")])
    assert Contact.objects.get().stage == Stage.CUSTOMER
    stages = list(contact.stage_changes.order_by("changed_at").values_list("to_stage", "reason"))
    assert stages == [
        (Stage.VISITOR, "tracking"),
        (Stage.ENGAGED, "event: Form Submitted"),
        (Stage.CUSTOMER, "event: Order Completed"),
    ]


def test_the_stage_mapping_is_per_workspace(workspace):
    TrackingSettings.objects.create(stage_rules={"Coupon Claimed": Stage.FOLLOWER})
    source = make_source()
    send_and_process(
        source,
        [message(anonymousId="a", event="Coupon Claimed"), message(anonymousId="b", event="Subscribed")],
    )
    stages = dict(Identity.objects.values_list("value", "contact__stage"))
    assert stages == {"a": Stage.FOLLOWER, "b": Stage.VISITOR}


def test_counters_add_sessions_dwell_content_orders_and_revenue(workspace):
    source = make_source()
    view = {"view_id": "v1", "title": "秋冬护肤指南"}
    send_and_process(
        source,
        [
            page("anon-c", timestamp=iso(ago(hours=3))),
            message(
                anonymousId="anon-c",
                event="Page Engaged",
                timestamp=iso(ago(hours=3)),
                properties={**view, "active_dwell_ms": 15000, "dwell_delta_ms": 15000, "scroll_depth": 40},
            ),
            message(
                anonymousId="anon-c",
                event="Page Left",
                timestamp=iso(ago(hours=3)),
                properties={**view, "active_dwell_ms": 21000, "dwell_delta_ms": 6000, "scroll_depth": 75},
            ),
            page("anon-c", path="/cart", timestamp=iso(ago(minutes=5))),
            message(
                anonymousId="anon-c",
                event="Order Completed",
                timestamp=iso(ago(minutes=4)),
                properties={"order_id": "o-1", "revenue": "299.50"},
            ),
            message(
                anonymousId="anon-c",
                event="Order Completed",
                timestamp=iso(ago(minutes=3)),
                properties={"order_id": "o-2", "total": 100},
            ),
        ],
    )
    activity = ContactActivity.objects.get()
    assert activity.sessions == 2
    assert activity.page_views == 2
    assert activity.events == 6
    assert activity.active_dwell_ms == 21000
    assert (activity.orders, activity.revenue) == (2, Decimal("399.50"))
    assert activity.last_page_url == "https://shop.example.com/cart"


def test_first_and_last_touch_channels_come_from_utm_referrer_and_code(workspace):
    ad = ChannelFactory(name="朋友圈广告", code="moments-ad", utm_sources=["wx_moments"])
    search = ChannelFactory(name="百度搜索", code="baidu", referrer_domains=["baidu.com"])
    article = ChannelFactory(name="公众号文章", code="gzh")
    source = make_source(channel=article)
    send_and_process(
        source,
        [
            page(
                "anon-t",
                timestamp=iso(ago(days=3)),
                context={"campaign": {"source": "wx_moments", "medium": "cpc"}},
            ),
            page(
                "anon-t",
                timestamp=iso(ago(days=2)),
                properties={"referrer": "https://www.baidu.com/s?wd=面霜"},
            ),
            page("anon-t", timestamp=iso(ago(days=1))),
        ],
    )
    contact = Contact.objects.get()
    activity = ContactActivity.objects.get()
    assert activity.first_touch_channel_id == ad.id
    assert activity.first_touch["campaign"] == {"source": "wx_moments", "medium": "cpc"}
    assert activity.last_touch_channel_id == search.id
    assert contact.channel_id == ad.id
    # Without any attribution in the visit, the source's channel is the first touch.
    send_and_process(source, [page("anon-plain")])
    plain = Identity.objects.get(value="anon-plain").contact
    assert plain.channel_id == article.id


def test_replaying_batches_changes_nothing(workspace):
    source = make_source()
    batch = [page("anon-r"), message(anonymousId="anon-r", event="Order Completed", properties={"total": 50})]
    send_and_process(source, batch)
    before = ContactActivity.objects.values("events", "orders", "revenue").get()
    send_and_process(source, batch)
    send_and_process(source, batch[1:])
    assert Event.objects.count() == 2
    assert ContactActivity.objects.values("events", "orders", "revenue").get() == before
    assert EventMinute.objects.get(type="page").count == 1


def test_a_failure_half_way_leaves_nothing_and_the_batch_is_redone(workspace, monkeypatch):
    source = make_source()
    send(source, [page("anon-f"), message(anonymousId="anon-f", event="Subscribed")])
    real = effects._stages_advance

    def explode(*args, **kwargs):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(effects, "_stages_advance", explode)
    monkeypatch.setattr("siyu.tracking.services.processing.time.sleep", lambda seconds: None)
    inbound_process()
    assert not Event.objects.exists()
    assert not Contact.objects.exists()
    pending = InboundBatch.objects.get()
    assert (pending.processed_at, pending.attempts) == (None, 1)
    assert "worker killed" in pending.last_error
    monkeypatch.setattr(effects, "_stages_advance", real)
    process_all()
    assert Event.objects.count() == 2
    assert Contact.objects.get().stage == Stage.FOLLOWER


def test_a_batch_that_keeps_failing_is_set_aside_with_a_warning(workspace, monkeypatch):
    source = make_source()
    send(source, [page("anon-p")])
    send(source, [page("anon-q")])
    monkeypatch.setattr("siyu.tracking.services.processing.time.sleep", lambda seconds: None)
    calls = {"n": 0}
    real = effects._minutes_count

    def fail_for_p(events):
        if any(e["anonymousId"] == "anon-p" for e in events):
            calls["n"] += 1
            raise ValueError("poison")
        real(events)

    monkeypatch.setattr(effects, "_minutes_count", fail_for_p)
    for _ in range(6):
        inbound_process()
    assert list(Event.objects.values_list("anonymous_id", flat=True)) == ["anon-q"]
    assert IngestWarning.objects.get().detail.startswith("a batch of 1 events could not be processed")
    assert not InboundBatch.objects.filter(processed_at__isnull=True).exists()


def test_reading_content_rings_the_owners_radar_and_updates_it(workspace, rep):
    owned = ContactFactory(name="张三", owner=rep)
    Identity.objects.create(contact=owned, type=IdentityType.USER_ID, value="zhang")
    article = Content.objects.create(title="秋冬护肤指南", body="<p>…</p>")
    source = make_source()
    view = {"view_id": "view-1", "content_id": str(article.id)}
    send_and_process(source, [page("anon-z", userId="zhang", properties=view)])
    alert = Notification.objects.get(member=rep)
    assert alert.key == "view:view-1"
    assert alert.data["contact_name"] == "张三"
    assert alert.data["title"] == "秋冬护肤指南"
    assert alert.data["state"] == "reading"
    first_version = alert.version
    send_and_process(
        source,
        [
            message(
                userId="zhang",
                event="Page Engaged",
                properties={**view, "active_dwell_ms": 130000, "dwell_delta_ms": 15000, "scroll_depth": 60},
            )
        ],
    )
    alert.refresh_from_db()
    assert (alert.data["dwell_ms"], alert.data["depth"]) == (130000, 60)
    assert alert.version > first_version
    assert Notification.objects.count() == 1
    viewer = ContentViewer.objects.get()
    assert (viewer.contact_id, viewer.views, viewer.active_dwell_ms, viewer.max_read_depth) == (
        owned.id,
        1,
        15000,
        60,
    )


def test_an_unowned_reader_rings_the_sharers_radar(workspace, rep):
    article = Content.objects.create(title="新品上市", body="")
    link = ShareLink.objects.create(content=article, member=rep, token="tok123")
    source = make_source()
    send_and_process(
        source, [page("anon-s", properties={"content_id": str(article.id), "share_token": "tok123"})]
    )
    assert Notification.objects.get().member_id == rep.id
    assert ContentViewer.objects.get().sharer_id == rep.id
    assert link.id


def test_old_events_do_not_ring_the_radar(workspace, rep):
    ContactFactory(owner=rep)
    source = make_source()
    send_and_process(source, [page("anon-o", path="/pricing", timestamp=iso(ago(days=2)))])
    assert not Notification.objects.exists()


def test_merging_and_deleting_contacts_carries_their_events(workspace, admin_actor):
    source = make_source()
    send_and_process(
        source,
        [
            page("anon-m1", userId="m1", properties={"scroll_depth": 40, "tab": "价格"}),
            page("anon-m2", userId="m2", properties={"scroll_depth": 90, "tab": "案例"}),
        ],
    )
    first = Identity.objects.get(value="m1").contact
    second = Identity.objects.get(value="m2").contact
    contact_merge(actor=admin_actor, survivor=first, other=second)
    assert set(Event.objects.values_list("contact_id", flat=True)) == {first.id}
    assert set(EventNumber.objects.values_list("contact_id", flat=True)) == {first.id}
    assert set(EventText.objects.values_list("contact_id", flat=True)) == {first.id}
    assert ContactActivity.objects.get().page_views == 2
    contact_delete(actor=admin_actor, contact=first)
    assert not Event.objects.exists()
    assert not EventContext.objects.exists()
    assert not EventNumber.objects.exists()
    assert not EventText.objects.exists()
    assert not ContactActivity.objects.exists()


def test_an_events_context_is_stored_beside_it_and_only_when_there_is_one(workspace, other_workspace):
    source = make_source()
    send_and_process(
        source, [page("anon-ctx", path="/pricing", title="价格页", context={"campaign": {"source": "wx"}})]
    )
    # A server-side sender with no address, user agent or context of its own.
    events_accept(
        source=source,
        messages=[message(anonymousId="anon-ctx", messageId="bare")],
        received=Received(at=ago()),
    )
    process_all()
    viewed = Event.objects.select_related("details").get(type="page")
    assert viewed.context["page"]["path"] == "/pricing"
    assert viewed.context["campaign"] == {"source": "wx"}
    assert EventContext.objects.get().event_id == viewed.id
    assert Event.objects.get(message_id="bare").context == {}
    with workspace_scope(other_workspace.id):
        assert not EventContext.objects.exists()


def test_an_events_numeric_properties_are_kept_beside_it_as_rules_read_them(workspace, other_workspace):
    long_key = "k" * 65
    properties = {
        "dwell_seconds": 42,
        "price": 19.9,
        "negative": -3,
        "paid": True,
        "count_text": "7",
        "nested": {"inner": 1},
        "listed": [1, 2],
        "nothing": None,
        long_key: 5,
    }
    send_and_process(
        make_source(), [message(anonymousId="anon-num", event="Article Read", properties=properties)]
    )
    event = Event.objects.get()
    numbers = EventNumber.objects.all()
    assert {n.key: n.value for n in numbers} == {"dwell_seconds": 42.0, "price": 19.9, "negative": -3.0}
    assert {(n.event_id, n.contact_id, n.type, n.name, n.timestamp) for n in numbers} == {
        (event.id, event.contact_id, "track", "Article Read", event.timestamp)
    }
    with workspace_scope(other_workspace.id):
        assert not EventNumber.objects.exists()


def test_an_events_short_texts_are_kept_beside_it_as_rules_compare_them(workspace, other_workspace):
    properties = {
        "category": "护肤",
        "empty": "",
        "longest": "长" * 64,
        "too_long": "长" * 65,
        "number": 7,
        "flag": True,
        "listed": ["护肤"],
        "nested": {"category": "护肤"},
        "nothing": None,
        "k" * 65: "护肤",
    }
    send_and_process(
        make_source(), [message(anonymousId="anon-text", event="Product Viewed", properties=properties)]
    )
    event = Event.objects.get()
    texts = EventText.objects.all()
    assert {t.key: t.value for t in texts} == {"category": "护肤", "longest": "长" * 64}
    assert {(t.event_id, t.contact_id, t.type, t.name, t.timestamp) for t in texts} == {
        (event.id, event.contact_id, "track", "Product Viewed", event.timestamp)
    }
    with workspace_scope(other_workspace.id):
        assert not EventText.objects.exists()


def test_a_context_without_its_event_is_refused(workspace):
    send_and_process(make_source(), [page("anon-fk")])
    event = Event.objects.get()
    EventContext.objects.all().delete()
    with transaction.atomic():
        EventContext.objects.create(event_id=uuid7(), context={"page": {}})
        with pytest.raises(IntegrityError):  # as the commit would
            connection.check_constraints(table_names=[EventContext._meta.db_table])
        transaction.set_rollback(True)
    EventContext.objects.create(event=event, context={"page": {"path": "/again"}})
    assert Event.objects.select_related("details").get().context == {"page": {"path": "/again"}}


def test_another_workspaces_processor_output_stays_there(workspace, other_workspace):
    source = make_source()
    send_and_process(source, [page("anon-w", userId="same-user")])
    with workspace_scope(other_workspace.id):
        assert not Contact.objects.exists()
        assert not Event.objects.exists()
        assert not ContactActivity.objects.exists()
        other = make_source(name="他")
        send_and_process(other, [page("anon-w", userId="same-user")])
        assert Contact.objects.count() == 1
    assert Contact.objects.count() == 1


def test_a_page_views_engagement_reports_read_as_one_line(workspace):
    from siyu.tracking.selectors.radar import contact_events, recent_events

    source = make_source()
    view = {"view_id": "v-9", "title": "秋冬护肤指南"}
    reports = [
        message(
            anonymousId="anon-e",
            event=name,
            timestamp=iso(ago(seconds=60 - step * 15)),
            properties={
                **view,
                "active_dwell_ms": step * 15000,
                "dwell_delta_ms": 15000,
                "scroll_depth": step * 20,
            },
        )
        for step, name in ((1, "Page Engaged"), (2, "Page Engaged"), (3, "Page Left"))
    ]
    send_and_process(source, [page("anon-e", timestamp=iso(ago(seconds=61)), properties=view), *reports])
    contact = Contact.objects.get()
    lines = contact_events(contact_id=contact.id).items
    assert [(e.type, e.name, e.properties.get("active_dwell_ms")) for e in lines] == [
        ("track", "Page Left", 45000),
        ("page", "秋冬护肤指南", None),
    ]
    assert len(recent_events()) == 2


def _retained(contact_id) -> tuple[bool, bool, bool]:
    return Contact.objects.values_list("retained_30", "retained_60", "retained_90").get(id=contact_id)


def test_activity_after_acquisition_sets_the_retention_flags(workspace, other_workspace):
    source = make_source()
    send_and_process(source, [page("anon-r", userId="r1")])
    contact_id = Identity.objects.get(value="r1").contact_id
    Contact.objects.filter(id=contact_id).update(created_at=ago(days=50))
    assert _retained(contact_id) == (False, False, False)
    # Day 0.5 after acquisition counts for no window; day 10 for the 30-day one; day 45 for the 60-day one.
    send_and_process(source, [message(userId="r1", timestamp=iso(ago(days=49.5)))])
    assert _retained(contact_id) == (False, False, False)
    send_and_process(
        source,
        [message(userId="r1", timestamp=iso(ago(days=40))), message(userId="r1", timestamp=iso(ago(days=5)))],
    )
    assert _retained(contact_id) == (True, True, False)
    with workspace_scope(other_workspace.id):
        assert not Contact.objects.filter(retained_30=True).exists()


def test_a_merge_works_the_flags_out_again_from_the_combined_history(workspace, admin_actor):
    source = make_source()
    send_and_process(source, [page("anon-s", userId="s1"), page("anon-t", userId="t1")])
    older = Identity.objects.get(value="s1").contact
    Contact.objects.filter(id=older.id).update(created_at=ago(days=100))
    older.refresh_from_db()
    # Activity 85 days ago: before the newer contact existed, but day 15 of the older one's life.
    send_and_process(source, [message(userId="t1", timestamp=iso(ago(days=85)))])
    newer = Identity.objects.get(value="t1").contact
    assert _retained(newer.id) == (False, False, False)
    contact_merge(actor=admin_actor, survivor=newer, other=older)
    assert _retained(newer.id) == (True, False, False)
