"""Contact pages through the Django test client: roles, scope, HTMX, filters, bulk, forms, merge, 404s."""

from collections.abc import Callable
from datetime import date

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from siyu.contacts.models import (
    Contact,
    ContactTag,
    FieldType,
    FollowUp,
    Identity,
    Stage,
    StageChange,
    TimelineEntry,
    TimelineKind,
)
from siyu.contacts.services import contact_merge
from siyu.core.tenancy import workspace_scope
from siyu.tenancy.models import AuditAction, AuditEntry, Member, Workspace
from siyu.tenancy.roles import Role
from tests.conftest import client_for
from tests.factories import (
    ChannelFactory,
    ContactFactory,
    CustomFieldFactory,
    MemberFactory,
    TagFactory,
    TagGroupFactory,
)

PHONE = "+8613812345678"


@pytest.fixture
def rep_client(client: Client, rep: Member) -> Client:
    return client_for(rep, client=client)


@pytest.fixture
def admin_client(client: Client, admin: Member) -> Client:
    return client_for(admin, client=client)


@pytest.fixture
def foreign_contact(other_workspace: Workspace) -> Contact:
    with workspace_scope(other_workspace.id):
        return ContactFactory(name="外人甲", phone="+8613900000001", email="secret@other.example")


def detail(contact: Contact) -> str:
    return reverse("contacts:detail", kwargs={"contact_id": contact.id})


def names_in(response) -> list[str]:
    """Names on the page, in page order (newest id first)."""
    return [row["contact"].name for row in response.context["rows"]]


def name_set(response) -> list[str]:
    """Names on the page, sorted (ids made in the same millisecond have no guaranteed order)."""
    return sorted(names_in(response))


# ------------------------------------------------------------------------------------------- list


def test_list_shows_own_and_pool_contacts_to_a_rep_with_phones_masked(
    rep_client: Client, rep: Member, make_member: Callable[..., Member]
) -> None:
    other_rep = make_member(Role.SALES)
    ContactFactory(name="我的客户", owner=rep, phone=PHONE)
    ContactFactory(name="公海客户", owner=None)
    ContactFactory(name="别人的客户", owner=other_rep)
    response = rep_client.get(reverse("contacts:list"))
    assert response.status_code == 200
    assert name_set(response) == sorted(["公海客户", "我的客户"])
    body = response.content.decode()
    assert "138****5678" in body
    assert PHONE not in body
    assert "别人的客户" not in body


def test_list_needs_login(client: Client, db: None) -> None:
    response = client.get(reverse("contacts:list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("web:login"))


def test_htmx_request_gets_only_the_table(rep_client: Client, rep: Member) -> None:
    ContactFactory(name="张三", owner=rep)
    full = rep_client.get(reverse("contacts:list"))
    fragment = rep_client.get(
        reverse("contacts:list"), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="contact-table"
    )
    assert "<html" in full.content.decode()
    body = fragment.content.decode()
    assert "<html" not in body
    assert 'id="filters"' not in body
    assert "张三" in body


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=zs", ["张三"]),
        ("q=zhangsan", ["张三"]),
        ("q=5678", ["张三"]),
        ("q=lisi%40example.com", ["李四"]),
        ("stage=customer", ["李四"]),
        ("stage=customer&stage=visitor", ["王五", "李四", "张三"]),
        ("owner=me", ["李四", "张三"]),
        ("owner=pool", ["王五"]),
        ("created_from=2000-01-01&created_to=2000-01-02", []),
    ],
)
def test_filters_return_exact_rows(rep_client: Client, rep: Member, query: str, expected: list[str]) -> None:
    ContactFactory(name="张三", owner=rep, phone=PHONE)
    ContactFactory(name="李四", owner=rep, email="lisi@example.com", stage=Stage.CUSTOMER)
    ContactFactory(name="王五", owner=None)
    response = rep_client.get(f"{reverse('contacts:list')}?{query}")
    assert name_set(response) == sorted(expected)


