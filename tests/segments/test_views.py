"""Segment pages through the Django test client: roles, another workspace's ids, create with a rule,
refused rules, static list reports, the RFM page and the contact card."""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from siyu.contacts.models import Contact
from siyu.contacts.services.contacts import contact_create
from siyu.core.tenancy import workspace_scope
from siyu.core.time import today
from siyu.segments.models import (
    MembershipChange,
    RfmMethod,
    RfmSettings,
    Segment,
    SegmentBuild,
    SegmentDay,
    SegmentKind,
    SegmentMember,
)
from siyu.segments.rfm import RfmCuts, rfm_score
from siyu.segments.selectors.rfm import rfm_cuts
from siyu.segments.selectors.rfm_groups import rfm_group_sizes
from siyu.segments.services.evaluation import segment_build
from siyu.segments.services.segments import segment_create, segment_members_add
from siyu.tenancy.actor import Actor
from siyu.tenancy.models import Member, Workspace
from siyu.tenancy.roles import Role
from siyu.tenancy.selectors import actor_for_member
from siyu.tracking.selectors.events import activity_rows
from tests.conftest import client_for
from tests.factories import ContactFactory, MemberFactory
from tests.segments.helpers import deliver, members, rule, track
from tests.tracking.events import make_source

pytestmark = pytest.mark.django_db

CITY_SHANGHAI = rule({"all": [{"kind": "field", "field": "city", "op": "eq", "value": "上海"}]})


@pytest.fixture
def marketing_client(client: Client, marketer: Member) -> Client:
    return client_for(marketer, client=client)


@pytest.fixture
def rep_client(rep: Member) -> Client:
    return client_for(rep)


def url(name: str, segment: Segment | None = None, **kwargs: Any) -> str:
    if segment is not None:
        kwargs["segment_id"] = segment.id
    return reverse(name, kwargs=kwargs or None)


def people(actor: Actor, *rows: dict[str, Any]) -> list[Contact]:
    return [contact_create(actor=actor, data=row) for row in rows]


# -- roles ----------------------------------------------------------------------------------------


def test_every_page_answers_a_marketer_and_manage_pages_refuse_a_rep(
    marketing_client: Client, rep_client: Client, marketer_actor: Actor, rep: Member
) -> None:
    dynamic = segment_create(actor=marketer_actor, name="上海", rules=CITY_SHANGHAI, build_now=True)
    static = segment_create(actor=marketer_actor, name="名单", kind=SegmentKind.STATIC)
    mine = ContactFactory(name="小王的客户", owner=rep)
    read_pages = [
        url("segments:list"),
        url("segments:detail", dynamic),
        url("segments:detail", dynamic) + "?tab=history",
        url("segments:detail", dynamic) + "?tab=builds",
        url("segments:detail", static),
        url("segments:status", dynamic),
        url("segments:members", dynamic),
        url("segments:history", dynamic),
        url("segments:builds", dynamic),
        url("segments:lookup", dynamic) + "?q=小王",
        url("segments:event_properties") + "?type=track&name=Article+Read",
        url("segment_settings:rfm"),
        reverse("segments:contact_card", kwargs={"contact_id": mine.id}),
    ]
    manage_pages = [
        url("segments:create"),
        url("segments:create") + "?kind=static",
        url("segments:edit", dynamic),
        url("segments:list_members", static),
    ]
    for page in read_pages + manage_pages:
        assert marketing_client.get(page).status_code == 200, page
    for page in read_pages:
        assert rep_client.get(page).status_code == 200, page
    for page in manage_pages:
        assert rep_client.get(page).status_code == 403, page
    refused_posts = [
        url("segments:create"),
        url("segments:edit", dynamic),
        url("segments:rebuild", dynamic),
        url("segments:snapshot", dynamic),
        url("segments:delete", dynamic),
        url("segments:list_members", static),
        url("segment_settings:rfm"),
        url("segment_settings:rfm_refresh"),
    ]
    for page in refused_posts:
        assert rep_client.post(page, {"name": "x", "method": "quintiles"}).status_code == 403, page
    assert Segment.objects.count() == 2
    assert SegmentBuild.objects.filter(segment=dynamic).count() == 1

    anonymous = Client()
    for page in [url("segments:list"), url("segments:detail", dynamic), url("segment_settings:rfm")]:
        response = anonymous.get(page)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("web:login"))


