from collections import Counter
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from siyu.contacts.models import (
    STAGE_ORDER,
    Channel,
    Contact,
    ContactTag,
    CustomField,
    FollowUp,
    Identity,
    Stage,
    StageChange,
    TagGroup,
    TimelineEntry,
    TimelineKind,
)
from siyu.contacts.selectors import contact_scoped, follow_ups_due
from siyu.core.tenancy import workspace_scope
from siyu.core.time import now, today
from siyu.tenancy.models import Member, Team, Workspace
from siyu.tenancy.selectors import actor_for_member
from siyu.tracking.models import (
    ContactActivity,
    ContentViewer,
    Event,
    InboundBatch,
    IngestWarning,
    Notification,
    OrderImportJob,
    Purchase,
    Source,
    SourceKind,
)
from siyu.tracking.selectors.purchases import purchase_counts_by_contact
from siyu.web.demo import DEMO_PASSWORD, DEMO_SLUG
from siyu.web.demo_tracking import (
    ANONYMOUS_VISITORS,
    HISTORY_DAYS,
    HISTORY_FILE,
    LIVE_READERS_PER_REP,
    TRACKED_IN_EXPORT,
    VISITED_CONTACTS,
)

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def _census(workspace: Workspace) -> dict[str, Any]:
    with workspace_scope(workspace.id):
        return {
            "members": sorted(Member.objects.values_list("user__username", "role", "team__name")),
            "teams": sorted(Team.objects.values_list("name", "parent__name")),
            "channels": sorted(Channel.objects.values_list("name", "kind")),
            "tag_groups": sorted(
                (g.name, g.is_exclusive, sorted(t.name for t in g.tags.all()))
                for g in TagGroup.objects.prefetch_related("tags")
            ),
            "custom_fields": sorted(CustomField.objects.values_list("key", "label", "type")),
            "contacts": Contact.objects.count(),
            "identities": Identity.objects.count(),
            "contact_tags": ContactTag.objects.count(),
            "stage_changes": StageChange.objects.count(),
            "timeline": TimelineEntry.objects.count(),
            "follow_ups": FollowUp.objects.count(),
            "purchases": sorted(Purchase.objects.values_list("order_no", "amount", "origin")),
            "phones": sorted(Contact.objects.values_list("phone", flat=True)),
            "names": sorted(Contact.objects.values_list("name", flat=True)),
        }


def test_demo_loads_a_believable_workspace_and_a_second_run_duplicates_nothing(
    db: None, other_workspace: Workspace
) -> None:
    out = StringIO()
    call_command("demo", stdout=out)

    workspace = Workspace.objects.get(slug=DEMO_SLUG)
    first = _census(workspace)
    assert first["members"] == [
        ("demo-admin", "owner", None),
        ("demo-manager", "manager", "华东销售组"),
        ("demo-marketing", "marketing", None),
        ("demo-sales1", "sales", "华东销售组"),
        ("demo-sales2", "sales", "华南销售组"),
        ("demo-service", "service", "销售部"),
    ]
    assert first["teams"] == [("华东销售组", "销售部"), ("华南销售组", "销售部"), ("销售部", None)]
    assert first["channels"] == [
        ("信息流广告", "feed_ad"),
        ("公众号文章", "article"),
        ("朋友圈广告", "social_ad"),
        ("老带新", "referral"),
        ("门店", "store"),
    ]
    assert first["tag_groups"] == [
        ("兴趣", False, sorted(["美白", "抗老", "保湿", "彩妆", "防晒"])),
        ("客户价值", True, sorted(["高价值", "潜力客户", "沉睡客户"])),
        ("肤质", True, sorted(["干性", "油性", "混合", "敏感"])),
    ]
    assert first["custom_fields"] == [
        ("member_level", "会员等级", "select"),
        ("preferred_store", "偏好门店", "text"),
        ("subscribed", "是否订阅", "boolean"),
        ("total_spent", "累计消费", "number"),
    ]
    assert first["contacts"] == 5000 + ANONYMOUS_VISITORS
    phones = [p for p in first["phones"] if p]
    assert len(set(phones)) == len(phones) == 5000
    assert all(p.startswith("+861") and len(p) == 14 for p in phones)
    printed = out.getvalue()
    assert "http://127.0.0.1:8000/" in printed
    assert f"所有账号的密码：{DEMO_PASSWORD}" in printed
    assert "demo-sales1" in printed
    _assert_believable(workspace)

    call_command("demo", stdout=StringIO())

    assert Workspace.objects.filter(slug=DEMO_SLUG).count() == 1
    assert _census(workspace) == first  # same seed, same data, nothing duplicated
    with workspace_scope(other_workspace.id):
        assert Contact.objects.count() == 0
        assert Member.objects.count() == 0
        assert Channel.objects.count() == 0
        assert TagGroup.objects.count() == 0
        assert CustomField.objects.count() == 0
        assert FollowUp.objects.count() == 0