def test_tag_filters_any_all_none(rep_client: Client, rep: Member) -> None:
    vip, new = TagFactory(name="VIP"), TagFactory(name="新客")
    both = ContactFactory(name="两个标签", owner=rep)
    one = ContactFactory(name="一个标签", owner=rep)
    ContactFactory(name="没有标签", owner=rep)
    ContactTag.objects.create(contact=both, tag=vip)
    ContactTag.objects.create(contact=both, tag=new)
    ContactTag.objects.create(contact=one, tag=vip)
    base = f"{reverse('contacts:list')}?tag={vip.id}&tag={new.id}"
    assert name_set(rep_client.get(base)) == sorted(["一个标签", "两个标签"])
    assert names_in(rep_client.get(f"{base}&tag_match=all")) == ["两个标签"]
    assert names_in(rep_client.get(f"{base}&tag_match=none")) == ["没有标签"]


def test_channel_and_custom_field_filters(rep_client: Client, rep: Member) -> None:
    store = ChannelFactory(name="门店")
    CustomFieldFactory(key="skin", label="肤质", type=FieldType.SELECT, options=["干性", "油性"])
    CustomFieldFactory(key="vip", label="VIP", type=FieldType.BOOLEAN)
    ContactFactory(name="门店客", owner=rep, channel=store, custom={"skin": "干性", "vip": True})
    ContactFactory(name="线上客", owner=rep, custom={"skin": "油性", "vip": False})
    url = reverse("contacts:list")
    assert names_in(rep_client.get(f"{url}?channel={store.id}")) == ["门店客"]
    assert names_in(rep_client.get(f"{url}?cf_skin=油性")) == ["线上客"]
    assert names_in(rep_client.get(f"{url}?cf_vip=true")) == ["门店客"]
    CustomFieldFactory(key="likes", label="偏好", type=FieldType.MULTI_SELECT, options=["面膜", "口红"])
    ContactFactory(name="多选客", owner=rep, custom={"likes": ["面膜", "口红"]})
    assert names_in(rep_client.get(f"{url}?cf_likes=口红")) == ["多选客"]
    bad = rep_client.get(f"{url}?cf_skin=混合")
    assert "肤质" in bad.context["filter_errors"][0]


def test_columns_are_chosen_and_remembered_in_the_session(rep_client: Client, rep: Member) -> None:
    CustomFieldFactory(key="skin", label="肤质", type=FieldType.TEXT)
    ContactFactory(name="张三", owner=rep, city="上海", custom={"skin": "干性"})
    url = reverse("contacts:list")
    response = rep_client.get(f"{url}?col=name&col=city&col=cf.skin")
    assert [c.key for c in response.context["columns"]] == ["name", "city", "cf.skin"]
    assert "干性" in response.content.decode()
    again = rep_client.get(url)
    assert [c.key for c in again.context["columns"]] == ["name", "city", "cf.skin"]


def test_keyset_pagination_next_and_previous(rep_client: Client, rep: Member) -> None:
    created = [ContactFactory(name=f"客户{n:03d}", owner=rep) for n in range(55)]
    newest_first = [c.name for c in sorted(created, key=lambda c: c.id, reverse=True)]
    url = reverse("contacts:list")
    first = rep_client.get(url)
    assert names_in(first) == newest_first[:50]
    assert first.context["previous_cursor"] is None
    assert first.context["total"] == 55
    second = rep_client.get(f"{url}?cursor={first.context['next_cursor']}")
    assert names_in(second) == newest_first[50:]
    assert second.context["next_cursor"] is None
    assert second.context["total"] is None  # never counted again while paging
    back = rep_client.get(f"{url}?before={second.context['previous_cursor']}")
    assert names_in(back) == newest_first[:50]
    assert back.context["previous_cursor"] is None


def test_total_is_capped(rep_client: Client, rep: Member, monkeypatch: pytest.MonkeyPatch) -> None:
    from siyu.contacts import views

    monkeypatch.setattr(views, "COUNT_CAP", 3)
    for n in range(5):
        ContactFactory(name=f"客户{n}", owner=rep)
    response = rep_client.get(reverse("contacts:list"))
    assert response.context["total_capped"] is True
    assert "More than 3 contacts" in response.content.decode()


