"""The radar: readable sentences, alert selectors and marking read, the radar, live and activity pages."""

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import translation

from siyu.contacts.models import Contact
from siyu.core.tenancy import workspace_scope
from siyu.core.time import now
from siyu.tenancy.actor import Actor
from siyu.tenancy.models import Member, Workspace
from siyu.tenancy.roles import Role
from siyu.tracking.context_processors import radar as radar_context
from siyu.tracking.describe import describe, describe_alert, duration_text, money_text
from siyu.tracking.models import Notification, NotificationKind, Source
from siyu.tracking.selectors.radar import (
    contact_events,
    contact_events_after,
    contact_events_cursor,
    events_per_minute,
    notification_badge,
    notification_list,
    notification_unread_count,
    notifications_after,
    recent_events,
)
from siyu.tracking.services.radar import ALL, notification_mark_read
from tests.factories import ContactFactory, MemberFactory
from tests.tracking.radar_rows import (
    radar_activity,
    radar_alert,
    radar_event,
    radar_minute,
    radar_source,
)

ZH = "zh-hans"
EN = "en"


def say(language: str, **event: Any) -> str:
    with translation.override(language):
        return describe(**event)


def alert_text(language: str, kind: str = NotificationKind.CONTENT_VIEW, **data: Any) -> str:
    with translation.override(language):
        return describe_alert(kind=kind, data={"contact_name": "张三", **data})


@pytest.fixture
def source(workspace: Workspace) -> Source:
    return radar_source("官网")


@pytest.fixture
def customer(rep: Member) -> Contact:
    return ContactFactory(name="张三", owner=rep)


@pytest.fixture
def foreign(other_workspace: Workspace) -> tuple[Contact, Notification]:
    """Another workspace's contact with an event and an alert for its member."""
    with workspace_scope(other_workspace.id):
        member = MemberFactory(role=Role.ADMIN, display_name="外人")
        contact = ContactFactory(name="外人甲", owner=member)
        radar_event(
            source=radar_source("外站"), contact_id=contact.id, type="page", properties={"title": "外"}
        )
        alert = radar_alert(member=member, contact_id=contact.id, version=10**15)
        return contact, alert


# ------------------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("milliseconds", "english", "chinese"),
    [
        (130_000, "2 min 10 s", "2 分 10 秒"),
        (130_999, "2 min 10 s", "2 分 10 秒"),
        (45_000, "45 s", "45 秒"),
        (120_000, "2 min", "2 分钟"),
        (3_900_000, "1 h 5 min", "1 小时 5 分"),
        (0, "0 s", "0 秒"),
        (None, "0 s", "0 秒"),
        (-5, "0 s", "0 秒"),
    ],
)
def test_durations_read_in_minutes_and_seconds(milliseconds: int | None, english: str, chinese: str) -> None:
    with translation.override(EN):
        assert duration_text(milliseconds) == english
    with translation.override(ZH):
        assert duration_text(milliseconds) == chinese


def test_money_is_shown_in_yuan_with_two_decimals_unless_another_currency() -> None:
    assert money_text(199) == "¥199.00"
    assert money_text("1234.5", "CNY") == "¥1,234.50"
    assert money_text(20, "usd") == "USD 20.00"
    assert money_text("not a number") == ""


# ------------------------------------------------------------------------------------- sentences

PAGE = {"path": "/articles/1", "url": "https://shop.example.com/articles/1", "title": "秋冬护肤指南"}