def test_another_workspaces_segment_and_contact_are_not_found_on_every_route(
    marketing_client: Client, other_workspace: Workspace
) -> None:
    with workspace_scope(other_workspace.id):
        stranger = MemberFactory(role=Role.ADMIN)
        actor = actor_for_member(member=stranger)
        foreign = segment_create(actor=actor, name="别家的人群", rules=CITY_SHANGHAI, build_now=True)
        foreign_list = segment_create(actor=actor, name="别家的名单", kind=SegmentKind.STATIC)
        foreign_contact = ContactFactory(name="别家客户", city="上海")
    for segment in (foreign, foreign_list):
        for name in ("detail", "edit", "status", "members", "history", "builds", "lookup", "list_members"):
            assert marketing_client.get(url(f"segments:{name}", segment)).status_code == 404, name
        for name in ("edit", "rebuild", "snapshot", "delete", "list_members"):
            response = marketing_client.post(
                url(f"segments:{name}", segment), {"name": "拿走", "values": "1"}
            )
            assert response.status_code == 404, name
    card = reverse("segments:contact_card", kwargs={"contact_id": foreign_contact.id})
    assert marketing_client.get(card).status_code == 404
    # Naming a foreign segment in a rule is an unknown id, not a way to read it.
    preview = marketing_client.post(
        url("segments:preview"),
        {"rules": json.dumps(rule({"kind": "segment", "op": "in", "segment": str(foreign.id)}))},
    )
    assert preview.context["errors"] == {
        "root.segment[0]": f"No segment with id {foreign.id} in this workspace."
    }
    listing = marketing_client.get(url("segments:list"))
    assert [row["segment"].name for row in listing.context["rows"]] == []
    with workspace_scope(other_workspace.id):
        assert Segment.objects.get(id=foreign.id).name == "别家的人群"
        assert Segment.objects.filter(id=foreign_list.id).exists()


# -- create and edit ------------------------------------------------------------------------------


def test_create_with_a_json_rule_saves_builds_and_lands_on_the_detail_page(
    marketing_client: Client, marketer: Member, marketer_actor: Actor
) -> None:
    shanghai = people(marketer_actor, {"name": "张三", "city": "上海"}, {"name": "李四", "city": "上海"})
    people(marketer_actor, {"name": "王五", "city": "北京"})
    response = marketing_client.post(
        url("segments:create"),
        {"name": " 上海客户 ", "description": "华东", "rules": json.dumps(CITY_SHANGHAI)},
    )
    segment = Segment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("segments:detail", segment)
    assert (segment.name, segment.description, segment.kind) == ("上海客户", "华东", "dynamic")
    assert segment.rules == CITY_SHANGHAI
    assert segment.created_by_id == marketer.id
    assert (segment.is_ready, segment.member_count, segment.problem) == (True, 2, "")
    assert members(segment) == {c.id for c in shanghai}

    detail = marketing_client.get(response["Location"])
    assert detail.context["status"] == "ready"
    assert detail.context["polling"] is False
    rules = detail.context["rules"]
    assert (rules.text, [child.text for child in rules.children]) == (
        "All of the following",
        ["City equals 上海"],
    )
    assert sorted(row["contact"].name for row in detail.context["members"]) == ["张三", "李四"]
    assert b'data-member-count="2"' in detail.content


def test_a_bad_rule_is_shown_beside_its_condition_and_nothing_is_saved(marketing_client: Client) -> None:
    bad = rule(
        {
            "all": [
                {"kind": "field", "field": "city", "op": "eq", "value": "上海"},
                {"any": [{"kind": "purchase", "measure": "frequency", "op": "gte", "value": -1}]},
            ]
        }
    )
    response = marketing_client.post(url("segments:create"), {"name": "坏规则", "rules": json.dumps(bad)})
    assert response.status_code == 200
    assert response.context["rule_errors"] == {
        "root.all[1].any[0].value": "Expected a whole number of orders from 0 to 1000000."
    }
    assert response.context["document"] == bad  # the builder gets the rule back to fix it
    assert b"The rule has problems; they are marked beside the conditions below." in response.content
    assert "root.all[1].any[0].value" in json.loads(
        response.content.decode()
        .split('id="builder-errors" type="application/json">')[1]
        .split("</script>")[0]
    )
    assert Segment.objects.count() == 0


def test_a_taken_name_is_refused_on_the_name_field(marketing_client: Client, marketer_actor: Actor) -> None:
    segment_create(actor=marketer_actor, name="上海", rules=CITY_SHANGHAI, build_now=True)
    response = marketing_client.post(
        url("segments:create"), {"name": "上海", "rules": json.dumps(CITY_SHANGHAI)}
    )
    assert response.status_code == 200
    assert response.context["form"].errors == {"name": ["This name is taken."]}
    assert Segment.objects.count() == 1