def test_list_query_count_does_not_grow_with_rows(rep_client: Client, rep: Member) -> None:
    channel = ChannelFactory()
    tag = TagFactory()

    def make(count: int) -> None:
        for _n in range(count):
            contact = ContactFactory(owner=rep, channel=channel)
            ContactTag.objects.create(contact=contact, tag=tag)

    url = f"{reverse('contacts:list')}?col=name&col=owner&col=channel&col=tags"
    make(3)
    rep_client.get(url)  # warm the session
    with CaptureQueriesContext(connection) as few:
        rep_client.get(url)
    make(40)
    with CaptureQueriesContext(connection) as many:
        response = rep_client.get(url)
    assert len(names_in(response)) == 43
    assert len(many) == len(few)
    assert len(many) <= 16


def test_export_button_posts_the_current_query_when_export_exists(admin_client: Client) -> None:
    from django.urls import NoReverseMatch

    try:
        export_url = reverse("imports:export_create")
    except NoReverseMatch:
        export_url = None
    body = admin_client.get(f"{reverse('contacts:list')}?q=zs").content.decode()
    if export_url is None:
        assert "Export" not in body
    else:
        assert f'action="{export_url}"' in body
        assert 'name="query" value="q=zs' in body


# -------------------------------------------------------------------------------------- saved views


def test_saved_view_save_apply_and_delete(rep_client: Client, rep: Member) -> None:
    from siyu.contacts.models import SavedView

    response = rep_client.post(
        reverse("contacts:saved_view_create"),
        {"name": "我的客户", "query": "owner=me&stage=customer&col=name&col=city"},
    )
    view = SavedView.objects.get(name="我的客户")
    assert view.filters["owner"] == "me"
    assert view.filters["stages"] == ["customer"]
    assert view.columns == ["name", "city"]
    assert response["Location"] == f"{reverse('contacts:list')}?view={view.id}"
    applied = rep_client.get(response["Location"])
    assert applied.status_code == 302
    assert applied["Location"] == f"{reverse('contacts:list')}?stage=customer&owner=me&col=name&col=city"
    assert rep_client.get(applied["Location"]).status_code == 200
    rep_client.post(reverse("contacts:saved_view_delete", kwargs={"view_id": view.id}))
    assert not SavedView.objects.filter(id=view.id).exists()


def test_saved_view_needs_a_name(rep_client: Client) -> None:
    response = rep_client.post(reverse("contacts:saved_view_create"), {"name": "", "query": ""}, follow=True)
    assert "Give the view a name of 1 to 100 characters." in response.content.decode()


def test_another_workspaces_saved_view_is_404(rep_client: Client, other_workspace: Workspace) -> None:
    from siyu.contacts.models import SavedView

    with workspace_scope(other_workspace.id):
        stranger = MemberFactory(role=Role.ADMIN)
        view = SavedView.objects.create(member=stranger, name="外部视图", is_shared=True)
    assert rep_client.get(f"{reverse('contacts:list')}?view={view.id}").status_code == 404
    response = rep_client.post(reverse("contacts:saved_view_delete", kwargs={"view_id": view.id}))
    assert response.status_code == 404
    assert "外部视图" not in response.content.decode()


# ------------------------------------------------------------------------------------------ bulk


def test_bulk_tag_on_selected_rows_reports_the_count(rep_client: Client, rep: Member) -> None:
    tag = TagFactory(name="VIP")
    a, b = ContactFactory(owner=rep), ContactFactory(owner=rep)
    untouched = ContactFactory(owner=rep)
    response = rep_client.post(
        reverse("contacts:bulk"),
        {
            "action": "tag",
            "target": "selected",
            "ids": [str(a.id), str(b.id)],
            "tag": str(tag.id),
            "query": "",
        },
        follow=True,
    )
    assert "2 contacts changed." in response.content.decode()
    assert set(ContactTag.objects.filter(tag=tag).values_list("contact_id", flat=True)) == {a.id, b.id}
    assert not ContactTag.objects.filter(contact=untouched).exists()