def _assert_believable(workspace: Workspace) -> None:
    assert authenticate(username="demo-sales1", password=DEMO_PASSWORD) is not None

    with workspace_scope(workspace.id):
        members = {m.user.username: m for m in Member.objects.select_related("user")}
        contacts = list(Contact.objects.exclude(phone="").select_related("channel"))
        visitors = list(Contact.objects.filter(phone=""))
        assert len(visitors) == ANONYMOUS_VISITORS
        assert {c.stage for c in visitors} == {Stage.VISITOR}
        stages = Counter(c.stage for c in contacts)
        assert set(stages) == {s.value for s in STAGE_ORDER}
        assert min(stages.values()) > 200
        assert {c.channel.name for c in contacts if c.channel} == {
            "公众号文章",
            "朋友圈广告",
            "门店",
            "老带新",
            "信息流广告",
        }
        assert all(c.channel_id for c in contacts)
        assert 600 < sum(1 for c in contacts if c.owner_id is None) < 1600  # the public pool
        assert 0.75 < sum(1 for c in contacts if c.gender == "female") / len(contacts) < 0.95
        assert 1000 < sum(1 for c in contacts if c.email) < 2000
        assert all(c.name and c.city and c.region and c.name_pinyin for c in contacts)
        moment = now()
        assert all(moment - timedelta(days=400) < c.created_at <= moment for c in contacts)
        members_only = [c for c in contacts if c.stage == "member"]
        assert all(c.custom.get("member_level") and c.custom.get("total_spent") for c in members_only)

        # A full stage path per contact: "" → visitor → … → its stage, and one creation entry each; tracked
        # orders may since have moved a contact on (those are checked with the tracking below).
        moved = set(
            StageChange.objects.filter(reason__startswith="event:").values_list("contact_id", flat=True)
        )
        unmoved = [c for c in contacts if c.id not in moved]
        assert StageChange.objects.filter(contact__in=unmoved).count() == sum(
            STAGE_ORDER.index(Stage(c.stage)) + 1 for c in unmoved
        )
        assert StageChange.objects.filter(from_stage="").count() == 5000 + ANONYMOUS_VISITORS
        assert TimelineEntry.objects.filter(kind=TimelineKind.CREATED).count() == 5000 + ANONYMOUS_VISITORS
        assert TimelineEntry.objects.filter(kind=TimelineKind.FOLLOW_UP).count() == FollowUp.objects.count()
        assert ContactTag.objects.filter(tag__group__name="肤质").values("contact_id").distinct().count() == (
            ContactTag.objects.filter(tag__group__name="肤质").count()
        )  # a single-choice group holds one tag per contact

        for username in ("demo-sales1", "demo-sales2"):
            rep = actor_for_member(member=members[username])
            due = follow_ups_due(actor=rep, limit=500)
            assert sum(1 for f in due if f.next_follow_up_on == today()) == 5
            assert sum(1 for f in due if f.next_follow_up_on and f.next_follow_up_on < today()) == 4
            assert all(f.contact.owner_id == rep.member_id for f in due)
        # The two reps' books are apart: each sees their own contacts and the pool, never the other's.
        sales1 = actor_for_member(member=members["demo-sales1"])
        assert contact_scoped(actor=sales1).filter(owner=members["demo-sales2"]).count() == 0
        assert Contact.objects.filter(owner=members["demo-sales2"]).count() > 1000

        # Tracking: a month of visits went through ingestion and the processor.
        assert not InboundBatch.objects.filter(processed_at__isnull=True).exists()
        assert not IngestWarning.objects.exists()
        assert Event.objects.count() > 4000
        assert Event.objects.filter(contact_id__isnull=True).count() == 0
        readers = ContactActivity.objects.filter(content_views__gt=0)
        assert readers.count() > VISITED_CONTACTS  # the visited customers and the live readers
        assert ContactActivity.objects.filter(orders__gt=0).count() > 50
        assert {s.name for s in Source.objects.exclude(kind=SourceKind.IMPORT)} == {"官网", "公众号 H5"}
        assert Source.objects.filter(kind=SourceKind.IMPORT).count() == 1  # made by the order import
        assert ContentViewer.objects.filter(sharer__isnull=False).count() > 100
        joined = TimelineEntry.objects.filter(kind=TimelineKind.IDENTITY_ADDED, data__type="anonymous_id")
        assert joined.count() >= VISITED_CONTACTS  # each visited customer's anonymous history, identified
        for username in ("demo-sales1", "demo-sales2"):
            alerts = Notification.objects.filter(member=members[username])
            assert alerts.count() == LIVE_READERS_PER_REP
            owners = set(
                Contact.objects.filter(id__in=[a.contact_id for a in alerts]).values_list(
                    "owner_id", flat=True
                )
            )
            assert owners == {members[username].id}

        # Orders: the website's tracked orders and months of the shop's history, each recorded once.
        job = OrderImportJob.objects.get()
        assert (
            job.file_name,
            job.status,
            job.duplicate_count,
            job.failed_count,
            job.contacts_created_count,
        ) == (
            HISTORY_FILE,
            "done",
            TRACKED_IN_EXPORT,
            2,
            0,
        )
        assert job.accepted_count > 800
        purchases = Purchase.objects.all()
        assert purchases.filter(origin="import").count() == job.accepted_count
        assert 50 < purchases.filter(origin="event").count() < 300
        assert purchases.filter(placed_at__lt=moment - timedelta(days=90)).count() > 300
        assert purchases.filter(placed_at__lt=moment - timedelta(days=HISTORY_DAYS + 1)).count() == 0
        per_contact = purchase_counts_by_contact(contact_ids=purchases.values_list("contact_id", flat=True))
        assert sum(1 for orders, _revenue in per_contact.values() if orders >= 2) > 200  # repurchase
        counters = {
            a.contact_id: (a.orders, a.revenue)
            for a in ContactActivity.objects.filter(contact_id__in=per_contact)
        }
        assert counters == per_contact  # each order counted once, tracked or imported
