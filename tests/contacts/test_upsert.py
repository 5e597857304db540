"""contacts_upsert writes exactly the rows the ORM would, and re-plans a batch whose identities changed."""

from datetime import date
from typing import Any

import pytest

from siyu.contacts.models import (
    Contact,
    ContactTag,
    Identity,
    Stage,
    StageChange,
    TimelineEntry,
    TimelineKind,
)
from siyu.contacts.selectors import contact_tags
from siyu.contacts.services import UpsertKey, contact_create, contacts_upsert, custom_field_create
from siyu.contacts.services import upsert as upsert_module
from siyu.core.tenancy import workspace_scope
from siyu.tenancy.roles import Role
from siyu.tenancy.selectors import actor_for_member
from tests.factories import MemberFactory, TagFactory, TagGroupFactory


def test_new_contacts_are_written_with_every_derived_row(admin_actor, admin):
    custom_field_create(actor=admin_actor, label="肤质", key="skin", type="select", options=["干性", "油性"])
    rows: list[dict[str, Any]] = [
        {
            "name": "张三",
            "phone": "138 0013 8000",
            "email": "Zhang@Example.com",
            "birthday": "1990-05-01",
            "stage": "客户",
            "tags": "美白、保湿",
            "custom": {"skin": "干性"},
            "identities": [{"type": "wechat_openid", "namespace": "app1", "value": "o-1"}],
        },
        {"name": "李四", "phone": "13900139000", "owner": "公海"},
    ]

    results = contacts_upsert(actor=admin_actor, rows=rows, key=UpsertKey("phone"), source="import")

    assert [r.status for r in results] == ["created", "created"]
    zhang = Contact.objects.get(name="张三")
    li = Contact.objects.get(name="李四")
    assert (zhang.name, zhang.name_pinyin, zhang.name_initials) == ("张三", "zhangsan", "zs")
    assert (zhang.phone, zhang.phone_reversed, zhang.email) == (
        "+8613800138000",
        "0008310083168",
        "zhang@example.com",
    )
    assert (zhang.birthday, zhang.stage, zhang.custom, zhang.owner) == (
        date(1990, 5, 1),
        Stage.CUSTOMER,
        {"skin": "干性"},
        admin,
    )
    assert (zhang.gender, zhang.city, zhang.channel, zhang.last_seen_at) == ("", "", None, None)
    assert zhang.created_at == zhang.updated_at
    assert (li.owner, li.stage, li.custom) == (None, Stage.VISITOR, {})
    assert sorted(Identity.objects.values_list("contact__name", "type", "namespace", "value")) == [
        ("张三", "email", "", "zhang@example.com"),
        ("张三", "phone", "", "+8613800138000"),
        ("张三", "wechat_openid", "app1", "o-1"),
        ("李四", "phone", "", "+8613900139000"),
    ]
    assert sorted(
        StageChange.objects.values_list(
            "contact__name", "from_stage", "to_stage", "reason", "is_manual", "member"
        )
    ) == [
        ("张三", "", "customer", "import", False, admin.id),
        ("李四", "", "visitor", "import", False, admin.id),
    ]
    assert list(TimelineEntry.objects.filter(contact=zhang).values_list("kind", "data", "member")) == [
        (TimelineKind.TAGS_ADDED, {"tags": ["美白", "保湿"]}, admin.id),
        (TimelineKind.IMPORTED, {"source": "import"}, admin.id),
    ]
    assert sorted(ContactTag.objects.values_list("contact__name", "tag__name")) == [
        ("张三", "保湿"),
        ("张三", "美白"),
    ]


def test_another_workspace_sees_none_of_the_upserted_rows(admin_actor, other_workspace):
    contacts_upsert(
        actor=admin_actor, rows=[{"name": "张三", "phone": "13800138000"}], key=UpsertKey("phone")
    )

    with workspace_scope(other_workspace.id):
        assert not Contact.objects.exists()
        assert not Identity.objects.exists()
        assert not TimelineEntry.objects.exists()
        assert not StageChange.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_batch_planned_before_its_transaction_is_planned_again_when_its_identities_changed(
    workspace, monkeypatch
):
    actor = actor_for_member(member=MemberFactory(role=Role.ADMIN))
    plan = upsert_module._Batch.plan
    planned: list[int] = []

    def plan_then_someone_else_writes(batch, identities):
        planned.append(len(identities))
        made = plan(batch, identities)
        if len(planned) == 1:  # between the plan and the transaction, another request adds the phone
            contact_create(actor=actor, data={"name": "先到", "phone": "13800138000"})
        return made

    monkeypatch.setattr(upsert_module._Batch, "plan", plan_then_someone_else_writes)

    results = contacts_upsert(
        actor=actor,
        rows=[{"name": "后到", "phone": "13800138000"}, {"phone": "13900139000"}],
        key=UpsertKey("phone"),
    )

    first = Contact.objects.get(phone="+8613800138000")
    assert planned == [0, 1]
    assert [(r.status, r.contact_id) for r in results] == [
        ("updated", first.id),
        ("created", Contact.objects.get(phone="+8613900139000").id),
    ]
    assert (Contact.objects.count(), first.name) == (2, "后到")
    assert Identity.objects.filter(value="+8613800138000").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_batch_planned_before_its_transaction_is_kept_when_nothing_changed(workspace, monkeypatch):
    actor = actor_for_member(member=MemberFactory(role=Role.ADMIN))
    plan = upsert_module._Batch.plan
    planned: list[int] = []

    def counted(batch, identities):
        planned.append(len(identities))
        return plan(batch, identities)

    monkeypatch.setattr(upsert_module._Batch, "plan", counted)

    created = contacts_upsert(actor=actor, rows=[{"phone": "13800138000"}], key=UpsertKey("phone"))
    replayed = contacts_upsert(actor=actor, rows=[{"phone": "13800138000"}], key=UpsertKey("phone"))

    assert planned == [0, 1]  # once before the first write; the replay updates someone, so it plans inside
    assert [r.status for r in created + replayed] == ["created", "unchanged"]
    assert created[0].contact_id == replayed[0].contact_id == Contact.objects.get().id


def test_single_choice_tag_groups_hold_one_tag_after_upsert(admin_actor):
    skin = TagGroupFactory(name="肤质", is_exclusive=True)
    TagFactory(group=skin, name="干性")
    TagFactory(group=skin, name="油性")
    interests = TagGroupFactory(name="兴趣")
    TagFactory(group=interests, name="美白")
    key = UpsertKey("phone")
    contacts_upsert(actor=admin_actor, rows=[{"phone": "13800138000", "tags": "干性,美白"}], key=key)
    results = contacts_upsert(
        actor=admin_actor, rows=[{"phone": "13800138000", "tags": "干性,油性"}], key=key
    )
    assert results[0].status == "updated"
    contact = Contact.objects.get()
    assert sorted(t.name for t in contact_tags(contact=contact)) == ["油性", "美白"]