def test_bulk_on_the_whole_filtered_list(rep_client: Client, rep: Member) -> None:
    ContactFactory(name="客户甲", owner=rep, stage=Stage.VISITOR)
    ContactFactory(name="客户乙", owner=rep, stage=Stage.VISITOR)
    kept = ContactFactory(name="客户丙", owner=rep, stage=Stage.FRIEND)
    response = rep_client.post(
        reverse("contacts:bulk"),
        {"action": "stage", "target": "all", "stage": "customer", "query": "stage=visitor"},
        follow=True,
    )
    assert "2 contacts changed." in response.content.decode()
    assert list(
        Contact.objects.filter(stage=Stage.CUSTOMER).order_by("name").values_list("name", flat=True)
    ) == [
        "客户乙",
        "客户甲",
    ]
    kept.refresh_from_db()
    assert kept.stage == Stage.FRIEND


def test_bulk_cannot_touch_contacts_out_of_scope(
    rep_client: Client, rep: Member, make_member: Callable[..., Member], foreign_contact: Contact
) -> None:
    other_rep = make_member(Role.SALES)
    theirs = ContactFactory(owner=other_rep)
    tag = TagFactory()
    response = rep_client.post(
        reverse("contacts:bulk"),
        {
            "action": "tag",
            "target": "selected",
            "ids": [str(theirs.id), str(foreign_contact.id)],
            "tag": str(tag.id),
        },
        follow=True,
    )
    assert "0 contacts changed." in response.content.decode()
    assert not ContactTag.objects.filter(tag=tag).exists()


def test_bulk_assign_and_release_to_pool(admin_client: Client, admin: Member, rep: Member) -> None:
    a, b = ContactFactory(owner=None), ContactFactory(owner=None)
    admin_client.post(
        reverse("contacts:bulk"),
        {"action": "assign", "target": "selected", "ids": [str(a.id), str(b.id)], "owner": str(rep.id)},
    )
    assert set(Contact.objects.filter(owner=rep).values_list("id", flat=True)) == {a.id, b.id}
    response = admin_client.post(
        reverse("contacts:bulk"),
        {"action": "assign", "target": "selected", "ids": [str(a.id)], "owner": "pool"},
        follow=True,
    )
    assert "1 contact changed." in response.content.decode()
    a.refresh_from_db()
    assert a.owner_id is None


def test_bulk_delete_needs_the_permission(rep_client: Client, rep: Member) -> None:
    contact = ContactFactory(owner=rep)
    response = rep_client.post(
        reverse("contacts:bulk"),
        {"action": "delete", "target": "selected", "ids": [str(contact.id)]},
        follow=True,
    )
    assert "You do not have permission to do this" in response.content.decode()
    assert Contact.objects.filter(id=contact.id).exists()


def test_bulk_delete_by_an_admin(admin_client: Client) -> None:
    contacts = [ContactFactory(), ContactFactory()]
    response = admin_client.post(
        reverse("contacts:bulk"),
        {"action": "delete", "target": "selected", "ids": [str(c.id) for c in contacts]},
        follow=True,
    )
    assert "2 contacts changed." in response.content.decode()
    assert Contact.objects.count() == 0
    assert AuditEntry.objects.filter(action=AuditAction.CONTACT_DELETED).count() == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"action": "tag", "target": "selected", "ids": []}, "Choose the tag to add or remove."),
        ({"action": "stage", "target": "all"}, "Choose the new stage."),
        ({"action": "tag", "target": "selected", "tag": ""}, "Select at least one contact"),
        ({"action": "explode", "target": "all"}, "Select a valid choice."),
    ],
)
def test_bulk_form_errors_are_sentences(rep_client: Client, data: dict[str, object], message: str) -> None:
    response = rep_client.post(reverse("contacts:bulk"), data, follow=True)
    assert message in response.content.decode()