def test_edit_changes_the_rules_and_rebuilds(marketing_client: Client, marketer_actor: Actor) -> None:
    shanghai, beijing = people(marketer_actor, {"name": "沪", "city": "上海"}, {"name": "京", "city": "北京"})
    segment = segment_create(actor=marketer_actor, name="城市", rules=CITY_SHANGHAI, build_now=True)
    beijing_rule = rule({"all": [{"kind": "field", "field": "city", "op": "in", "value": ["北京"]}]})
    form = marketing_client.get(url("segments:edit", segment))
    assert form.context["document"] == CITY_SHANGHAI
    response = marketing_client.post(
        url("segments:edit", segment), {"name": "北京", "rules": json.dumps(beijing_rule)}
    )
    assert response.status_code == 302
    segment.refresh_from_db()
    assert (segment.name, segment.revision, segment.rules) == ("北京", 2, beijing_rule)
    assert members(segment) == {beijing.id}
    assert shanghai.id not in members(segment)


def test_the_preview_counts_everyone_and_samples_what_the_actor_may_see(
    rep_client: Client, rep: Member, make_member: Callable[..., Member]
) -> None:
    other_rep = make_member(Role.SALES)
    ContactFactory(name="我的上海客户", city="上海", owner=rep)
    ContactFactory(name="别人的上海客户", city="上海", owner=other_rep)
    ContactFactory(name="北京客户", city="北京", owner=rep)
    response = rep_client.post(url("segments:preview"), {"rules": json.dumps(CITY_SHANGHAI)})
    assert response.status_code == 200
    assert (response.context["count"], response.context["errors"]) == (2, {})
    assert [c.name for c in response.context["sample"]] == ["我的上海客户"]
    assert b'data-preview-count="2"' in response.content

    broken = rule({"any": [{"kind": "tags", "op": "any", "tags": []}]})
    response = rep_client.post(url("segments:preview"), {"rules": json.dumps(broken)})
    assert response.context["count"] is None
    assert response.context["errors"] == {"root.any[0].tags": "Choose at least one tag."}
    errors = (
        response.content.decode()
        .split('id="preview-errors" type="application/json">')[1]
        .split("</script>")[0]
    )
    assert json.loads(errors) == {"root.any[0].tags": "Choose at least one tag."}

    garbage = rep_client.post(url("segments:preview"), {"rules": "{not json"})
    assert (garbage.context["count"], garbage.context["message"]) == (None, "The rules could not be read.")


def test_event_property_keys_feed_the_builder(marketing_client: Client, marketer_actor: Actor) -> None:
    source = make_source()
    contact_create(
        actor=marketer_actor, data={"name": "读者", "identities": [{"type": "user_id", "value": "u-1"}]}
    )
    now = datetime.now(UTC)
    deliver(
        source,
        [
            track("u-1", "Article Read", now, category="护肤", words=1200),
            track("u-1", "Order Completed", now, order_id="A1", revenue=99),
        ],
    )
    response = marketing_client.get(url("segments:event_properties") + "?type=track&name=Article+Read")
    assert response.json() == {
        "properties": [{"key": "category", "type": "text"}, {"key": "words", "type": "number"}]
    }
    assert marketing_client.get(url("segments:event_properties") + "?type=nonsense").json() == {
        "properties": []
    }
    form = marketing_client.get(url("segments:create"))
    names = {(e["type"], e["name"]) for e in form.context["catalog"]["eventNames"]}
    assert {("track", "Article Read"), ("track", "Order Completed")} <= names


# -- detail -------------------------------------------------------------------------------------