@pytest.mark.parametrize(
    ("event", "english", "chinese"),
    [
        ({"event_type": "page", "properties": PAGE}, "Viewed “秋冬护肤指南”", "浏览了《秋冬护肤指南》"),
        (
            {
                "event_type": "page",
                "properties": {},
                "context": {"page": {"title": "价格页", "path": "/pricing"}},
            },
            "Viewed “价格页”",
            "浏览了《价格页》",
        ),
        (
            {"event_type": "page", "properties": {"path": "/pricing"}},
            "Viewed /pricing",
            "浏览了 /pricing",
        ),
        (
            {"event_type": "page", "properties": {**PAGE, "content_id": "c1", "share_token": "t1"}},
            "Opened the shared “秋冬护肤指南”",
            "打开了分享的《秋冬护肤指南》",
        ),
        (
            {
                "event_type": "track",
                "name": "Page Engaged",
                "properties": {**PAGE, "active_dwell_ms": 130_000, "scroll_depth": 80},
            },
            "Read “秋冬护肤指南” for 2 min 10 s, up to 80%",
            "阅读《秋冬护肤指南》 2 分 10 秒，读到 80%",
        ),
        (
            {"event_type": "track", "name": "Page Left", "properties": {**PAGE, "active_dwell_ms": 45_000}},
            "Read “秋冬护肤指南” for 45 s",
            "阅读《秋冬护肤指南》 45 秒",
        ),
        (
            {"event_type": "track", "name": "Order Completed", "properties": {"total": 199, "revenue": 180}},
            "Placed an order of ¥199.00",
            "下单 ¥199.00",
        ),
        (
            {"event_type": "track", "name": "Order Completed", "properties": {"revenue": "88.8"}},
            "Placed an order of ¥88.80",
            "下单 ¥88.80",
        ),
        ({"event_type": "track", "name": "Order Completed"}, "Placed an order", "下单"),
        (
            {"event_type": "identify", "properties": {"phone": "+8613800000000"}},
            "Left their contact details (phone number)",
            "留下了身份信息（手机号）",
        ),
        (
            {"event_type": "identify", "properties": {"email": "a@b.cn", "phone": "138"}},
            "Left their contact details (phone number, email)",
            "留下了身份信息（手机号、邮箱）",
        ),
        (
            {"event_type": "identify", "properties": {}, "user_id": "u-1"},
            "Left their contact details (user ID)",
            "留下了身份信息（用户 ID）",
        ),
        ({"event_type": "identify"}, "Was identified", "被识别为已知客户"),
        ({"event_type": "track", "name": "Signed Up"}, "Signed up", "注册了账号"),
        (
            {"event_type": "track", "name": "Form Submitted", "properties": {"form_name": "试用申请"}},
            "Submitted the form “试用申请”",
            "提交了表单《试用申请》",
        ),
        ({"event_type": "track", "name": "Form Submitted"}, "Submitted a form", "提交了表单"),
        ({"event_type": "track", "name": "Subscribed"}, "Subscribed", "完成了订阅"),
        (
            {"event_type": "track", "name": "WeCom Friend Added"},
            "Added as a WeCom friend",
            "添加了企业微信好友",
        ),
        ({"event_type": "track", "name": "Member Joined"}, "Joined the membership", "成为了会员"),
        (
            {"event_type": "track", "name": "Product Viewed"},
            "Triggered the event Product Viewed",
            "触发事件 Product Viewed",
        ),
    ],
)
def test_events_read_as_sentences_in_both_languages(
    event: dict[str, Any], english: str, chinese: str
) -> None:
    assert say(EN, **event) == english
    assert say(ZH, **event) == chinese


@pytest.mark.parametrize(
    ("kind", "data", "english", "chinese"),
    [
        (
            NotificationKind.CONTENT_VIEW,
            {"title": "秋冬护肤指南", "dwell_ms": 130_000, "state": "reading"},
            "张三 is reading “秋冬护肤指南”, 2 min 10 s so far",
            "张三 正在阅读《秋冬护肤指南》，已停留 2 分 10 秒",
        ),
        (
            NotificationKind.CONTENT_VIEW,
            {"title": "秋冬护肤指南", "dwell_ms": 0, "state": "reading"},
            "张三 opened “秋冬护肤指南”",
            "张三 打开了《秋冬护肤指南》",
        ),
        (
            NotificationKind.CONTENT_VIEW,
            {"title": "秋冬护肤指南", "dwell_ms": 130_000, "depth": 90, "state": "left"},
            "张三 finished reading “秋冬护肤指南”: 2 min 10 s, up to 90%",
            "张三 读完了《秋冬护肤指南》，停留 2 分 10 秒，读到 90%",
        ),
        (
            NotificationKind.CONTENT_VIEW,
            {"title": "秋冬护肤指南", "dwell_ms": 30_000, "state": "left"},
            "张三 finished reading “秋冬护肤指南”: 30 s",
            "张三 读完了《秋冬护肤指南》，停留 30 秒",
        ),
        (
            NotificationKind.KEY_PAGE,
            {"title": "价格页", "path": "/pricing", "dwell_ms": 70_000, "state": "reading"},
            "张三 is viewing 价格页, 1 min 10 s so far",
            "张三 正在浏览 价格页，已停留 1 分 10 秒",
        ),
        (
            NotificationKind.KEY_PAGE,
            {"title": "", "path": "/pricing", "dwell_ms": 0, "state": "reading"},
            "张三 is viewing /pricing",
            "张三 正在浏览 /pricing",
        ),
        (
            NotificationKind.KEY_PAGE,
            {"title": "价格页", "dwell_ms": 70_000, "state": "left"},
            "张三 viewed 价格页 for 1 min 10 s",
            "张三 浏览了 价格页，停留 1 分 10 秒",
        ),
    ],
)
def test_radar_alerts_read_as_sentences(kind: str, data: dict[str, Any], english: str, chinese: str) -> None:
    assert alert_text(EN, kind, **data) == english
    assert alert_text(ZH, kind, **data) == chinese