# ------------------------------------------------------------------------------- create and edit


def test_create_contact_with_custom_fields(rep_client: Client, rep: Member) -> None:
    CustomFieldFactory(key="budget", label="预算", type=FieldType.NUMBER)
    CustomFieldFactory(key="skin", label="肤质", type=FieldType.MULTI_SELECT, options=["干性", "敏感"])
    response = rep_client.post(
        reverse("contacts:create"),
        {
            "name": "赵六",
            "phone": "13812345678",
            "stage": "follower",
            "owner": str(rep.id),
            "cf_budget": "300",
            "cf_skin": ["干性", "敏感"],
        },
    )
    contact = Contact.objects.get(name="赵六")
    assert response["Location"] == detail(contact)
    assert contact.phone == PHONE
    assert contact.stage == Stage.FOLLOWER
    assert contact.owner_id == rep.id
    assert contact.custom == {"budget": 300, "skin": ["干性", "敏感"]}


def test_create_form_errors_are_human_sentences(rep_client: Client) -> None:
    response = rep_client.post(
        reverse("contacts:create"), {"name": "", "phone": "12345", "email": "not-an-email"}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "is not a valid phone number" in body or "is not a phone number" in body
    assert not Contact.objects.exists()


def test_create_with_nothing_says_what_is_needed(rep_client: Client) -> None:
    response = rep_client.post(reverse("contacts:create"), {"name": ""})
    assert response.status_code == 400
    assert "A contact needs at least a name, a phone, an email or an identity." in response.content.decode()


def test_create_with_a_taken_phone_is_refused(rep_client: Client, rep: Member) -> None:
    ContactFactory(name="已有", owner=rep, phone=PHONE)
    response = rep_client.post(reverse("contacts:create"), {"name": "重复", "phone": PHONE})
    assert response.status_code == 400
    assert "already belongs to another contact" in response.content.decode()


def test_edit_profile(rep_client: Client, rep: Member) -> None:
    contact = ContactFactory(name="张三", owner=rep)
    url = reverse("contacts:edit", kwargs={"contact_id": contact.id})
    assert rep_client.get(url).status_code == 200
    response = rep_client.post(url, {"name": "张三丰", "city": "杭州", "email": "zsf@example.com"})
    assert response["Location"] == detail(contact)
    contact.refresh_from_db()
    assert (contact.name, contact.city, contact.email, contact.name_initials) == (
        "张三丰",
        "杭州",
        "zsf@example.com",
        "zsf",
    )
    assert TimelineEntry.objects.filter(contact=contact, kind=TimelineKind.UPDATED).count() == 1


def test_edit_shows_field_errors(rep_client: Client, rep: Member) -> None:
    CustomFieldFactory(key="budget", label="预算", type=FieldType.NUMBER)
    contact = ContactFactory(name="张三", owner=rep)
    url = reverse("contacts:edit", kwargs={"contact_id": contact.id})
    response = rep_client.post(url, {"name": "张三", "email": "bad@", "cf_budget": "lots"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Enter a number." in body


# ----------------------------------------------------------------------------------------- detail


def test_detail_shows_profile_masked_phone_and_timeline(rep_client: Client, rep: Member) -> None:
    contact = ContactFactory(name="张三", owner=rep, phone=PHONE)
    TimelineEntry.objects.create(
        contact=contact,
        kind=TimelineKind.STAGE_CHANGED,
        data={"from": "visitor", "to": "friend", "manual": True},
        member=rep,
    )
    TimelineEntry.objects.create(
        contact=contact, kind=TimelineKind.TAGS_ADDED, data={"tags": ["VIP", "新客"]}, member=rep
    )
    response = rep_client.get(detail(contact))
    assert response.status_code == 200
    body = response.content.decode()
    assert "138****5678" in body
    assert PHONE not in body
    assert f"{rep.display_name} moved the stage from Visitor to Friend." in body
    assert f"{rep.display_name} added the tags VIP、新客." in body


def test_detail_of_a_merged_away_contact_redirects_to_the_survivor(
    rep_client: Client, rep: Member, admin_actor
) -> None:
    survivor = ContactFactory(name="留下", owner=rep)
    merged = ContactFactory(name="合并走", owner=rep)
    merged_id = merged.id
    contact_merge(actor=admin_actor, survivor=survivor, other=merged)
    response = rep_client.get(reverse("contacts:detail", kwargs={"contact_id": merged_id}))
    assert response.status_code == 301
    assert response["Location"] == detail(survivor)


def test_detail_out_of_scope_is_404(rep_client: Client, make_member: Callable[..., Member]) -> None:
    contact = ContactFactory(name="别人的", owner=make_member(Role.SALES), phone=PHONE)
    response = rep_client.get(detail(contact))
    assert response.status_code == 404
    assert "别人的" not in response.content.decode()


def test_reveal_phone_is_audited_and_needs_the_permission(
    rep_client: Client, rep: Member, client: Client, make_member: Callable[..., Member]
) -> None:
    contact = ContactFactory(name="张三", owner=None, phone=PHONE)
    url = reverse("contacts:reveal_phone", kwargs={"contact_id": contact.id})
    response = rep_client.post(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert PHONE in response.content.decode()
    assert (
        AuditEntry.objects.filter(action=AuditAction.PHONE_REVEALED, target_id=str(contact.id)).count() == 1
    )
    assert rep_client.get(url).status_code == 405

    marketer = make_member(Role.MARKETING)
    other = client_for(marketer)
    assert 'hx-post="' + url not in other.get(detail(contact)).content.decode()
    denied = other.post(url)
    assert denied.status_code == 403
    assert PHONE not in denied.content.decode()


def test_stage_change_with_reason(rep_client: Client, rep: Member) -> None:
    contact = ContactFactory(owner=rep)
    rep_client.post(
        reverse("contacts:stage", kwargs={"contact_id": contact.id}),
        {"stage": "friend", "reason": "加了微信"},
    )
    change = StageChange.objects.get(contact=contact, to_stage=Stage.FRIEND)
    assert (change.from_stage, change.reason, change.is_manual) == (Stage.VISITOR, "加了微信", True)


def test_owner_change_rep_may_take_from_pool_but_not_give_away(
    rep_client: Client, rep: Member, make_member: Callable[..., Member]
) -> None:
    other_rep = make_member(Role.SALES)
    contact = ContactFactory(owner=None)
    url = reverse("contacts:owner", kwargs={"contact_id": contact.id})
    rep_client.post(url, {"owner": str(rep.id)})
    contact.refresh_from_db()
    assert contact.owner_id == rep.id
    response = rep_client.post(url, {"owner": str(other_rep.id)}, follow=True)
    assert "Choose a member or the public pool." in response.content.decode()
    contact.refresh_from_db()
    assert contact.owner_id == rep.id


def test_identities_add_remove_and_conflict_offers_merge(admin_client: Client, admin: Member) -> None:
    contact = ContactFactory(name="甲")
    holder = ContactFactory(name="乙")
    Identity.objects.create(contact=holder, type="wechat_openid", namespace="wx1", value="o-123")
    url = reverse("contacts:identity_add", kwargs={"contact_id": contact.id})
    admin_client.post(url, {"type": "email", "value": "jia@example.com"})
    added = Identity.objects.get(contact=contact, type="email")
    assert added.value == "jia@example.com"
    response = admin_client.post(url, {"type": "wechat_openid", "namespace": "wx1", "value": "o-123"})
    assert (
        response["Location"]
        == f"{reverse('contacts:merge', kwargs={'contact_id': contact.id})}?other={holder.id}"
    )
    removed = admin_client.post(
        reverse("contacts:identity_remove", kwargs={"contact_id": contact.id, "identity_id": added.id})
    )
    assert removed.status_code == 302
    assert not Identity.objects.filter(id=added.id).exists()


def test_identity_form_errors(rep_client: Client, rep: Member) -> None:
    contact = ContactFactory(owner=rep)
    url = reverse("contacts:identity_add", kwargs={"contact_id": contact.id})
    response = rep_client.post(url, {"type": "phone", "value": "abc"}, follow=True)
    assert "“abc” is not a phone number." in response.content.decode()


def test_tags_respect_single_choice_groups(rep_client: Client, rep: Member) -> None:
    group = TagGroupFactory(name="肤质", is_exclusive=True)
    dry, oily = TagFactory(group=group, name="干性"), TagFactory(group=group, name="油性")
    contact = ContactFactory(owner=rep)
    url = reverse("contacts:tag_add", kwargs={"contact_id": contact.id})
    rep_client.post(url, {"tag": str(dry.id)})
    rep_client.post(url, {"tag": str(oily.id)})
    assert list(ContactTag.objects.filter(contact=contact).values_list("tag__name", flat=True)) == ["油性"]
    rep_client.post(reverse("contacts:tag_remove", kwargs={"contact_id": contact.id, "tag_id": oily.id}))
    assert not ContactTag.objects.filter(contact=contact).exists()


def test_follow_up_add_and_validation(rep_client: Client, rep: Member) -> None:
    contact = ContactFactory(owner=rep)
    url = reverse("contacts:follow_up_add", kwargs={"contact_id": contact.id})
    empty = rep_client.post(url, {"kind": "call", "content": ""})
    assert empty.status_code == 400
    assert "This field is required." in empty.content.decode()
    rep_client.post(url, {"kind": "wechat", "content": "发了新品试用装", "next_follow_up_on": "2030-01-02"})
    follow_up = FollowUp.objects.get(contact=contact)
    assert (follow_up.kind, follow_up.content, follow_up.next_follow_up_on) == (
        "wechat",
        "发了新品试用装",
        date(2030, 1, 2),
    )
    body = rep_client.get(detail(contact)).content.decode()
    assert f"{rep.display_name} recorded a follow-up (WeChat):" in body


def test_merge_flow_search_preview_confirm(admin_client: Client) -> None:
    survivor = ContactFactory(name="张三", phone=PHONE)
    other = ContactFactory(name="张三 (重复)", email="zs@example.com", stage=Stage.CUSTOMER)
    url = reverse("contacts:merge", kwargs={"contact_id": survivor.id})
    search = admin_client.get(f"{url}?q=zs")
    assert [c.id for c in search.context["candidates"]] == [other.id]
    preview = admin_client.get(f"{url}?other={other.id}")
    body = preview.content.decode()
    assert "The surviving contact keeps its own values" in body
    rows = {row["label"]: row for row in preview.context["preview"]}
    assert rows["Email"]["result"] == "zs@example.com"
    assert rows["Stage"]["result"] == "Customer"
    response = admin_client.post(url, {"other": str(other.id)})
    assert response["Location"] == detail(survivor)
    survivor.refresh_from_db()
    assert (survivor.email, survivor.stage) == ("zs@example.com", Stage.CUSTOMER)
    assert not Contact.objects.filter(id=other.id).exists()


def test_merge_needs_the_permission(rep_client: Client, rep: Member) -> None:
    contact = ContactFactory(owner=rep)
    assert rep_client.get(reverse("contacts:merge", kwargs={"contact_id": contact.id})).status_code == 403


def test_delete_contact(admin_client: Client) -> None:
    contact = ContactFactory(name="删我")
    response = admin_client.post(reverse("contacts:delete", kwargs={"contact_id": contact.id}))
    assert response["Location"] == reverse("contacts:list")
    assert not Contact.objects.filter(id=contact.id).exists()


def test_delete_needs_the_permission(rep_client: Client, rep: Member) -> None:
    contact = ContactFactory(owner=rep)
    assert rep_client.post(reverse("contacts:delete", kwargs={"contact_id": contact.id})).status_code == 403
    assert Contact.objects.filter(id=contact.id).exists()


# ------------------------------------------------------------------------- another workspace: 404


CONTACT_ROUTES = [
    ("get", "contacts:detail", {}),
    ("get", "contacts:edit", {}),
    ("post", "contacts:edit", {"name": "x"}),
    ("post", "contacts:stage", {"stage": "friend"}),
    ("post", "contacts:owner", {"owner": "pool"}),
    ("post", "contacts:identity_add", {"type": "email", "value": "x@example.com"}),
    ("post", "contacts:tag_add", {"tag": ""}),
    ("post", "contacts:follow_up_add", {"kind": "call", "content": "hi"}),
    ("post", "contacts:reveal_phone", {}),
    ("get", "contacts:merge", {}),
    ("post", "contacts:delete", {}),
]


@pytest.mark.parametrize(("method", "name", "data"), CONTACT_ROUTES)
def test_another_workspaces_contact_is_404_with_no_data(
    admin_client: Client, foreign_contact: Contact, method: str, name: str, data: dict[str, str]
) -> None:
    url = reverse(name, kwargs={"contact_id": foreign_contact.id})
    response = getattr(admin_client, method)(url, data)
    assert response.status_code == 404
    body = response.content.decode()
    assert "外人甲" not in body
    assert "secret@other.example" not in body
    assert "0001" not in body
    with workspace_scope(foreign_contact.workspace_id):
        foreign_contact.refresh_from_db()
        assert foreign_contact.name == "外人甲"
        assert foreign_contact.stage == Stage.VISITOR


def test_merge_with_another_workspaces_contact_is_404(admin_client: Client, foreign_contact: Contact) -> None:
    mine = ContactFactory(name="我的")
    url = reverse("contacts:merge", kwargs={"contact_id": mine.id})
    assert admin_client.get(f"{url}?other={foreign_contact.id}").status_code == 404
    assert admin_client.post(url, {"other": str(foreign_contact.id)}).status_code == 404
    with workspace_scope(foreign_contact.workspace_id):
        assert Contact.objects.filter(id=foreign_contact.id).exists()


def test_list_never_shows_another_workspace(admin_client: Client, foreign_contact: Contact) -> None:
    ContactFactory(name="本地")
    response = admin_client.get(f"{reverse('contacts:list')}?q=外人")
    assert names_in(response) == []
    assert names_in(admin_client.get(reverse("contacts:list"))) == ["本地"]


def test_home_dashboard_counts_by_stage_and_owner(admin_client: Client, admin: Member, rep: Member) -> None:
    ContactFactory(owner=rep, stage=Stage.CUSTOMER)
    ContactFactory(owner=rep, stage=Stage.CUSTOMER)
    ContactFactory(owner=None, stage=Stage.VISITOR)
    contact = ContactFactory(owner=admin)
    FollowUp.objects.create(contact=contact, author=admin, content="回访", next_follow_up_on=date(2000, 1, 1))
    response = admin_client.get(reverse("web:home"))
    stages = {row.value: row.count for row in response.context["stages"]}
    assert stages == {"visitor": 2, "engaged": 0, "follower": 0, "friend": 0, "customer": 2, "member": 0}
    owners = [(row["name"], row["count"]) for row in response.context["owners"]]
    assert owners[0] == (rep.display_name, 2)
    assert sorted(owners[1:]) == sorted([("Public pool", 1), (admin.display_name, 1)])
    assert [item["follow_up"].content for item in response.context["due"]] == ["回访"]
    assert response.context["due"][0]["is_overdue"] is True
    assert 'id="dashboard-data"' in response.content.decode()


def test_home_for_another_workspace_shows_none_of_this_one(
    client: Client, workspace: Workspace, other_workspace: Workspace
) -> None:
    ContactFactory(name="本地客户", stage=Stage.MEMBER)
    with workspace_scope(other_workspace.id):
        stranger = MemberFactory(role=Role.ADMIN)
    client_for(stranger, client=client)
    response = client.get(reverse("web:home"))
    assert {row.value: row.count for row in response.context["stages"]}["member"] == 0
    assert response.context["owners"] == []