def test_the_size_chart_carries_the_last_size_over_days_without_a_row(
    marketing_client: Client, marketer_actor: Actor
) -> None:
    segment = segment_create(actor=marketer_actor, name="图表", kind=SegmentKind.STATIC)
    day = today()
    Segment.objects.filter(id=segment.id).update(created_at=datetime.now(UTC) - timedelta(days=5))
    SegmentDay.objects.filter(segment=segment).delete()
    SegmentDay.objects.create(segment=segment, day=day - timedelta(days=4), size=3, entered=3, exited=0)
    SegmentDay.objects.create(segment=segment, day=day - timedelta(days=1), size=2, entered=1, exited=2)
    # The history and the members agree with those rows: three entered four days ago, one entered and
    # two left yesterday; today, with no row yet, shows the live size.
    people = [ContactFactory() for _ in range(4)]
    for person, days_ago, kind in (
        (people[0], 4, "entered"),
        (people[1], 4, "entered"),
        (people[2], 4, "entered"),
        (people[3], 1, "entered"),
        (people[1], 1, "exited"),
        (people[2], 1, "exited"),
    ):
        at = datetime.now(UTC) - timedelta(days=days_ago)
        MembershipChange.objects.create(segment=segment, contact=person, kind=kind, cause="manual", at=at)
    for person in (people[0], people[3]):
        SegmentMember.objects.create(segment=segment, contact=person, entered_at=datetime.now(UTC))
    chart = marketing_client.get(url("segments:detail", segment)).context["chart_data"]
    assert len(chart["days"]) == 30
    assert chart["days"][-6:] == [(day - timedelta(days=n)).isoformat() for n in range(5, -1, -1)]
    assert chart["size"][-6:] == [0, 3, 3, 3, 2, 2]
    assert chart["entered"][-6:] == [0, 3, 0, 0, 1, 0]
    assert chart["exited"][-6:] == [0, 0, 0, 0, 2, 0]
    assert chart["size"][0] is None  # before the segment existed
    csv_text = marketing_client.get(url("segments:detail", segment) + "?format=csv").content.decode(
        "utf-8-sig"
    )
    assert csv_text.splitlines()[0] == "Day,Size,Entered,Exited"
    assert csv_text.splitlines()[-2:] == [f"{day - timedelta(days=1)},2,1,2", f"{day},2,0,0"]


def test_members_history_and_lookup_keep_to_the_reps_contacts(
    rep_client: Client, rep: Member, admin_actor: Actor, make_member: Callable[..., Member]
) -> None:
    other_rep = make_member(Role.SALES)
    mine = ContactFactory(name="张小明", city="上海", owner=rep, phone="+8613800001111")
    theirs = ContactFactory(name="张大明", city="上海", owner=other_rep)
    ContactFactory(name="张北京", city="北京", owner=rep)
    segment = segment_create(actor=admin_actor, name="上海", rules=CITY_SHANGHAI, build_now=True)
    assert members(segment) == {mine.id, theirs.id}

    page = rep_client.get(url("segments:members", segment))
    assert [(row["contact"].name, row["contact"].masked_phone) for row in page.context["members"]] == [
        ("张小明", "138****1111")
    ]
    assert page.context["members"][0]["entered_at"] == SegmentMember.objects.get(contact=mine).entered_at
    history = rep_client.get(url("segments:history", segment))
    assert [(c.contact_id, c.kind, c.cause) for c in history.context["changes"]] == [
        (mine.id, "entered", "build")
    ]
    exits = rep_client.get(url("segments:history", segment) + "?kind=exited")
    assert exits.context["changes"] == []

    lookup = rep_client.get(url("segments:lookup", segment) + "?q=张")
    assert sorted((row.contact.name, row.entered_at is not None) for row in lookup.context["rows"]) == [
        ("张北京", False),
        ("张小明", True),
    ]
    builds = rep_client.get(url("segments:builds", segment))
    assert [(b.kind, b.added, b.removed, b.size) for b in builds.context["builds"]] == [("full", 2, 0, 2)]


def test_rebuild_snapshot_and_delete(
    marketing_client: Client, marketer_actor: Actor, admin_actor: Actor
) -> None:
    shanghai = people(admin_actor, {"name": "沪一", "city": "上海"}, {"name": "沪二", "city": "上海"})
    base = segment_create(actor=marketer_actor, name="上海", rules=CITY_SHANGHAI, build_now=True)
    derived = segment_create(
        actor=marketer_actor,
        name="不在上海",
        rules=rule({"kind": "segment", "op": "not_in", "segment": str(base.id)}),
        build_now=True,
    )
    response = marketing_client.post(url("segments:rebuild", base), follow=True)
    assert [str(m) for m in response.context["messages"]] == ["Rebuilt: 0 entered, 0 left, 2 members now."]
    assert SegmentBuild.objects.filter(segment=base).count() == 2

    response = marketing_client.post(url("segments:snapshot", base), {"name": "上海快照"}, follow=True)
    snapshot = Segment.objects.get(name="上海快照")
    assert response.redirect_chain == [(url("segments:detail", snapshot), 302)]
    assert [str(m) for m in response.context["messages"]] == [
        "Saved 2 members as the static list “上海快照”."
    ]
    assert (snapshot.kind, snapshot.snapshot_of_id, snapshot.member_count) == ("static", base.id, 2)
    assert members(snapshot) == {c.id for c in shanghai}

    response = marketing_client.post(url("segments:delete", base), follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "Other segments are built on this one: 不在上海. Change them first."
    ]
    assert Segment.objects.filter(id=base.id).exists()
    response = marketing_client.post(url("segments:delete", derived))
    assert response["Location"] == url("segments:list")
    assert not Segment.objects.filter(id=derived.id).exists()
    assert marketing_client.post(url("segments:delete", base)).status_code == 302
    assert set(Segment.objects.values_list("name", flat=True)) == {"上海快照"}