def test_an_alert_without_a_name_speaks_of_a_visitor() -> None:
    with translation.override(ZH):
        text = describe_alert(kind=NotificationKind.CONTENT_VIEW, data={"title": "指南", "dwell_ms": 5000})
    assert text == "一位访客 正在阅读《指南》，已停留 5 秒"


# ------------------------------------------------------------------------------ alert selectors


def test_a_member_lists_only_their_own_alerts_newest_change_first(
    rep: Member, rep_actor: Actor, make_member: Callable[..., Member], customer: Contact, foreign: Any
) -> None:
    colleague = make_member(Role.SALES)
    first = radar_alert(member=rep, contact_id=customer.id, version=100)
    second = radar_alert(member=rep, contact_id=customer.id, version=300, read=True)
    third = radar_alert(member=rep, contact_id=customer.id, version=200)
    radar_alert(member=colleague, contact_id=customer.id, version=400)

    assert [n.id for n in notification_list(actor=rep_actor)] == [second.id, third.id, first.id]
    assert [n.id for n in notification_list(actor=rep_actor, unread_only=True)] == [third.id, first.id]
    assert [n.id for n in notification_list(actor=rep_actor, limit=1)] == [second.id]
    assert notification_unread_count(actor=rep_actor) == 2
    assert [n.id for n in notifications_after(actor=rep_actor, version=100)] == [third.id, second.id]
    assert notifications_after(actor=rep_actor, version=300) == []
    badge = notification_badge(actor=rep_actor)
    assert (badge.unread, badge.version) == (2, 300)


def test_an_actor_without_a_member_has_no_alerts(rep: Member, rep_actor: Actor, customer: Contact) -> None:
    radar_alert(member=rep, contact_id=customer.id, version=1)
    keyless = Actor(
        workspace_id=rep_actor.workspace_id, permissions=rep_actor.permissions, scope=rep_actor.scope
    )
    assert notification_list(actor=keyless) == []
    assert notification_unread_count(actor=keyless) == 0
    assert notification_mark_read(actor=keyless, notification_ids=ALL) == 0


def test_marking_read_touches_only_the_members_own_alerts(
    rep: Member, rep_actor: Actor, make_member: Callable[..., Member], customer: Contact, foreign: Any
) -> None:
    colleague = make_member(Role.SALES)
    mine = [radar_alert(member=rep, contact_id=customer.id, version=v) for v in (1, 2, 3)]
    theirs = radar_alert(member=colleague, contact_id=customer.id, version=4)
    _contact, foreign_alert = foreign

    changed = notification_mark_read(
        actor=rep_actor, notification_ids=[mine[0].id, str(theirs.id), foreign_alert.id, "not-an-id"]
    )
    assert changed == 1
    assert notification_unread_count(actor=rep_actor) == 2
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert Notification.all_workspaces.get(id=foreign_alert.id).read_at is None

    assert notification_mark_read(actor=rep_actor, notification_ids=ALL) == 2
    assert notification_unread_count(actor=rep_actor) == 0
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert notification_mark_read(actor=rep_actor, notification_ids=[]) == 0


# ------------------------------------------------------------------------------ event selectors