def test_list_search_answers_htmx_with_the_table(marketing_client: Client, marketer_actor: Actor) -> None:
    segment_create(actor=marketer_actor, name="上海客户", rules=CITY_SHANGHAI, build_now=True)
    segment_create(actor=marketer_actor, name="会员名单", kind=SegmentKind.STATIC)
    response = marketing_client.get(url("segments:list") + "?q=上海", HTTP_HX_REQUEST="true")
    assert response.templates[0].name == "segments/partials/list_table.html"
    assert [(row["segment"].name, row["status"]) for row in response.context["rows"]] == [
        ("上海客户", "ready")
    ]
    full = marketing_client.get(url("segments:list"))
    assert [row["segment"].name for row in full.context["rows"]] == ["上海客户", "会员名单"]


# -- static lists -------------------------------------------------------------------------------


def test_static_list_paste_reports_every_row(marketing_client: Client, admin_actor: Actor) -> None:
    first, second = people(
        admin_actor, {"name": "甲", "phone": "13800001111"}, {"name": "乙", "phone": "13800002222"}
    )
    response = marketing_client.post(url("segments:create") + "?kind=static", {"name": "手工名单"})
    static = Segment.objects.get(name="手工名单")
    assert response["Location"] == url("segments:detail", static)
    assert (static.kind, static.is_ready) == ("static", True)

    pasted = "\n".join(["13800001111", str(second.id), "不是号码", "+8613999999999", "", "+86 138 0000 1111"])
    response = marketing_client.post(
        url("segments:list_members", static), {"action": "add", "values": pasted}
    )
    assert response.status_code == 200
    assert [(r.row, r.value, r.status, r.contact_id) for r in response.context["results"]] == [
        (1, "13800001111", "added", first.id),
        (2, str(second.id), "added", second.id),
        (3, "不是号码", "invalid", None),
        (4, "+8613999999999", "not_found", None),
        (5, "+86 138 0000 1111", "unchanged", first.id),
    ]
    assert response.context["summary"] == {
        "added": 2,
        "removed": 0,
        "unchanged": 1,
        "not_found": 1,
        "invalid": 1,
    }
    assert members(static) == {first.id, second.id}

    response = marketing_client.post(
        url("segments:list_members", static), {"action": "remove", "values": "13800002222"}
    )
    assert [(r.status, r.contact_id) for r in response.context["results"]] == [("removed", second.id)]
    assert members(static) == {first.id}
    assert sorted(MembershipChange.objects.filter(segment=static).values_list("kind", "contact__name")) == [
        ("entered", "乙"),
        ("entered", "甲"),
        ("exited", "乙"),
    ]

    empty = marketing_client.post(url("segments:list_members", static), {"action": "add", "values": "  \n"})
    assert empty.context["results"] is None
    assert empty.context["form"].non_field_errors() == [
        "Paste at least one phone number or contact id, or choose a file."
    ]


def test_static_list_upload_reads_the_first_column_after_a_header(
    marketing_client: Client, admin_actor: Actor, marketer_actor: Actor
) -> None:
    (first,) = people(admin_actor, {"name": "甲", "phone": "13800001111"})
    static = segment_create(actor=marketer_actor, name="上传名单", kind=SegmentKind.STATIC)
    upload = SimpleUploadedFile("名单.csv", "手机号,备注\n13800001111,老客户\n13900000000,\n".encode())
    response = marketing_client.post(url("segments:list_members", static), {"action": "add", "file": upload})
    assert [(r.row, r.value, r.status) for r in response.context["results"]] == [
        (1, "13800001111", "added"),
        (2, "13900000000", "not_found"),
    ]
    assert members(static) == {first.id}

    bad = SimpleUploadedFile("名单.pdf", b"%PDF-1.4")
    response = marketing_client.post(url("segments:list_members", static), {"action": "add", "file": bad})
    assert response.context["results"] is None
    assert response.context["form"].non_field_errors() == [
        "“名单.pdf” is not a spreadsheet Siyu can read. Upload an .xlsx or .csv file."
    ]


def test_a_dynamic_segment_has_no_member_editing(marketing_client: Client, marketer_actor: Actor) -> None:
    segment = segment_create(actor=marketer_actor, name="上海", rules=CITY_SHANGHAI, build_now=True)
    response = marketing_client.get(url("segments:list_members", segment), follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "Members of a dynamic segment follow its rules; add them to a static list instead."
    ]


# -- RFM --------------------------------------------------------------------------------------


def order(source: Any, user_id: str, number: str, amount: str, days_ago: float) -> dict[str, Any]:
    at = datetime.now(UTC) - timedelta(days=days_ago)
    return track(user_id, "Order Completed", at, order_id=number, revenue=amount)


@pytest.fixture
def customers(admin_actor: Actor) -> dict[str, Contact]:
    """Five customers with known orders (days ago, amount) and one contact without orders."""
    source = make_source()
    plan = {
        "loyal": [(2, "500"), (20, "400"), (40, "300")],
        "new_big": [(1, "2000")],
        "lapsed_big": [(200, "900"), (220, "900")],
        "lapsed_small": [(300, "20")],
        "fresh_small": [(5, "30"), (6, "30")],
    }
    found: dict[str, Contact] = {}
    for key, orders in [*plan.items(), ("never", [])]:
        found[key] = contact_create(
            actor=admin_actor, data={"name": key, "identities": [{"type": "user_id", "value": key}]}
        )
        if orders:
            deliver(
                source,
                [order(source, key, f"{key}-{n}", amount, days) for n, (days, amount) in enumerate(orders)],
            )
    return found


def test_rfm_thresholds_are_saved_and_group_sizes_match_each_customers_score(
    marketing_client: Client, customers: dict[str, Contact]
) -> None:
    response = marketing_client.post(
        url("segment_settings:rfm"),
        {
            "method": RfmMethod.THRESHOLDS,
            **{f"recency_{i}": v for i, v in enumerate([3, 10, 30, 90], start=1)},
            **{f"frequency_{i}": v for i, v in enumerate([1, 2, 3, 5], start=1)},
            **{f"monetary_{i}": v for i, v in enumerate(["50", "200", "800", "1500"], start=1)},
        },
    )
    assert response.status_code == 302
    settings_row = RfmSettings.objects.get()
    assert (settings_row.method, settings_row.recency_cuts, settings_row.frequency_cuts) == (
        "thresholds",
        [3, 10, 30, 90],
        [1, 2, 3, 5],
    )
    assert [Decimal(v) for v in settings_row.monetary_cuts] == [
        Decimal(v) for v in ("50", "200", "800", "1500")
    ]

    page = marketing_client.get(url("segment_settings:rfm"))
    sizes = {row["group"].group: row["group"].count for row in page.context["rows"]}
    cuts = rfm_cuts()
    assert cuts is not None
    expected = _groups_by_score(cuts)
    assert expected == {
        "loyal": "important_value",
        "new_big": "important_develop",
        "lapsed_big": "important_keep",
        "lapsed_small": "general_retain",
        "fresh_small": "general_value",
    }
    assert sizes == {
        "important_value": 1,
        "important_develop": 1,
        "important_keep": 1,
        "important_retain": 0,
        "general_value": 1,
        "general_develop": 0,
        "general_keep": 0,
        "general_retain": 1,
    }
    assert page.context["sizes"].customers == 5
    assert [band["recency"] for band in page.context["bands"]] == [
        "≤ 3 days",
        "≤ 10 days",
        "≤ 30 days",
        "≤ 90 days",
        "> 90 days",
    ]
    csv_lines = (
        marketing_client.get(url("segment_settings:rfm") + "?format=csv")
        .content.decode("utf-8-sig")
        .splitlines()
    )
    assert csv_lines[0] == "RFM group,Recency,Frequency,Monetary,Customers,Share (%)"
    assert csv_lines[1] == "Important value,high,high,high,1,20.0"


def _groups_by_score(cuts: RfmCuts) -> dict[str, str]:
    names = dict(Contact.objects.values_list("id", "name"))
    groups = {}
    for row in activity_rows().filter(orders__gt=0):
        score = rfm_score(
            last_order_at=row.last_order_at,
            orders=row.orders,
            revenue=row.revenue,
            cuts=cuts,
            now=datetime.now(UTC),
        )
        assert score is not None
        groups[names[row.contact_id]] = score.group
    return groups