def test_contact_events_page_by_timestamp_then_id_without_gaps_or_repeats(
    source: Source, customer: Contact
) -> None:
    moment = now().replace(microsecond=0)
    same = moment - timedelta(minutes=5)
    made = [
        radar_event(
            source=source, contact_id=customer.id, type="page", timestamp=moment - timedelta(minutes=m)
        )
        for m in (1, 9, 3)
    ] + [radar_event(source=source, contact_id=customer.id, type="page", timestamp=same) for _ in range(4)]
    radar_event(source=source, contact_id=ContactFactory().id, type="page", timestamp=moment)
    expected = [e.id for e in sorted(made, key=lambda e: (e.timestamp, e.id), reverse=True)]

    seen: list[Any] = []
    cursor = None
    while True:
        page = contact_events(contact_id=customer.id, before=cursor, limit=2)
        seen += [e.id for e in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == expected


def test_contact_events_after_follow_arrival_order(source: Source, customer: Contact) -> None:
    start = contact_events_cursor(contact_id=customer.id)
    base = now()
    early = radar_event(source=source, contact_id=customer.id, received_at=base)
    late = radar_event(source=source, contact_id=customer.id, received_at=base + timedelta(seconds=1))
    radar_event(source=source, contact_id=ContactFactory().id, received_at=base)

    events, cursor = contact_events_after(contact_id=customer.id, cursor=start)
    assert [e.id for e in events] == [early.id, late.id]
    assert contact_events_after(contact_id=customer.id, cursor=cursor) == ([], cursor)
    assert cursor == contact_events_cursor(contact_id=customer.id)


def test_events_per_minute_counts_the_last_hour_by_source_and_type(source: Source) -> None:
    shop = radar_source("小程序")
    radar_minute(source=source, minutes_ago=0, type="page", count=5)
    radar_minute(source=source, minutes_ago=0, type="track", count=2)
    radar_minute(source=source, minutes_ago=59, type="page", count=1)
    radar_minute(source=shop, minutes_ago=3, type="track", count=7)
    radar_minute(source=shop, minutes_ago=60, type="track", count=100)  # an hour ago: outside

    series = events_per_minute(minutes=60)
    assert len(series.minutes) == 60
    assert series.minutes[-1] == now().replace(second=0, microsecond=0)
    by_source = {line.label: line.counts for line in series.by_source}
    assert by_source["官网"][-1] == 7
    assert by_source["官网"][0] == 1
    assert by_source["小程序"][-4] == 7
    assert sum(by_source["小程序"]) == 7
    assert {line.key: line.total for line in series.by_type} == {"page": 6, "track": 9}
    assert series.total == 15
    assert [line.label for line in series.by_source] == ["官网", "小程序"]  # busiest first, then name

    only_shop = events_per_minute(minutes=60, source=shop.id)
    assert [line.label for line in only_shop.by_source] == ["小程序"]
    assert only_shop.total == 7


def test_recent_events_are_the_latest_arrivals(source: Source, customer: Contact) -> None:
    base = now()
    older = radar_event(source=source, contact_id=customer.id, received_at=base - timedelta(seconds=5))
    newer = radar_event(source=source, contact_id=None, received_at=base)
    assert [e.id for e in recent_events(limit=10)] == [newer.id, older.id]
    assert [e.id for e in recent_events(limit=1)] == [newer.id]


def test_another_workspace_sees_none_of_it(
    other_workspace: Workspace, rep: Member, customer: Contact, source: Source
) -> None:
    radar_event(source=source, contact_id=customer.id)
    radar_minute(source=source, minutes_ago=0, type="track", count=3)
    with workspace_scope(other_workspace.id):
        assert recent_events() == []
        assert events_per_minute().total == 0
        assert contact_events(contact_id=customer.id).items == []


# ----------------------------------------------------------------------------------------- pages


def login(client: Client, member: Member, language: str = ZH) -> Client:
    client.force_login(member.user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


def test_the_radar_page_lists_the_members_alerts_linked_to_contacts(
    client: Client, rep: Member, make_member: Callable[..., Member], customer: Contact, foreign: Any
) -> None:
    colleague = make_member(Role.SALES)
    radar_alert(member=rep, contact_id=customer.id, version=1, title="秋冬护肤指南")
    radar_alert(member=colleague, contact_id=customer.id, version=2, title="同事的提醒")
    response = login(client, rep).get(reverse("radar:notifications"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "张三 正在阅读《秋冬护肤指南》，已停留 2 分 10 秒" in page
    assert "同事的提醒" not in page
    assert "外人甲" not in page
    assert reverse("contacts:detail", kwargs={"contact_id": customer.id}) in page
    assert 'data-radar-stream="/radar/stream/' in page  # the layout opens the alert stream


def test_an_alert_never_links_a_page_url_that_is_not_http(
    client: Client, rep: Member, customer: Contact
) -> None:
    radar_alert(member=rep, contact_id=customer.id, version=1, url="javascript:alert(1)")
    page = login(client, rep).get(reverse("radar:notifications")).content.decode()
    assert "javascript:" not in page


def test_mark_all_read_from_the_radar_page(client: Client, rep: Member, customer: Contact) -> None:
    radar_alert(member=rep, contact_id=customer.id, version=1)
    radar_alert(member=rep, contact_id=customer.id, version=2)
    client = login(client, rep)
    response = client.post(reverse("radar:mark_read"), {"all": "1"})
    assert response.status_code == 302
    assert Notification.objects.filter(read_at__isnull=True).count() == 0


def test_mark_one_read_through_htmx_answers_the_list_and_the_new_count(
    client: Client, rep: Member, customer: Contact
) -> None:
    first = radar_alert(member=rep, contact_id=customer.id, version=1)
    radar_alert(member=rep, contact_id=customer.id, version=2)
    response = login(client, rep).post(
        reverse("radar:mark_read"), {"id": str(first.id)}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert json.loads(response.headers["HX-Trigger"]) == {"siyu:radar-unread": {"unread": 1}}
    assert 'id="radar-alerts"' in response.content.decode()
    first.refresh_from_db()
    assert first.read_at is not None


def test_the_radar_needs_a_login(client: Client, workspace: Workspace) -> None:
    assert client.get(reverse("radar:notifications")).status_code == 302
    assert client.post(reverse("radar:mark_read"), {"all": "1"}).status_code == 302


def test_the_bell_shows_the_unread_count_once_the_context_processor_is_on(
    client: Client, rep: Member, customer: Contact
) -> None:
    radar_alert(member=rep, contact_id=customer.id, version=7)
    radar_alert(member=rep, contact_id=customer.id, version=9)
    radar_alert(member=rep, contact_id=customer.id, version=8, read=True)
    engine: dict[str, Any] = dict(settings.TEMPLATES[0])
    options: dict[str, Any] = dict(engine["OPTIONS"])
    processors = list(options["context_processors"])
    if "siyu.tracking.context_processors.radar" not in processors:
        processors.append("siyu.tracking.context_processors.radar")
    engine["OPTIONS"] = {**options, "context_processors": processors}
    with override_settings(TEMPLATES=[engine]):
        page = login(client, rep).get(reverse("radar:notifications")).content.decode()
    assert 'data-radar-stream="/radar/stream/?after=9"' in page
    assert "data-radar-unread>2</span>" in page


def test_the_context_processor_is_empty_for_visitors(rf: Any, workspace: Workspace) -> None:
    request = rf.get("/")
    request.actor = None
    assert radar_context(request) == {}


def test_the_live_view_needs_the_events_permission(
    client: Client, rep: Member, make_member: Callable[..., Member]
) -> None:
    assert login(client, rep).get(reverse("radar:live")).status_code == 403
    assert client.get(reverse("radar:live_data")).status_code == 403


def test_the_live_view_shows_readable_events_and_names_only_contacts_in_scope(
    client: Client,
    rep: Member,
    make_member: Callable[..., Member],
    customer: Contact,
    source: Source,
    foreign: Any,
) -> None:
    manager = make_member(Role.MANAGER)  # team scope: sees pool contacts, not a rep of another team's
    pool_contact = ContactFactory(name="公海客户")
    radar_event(source=source, contact_id=pool_contact.id, type="page", properties=PAGE)
    radar_event(source=source, contact_id=customer.id, name="Order Completed", properties={"total": 199})
    radar_minute(source=source, minutes_ago=0, type="page", count=1)
    radar_minute(source=source, minutes_ago=0, type="track", count=1)
    client = login(client, manager)

    page = client.get(reverse("radar:live")).content.decode()
    assert "浏览了《秋冬护肤指南》" in page
    assert "下单 ¥199.00" in page
    assert "公海客户" in page
    assert "张三" not in page  # the rep's contact is outside a manager's team
    assert "外人甲" not in page

    data = client.get(reverse("radar:live_data")).json()
    assert data["total"] == 2
    assert [line["label"] for line in data["sources"]] == ["官网"]
    assert data["sources"][0]["counts"][-1] == 2
    assert {line["key"]: line["total"] for line in data["types"]} == {"page": 1, "track": 1}
    assert len(data["minutes"]) == 60
    assert "下单 ¥199.00" in data["events_html"]


def test_contact_activity_shows_counters_and_a_day_grouped_timeline_with_more(
    client: Client, rep: Member, customer: Contact, source: Source
) -> None:
    radar_activity(
        contact_id=customer.id,
        sessions=3,
        page_views=12,
        active_dwell_ms=130_000,
        orders=1,
        revenue="199.00",
        last_seen_at=now(),
        first_touch={"channel": "", "campaign": {"source": "wechat", "medium": "article"}, "referrer": ""},
    )
    moment = now()
    for minutes in range(55):
        radar_event(
            source=source,
            contact_id=customer.id,
            type="page",
            properties={"title": f"文章{minutes}"},
            timestamp=moment - timedelta(minutes=minutes),
        )
    radar_event(
        source=source,
        contact_id=customer.id,
        name="Order Completed",
        properties={"total": 199},
        timestamp=moment - timedelta(days=3),
    )
    client = login(client, rep)
    url = reverse("radar:contact_activity", kwargs={"contact_id": customer.id})
    page = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "浏览了《文章0》" in page
    assert "浏览了《文章49》" in page
    assert "文章50" not in page
    for figure in ("12", "2 分 10 秒", "¥199.00", "wechat / article"):
        assert figure in page
    assert "今天" in page
    assert f"/radar/contacts/{customer.id}/stream/?after=" in page

    more = client.get(url, {"before": _next_cursor(page), "day": now().date().isoformat()}).content.decode()
    assert "浏览了《文章50》" in more
    assert "浏览了《文章54》" in more
    assert "下单 ¥199.00" in more
    assert "文章49" not in more
    assert "Load more" not in more
    assert "加载更多" not in more


def _next_cursor(page: str) -> str:
    marker = "?before="
    start = page.index(marker) + len(marker)
    end = page.index("&amp;", start)
    from urllib.parse import unquote

    return unquote(page[start:end])


def test_contact_activity_for_another_workspace_or_out_of_scope_is_404(
    client: Client, rep: Member, make_member: Callable[..., Member], foreign: Any
) -> None:
    other_rep = make_member(Role.SALES)
    theirs = ContactFactory(name="别人的客户", owner=other_rep)
    foreign_contact, _alert = foreign
    client = login(client, rep)
    for contact_id in (foreign_contact.id, theirs.id):
        assert (
            client.get(reverse("radar:contact_activity", kwargs={"contact_id": contact_id})).status_code
            == 404
        )
        assert (
            client.get(reverse("radar:contact_stream", kwargs={"contact_id": contact_id})).status_code == 404
        )


def test_the_contact_page_loads_the_activity_card(client: Client, rep: Member, customer: Contact) -> None:
    page = (
        login(client, rep)
        .get(reverse("contacts:detail", kwargs={"contact_id": customer.id}))
        .content.decode()
    )
    assert f'hx-get="/radar/contacts/{customer.id}/activity/"' in page
    assert 'hx-trigger="load"' in page


def test_the_alert_stream_refuses_visitors(client: Client, workspace: Workspace) -> None:
    response = client.get(reverse("radar:stream"))
    assert response.status_code == 403


def test_the_activity_of_a_merged_away_contact_follows_the_survivor(
    client: Client, admin: Member, admin_actor: Actor, source: Source
) -> None:
    from siyu.contacts.services import contact_merge

    survivor = ContactFactory(name="李四")
    merged = ContactFactory(name="李四（访客）")
    merged_id = merged.id
    radar_event(source=source, contact_id=merged_id, type="page", properties={"title": "被合并的浏览"})
    contact_merge(actor=admin_actor, survivor=survivor, other=merged)
    page = login(client, admin).get(reverse("radar:contact_activity", kwargs={"contact_id": merged_id}))
    assert page.status_code == 200
    assert "浏览了《被合并的浏览》" in page.content.decode()