@pytest.mark.parametrize("seed", range(6))
def test_rfm_group_sizes_agree_with_rfm_score_on_boundaries(seed: int, customers: dict[str, Contact]) -> None:
    """Cut points placed exactly on the customers' figures: the grouped SQL and the per-customer score agree."""
    figures = [(row.orders, row.revenue, row.last_order_at) for row in activity_rows().filter(orders__gt=0)]
    days = sorted({(datetime.now(UTC) - at).days for _o, _r, at in figures if at is not None})
    orders = sorted({o for o, _r, _a in figures})
    revenue = sorted({r for _o, r, _a in figures})

    def four(values: list[Any], offset: int) -> tuple[Any, Any, Any, Any]:
        picked = sorted(values[(offset + i) % len(values)] for i in range(4))
        return picked[0], picked[1], picked[2], picked[3]

    cuts = RfmCuts(recency=four(days, seed), frequency=four(orders, seed), monetary=four(revenue, seed))
    sizes = rfm_group_sizes(cuts=cuts)
    assert sizes is not None
    expected: dict[str, int] = {}
    for group in _groups_by_score(cuts).values():
        expected[group] = expected.get(group, 0) + 1
    assert {g.group: g.count for g in sizes.groups if g.count} == expected
    assert sizes.customers == 5


def test_rfm_refresh_computes_quintiles(marketing_client: Client, customers: dict[str, Contact]) -> None:
    response = marketing_client.post(url("segment_settings:rfm_refresh"), follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "Recomputed the quintiles from this workspace's customers."
    ]
    settings_row = RfmSettings.objects.get()
    assert settings_row.method == "quintiles"
    # Orders per customer sorted: 1, 1, 2, 2, 3; the 20/40/60/80th positions of five are 1, 2, 3, 4.
    assert settings_row.frequency_cuts == [1, 2, 2, 3]
    assert sum(row["group"].count for row in response.context["rows"]) == 5


def test_rfm_page_refuses_unordered_cut_points(marketing_client: Client) -> None:
    response = marketing_client.post(
        url("segment_settings:rfm"),
        {
            "method": RfmMethod.THRESHOLDS,
            **{f"recency_{i}": v for i, v in enumerate([30, 10, 60, 90], start=1)},
            **{f"frequency_{i}": v for i, v in enumerate([1, 2, 3, 5], start=1)},
            **{f"monetary_{i}": v for i, v in enumerate([50, 200, 800, 1500], start=1)},
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["recency_1"] == [
        "Cut points go up from left to right and are not negative."
    ]
    assert not RfmSettings.objects.exists()


# -- the contact card ---------------------------------------------------------------------------


def test_contact_card_shows_rfm_segments_and_history_and_hides_contacts_out_of_scope(
    rep_client: Client,
    rep: Member,
    make_member: Callable[..., Member],
    admin_actor: Actor,
    customers: dict[str, Contact],
) -> None:
    loyal = customers["loyal"]
    Contact.objects.filter(id=loyal.id).update(owner=rep, city="上海")
    other = make_member(Role.SALES)
    hidden = ContactFactory(name="别人的客户", owner=other)
    RfmSettings.objects.create(
        method=RfmMethod.THRESHOLDS,
        recency_cuts=[3, 10, 30, 90],
        frequency_cuts=[1, 2, 3, 5],
        monetary_cuts=["50", "200", "800", "1500"],
    )
    segment = segment_create(actor=admin_actor, name="上海", rules=CITY_SHANGHAI, build_now=True)
    static = segment_create(actor=admin_actor, name="VIP 名单", kind=SegmentKind.STATIC)
    segment_members_add(actor=admin_actor, segment=static, values=[str(loyal.id)])
    # Each membership's own entry time, told apart: the list's a week before the rule's.
    entered = {"VIP 名单": datetime(2026, 6, 13, 2, tzinfo=UTC), "上海": datetime(2026, 6, 20, 2, tzinfo=UTC)}
    for name, at in entered.items():
        SegmentMember.objects.filter(segment__name=name, contact=loyal).update(entered_at=at)

    card = reverse("segments:contact_card", kwargs={"contact_id": loyal.id})
    response = rep_client.get(card)
    assert response.status_code == 200
    score = response.context["rfm"]
    assert (score.r, score.f, score.m, score.group, score.frequency, score.monetary) == (
        5,
        4,
        4,
        "important_value",
        3,
        Decimal("1200.00"),
    )
    assert [(s.name, at) for s, at in response.context["memberships"]] == [
        ("VIP 名单", entered["VIP 名单"]),
        ("上海", entered["上海"]),
    ]
    assert [(c.segment.name, c.kind) for c in response.context["changes"]] == [
        ("VIP 名单", "entered"),
        ("上海", "entered"),
    ]
    assert b'data-rfm-group="important_value"' in response.content
    assert SegmentMember.objects.filter(segment=segment, contact=loyal).exists()

    hidden_card = reverse("segments:contact_card", kwargs={"contact_id": hidden.id})
    assert rep_client.get(hidden_card).status_code == 404
    missing = reverse("segments:contact_card", kwargs={"contact_id": UUID(int=7)})
    assert rep_client.get(missing).status_code == 404


def test_contact_card_without_orders_or_cut_points(rep_client: Client, rep: Member) -> None:
    contact = ContactFactory(name="新客户", owner=rep)
    response = rep_client.get(reverse("segments:contact_card", kwargs={"contact_id": contact.id}))
    assert (response.context["rfm"], response.context["rfm_ready"]) == (None, False)
    assert response.context["memberships"] == []
    assert "RFM scores appear once the workspace's cut points are computed." in response.content.decode()


def test_a_new_segment_can_start_from_an_rfm_group(marketing_client: Client) -> None:
    response = marketing_client.get(url("segments:create") + "?rfm=important_keep")
    assert response.context["document"] == rule({"all": [{"kind": "rfm", "groups": ["important_keep"]}]})
    assert response.context["form"]["name"].value() == "Important to keep"
    unknown = marketing_client.get(url("segments:create") + "?rfm=nonsense")
    assert unknown.context["document"] == rule({"all": []})


def test_the_status_polls_while_building_and_reloads_the_page_when_ready(
    marketing_client: Client,
    marketer_actor: Actor,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    segment = segment_create(actor=marketer_actor, name="排队中", rules=CITY_SHANGHAI)  # built after commit
    assert segment.is_ready is False
    detail = marketing_client.get(url("segments:detail", segment))
    assert (detail.context["status"], detail.context["polling"]) == ("building", True)
    assert b'hx-trigger="every 2s"' in detail.content
    polled = marketing_client.get(url("segments:status", segment) + "?polling=1", HTTP_HX_REQUEST="true")
    assert "HX-Refresh" not in polled.headers
    assert b'hx-trigger="every 2s"' in polled.content

    # A large workspace queues the rebuild (the test task backend runs it at once) and polls until done.
    monkeypatch.setattr("siyu.segments.views.segments.INLINE_BUILD_MAX_CONTACTS", -1)
    with django_capture_on_commit_callbacks(execute=True):  # queued once the request commits
        response = marketing_client.post(url("segments:rebuild", segment))
    assert response["Location"].startswith(url("segments:detail", segment) + "?rebuilding=")
    segment.refresh_from_db()
    assert (segment.is_ready, SegmentBuild.objects.filter(segment=segment).count()) == (True, 1)
    since = response["Location"].split("?rebuilding=")[1]
    assert "%2B" in since  # the offset's “+” survives the query string
    polling = marketing_client.get(response["Location"])
    assert (polling.context["polling"], polling.context["rebuilding"]) == (False, "")
    done = marketing_client.get(
        url("segments:status", segment) + f"?polling=1&rebuilding={since}", HTTP_HX_REQUEST="true"
    )
    assert done.headers["HX-Refresh"] == "true"
    assert b"every 2s" not in done.content
    future = "2100-01-01T00:00:00%2B00:00"
    waiting = marketing_client.get(url("segments:status", segment) + f"?polling=1&rebuilding={future}")
    assert waiting.context["polling"] is True


def test_list_and_members_pages_do_not_query_per_row(
    marketing_client: Client, marketer_actor: Actor, rep: Member
) -> None:
    for n in range(3):
        ContactFactory(name=f"上海客户{n}", city="上海", owner=rep)
    segment = segment_create(actor=marketer_actor, name="上海0", rules=CITY_SHANGHAI, build_now=True)

    def queries(path: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert marketing_client.get(path).status_code == 200
        return len(captured)

    queries(url("segments:list"))  # the first request of a session also writes the session
    few_list, few_members = queries(url("segments:list")), queries(url("segments:members", segment))
    for n in range(6):
        ContactFactory(name=f"上海新客{n}", city="上海", owner=rep)
        segment_create(actor=marketer_actor, name=f"上海{n + 1}", rules=CITY_SHANGHAI, build_now=True)
    segment_build(segment=segment)
    assert len(members(segment)) == 9
    assert queries(url("segments:list")) == few_list
    assert queries(url("segments:members", segment)) == few_members
