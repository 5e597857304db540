from datetime import date

import pytest

from siyu.contacts import selectors
from siyu.contacts.models import (
    Contact,
    ContactRedirect,
    ContactTag,
    FieldType,
    FollowUp,
    Identity,
    Stage,
    StageChange,
    TimelineEntry,
    TimelineKind,
)
from siyu.contacts.selectors import ContactFilters, contact_get_for, contact_list
from siyu.contacts.services import (
    UpsertKey,
    contact_create,
    contact_delete,
    contact_merge,
    contact_merge_preview,
    contact_owner_change,
    contact_phone_reveal,
    contact_stage_change,
    contact_tags_add,
    contact_update,
    contacts_tag_bulk,
    contacts_upsert,
    custom_field_create,
    follow_up_create,
    identity_add,
    tag_create,
    tag_group_create,
)
from siyu.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from siyu.core.tenancy import workspace_scope
from siyu.tenancy.models import AuditAction, AuditEntry
from siyu.tenancy.roles import Role
from siyu.tenancy.selectors import actor_for_member
from tests.factories import ContactFactory, MemberFactory, TagFactory, TagGroupFactory


def test_create_normalises_phone_and_indexes_pinyin(rep_actor, rep):
    contact = contact_create(
        actor=rep_actor, data={"name": "张三", "phone": "138 0013 8000", "email": "ZS@Example.com"}
    )
    assert contact.phone == "+8613800138000"
    assert contact.email == "zs@example.com"
    assert (contact.name_pinyin, contact.name_initials) == ("zhangsan", "zs")
    assert contact.owner == rep
    assert contact.stage == Stage.VISITOR
    assert contact.masked_phone == "138****8000"
    assert sorted(Identity.objects.filter(contact=contact).values_list("type", "value")) == [
        ("email", "zs@example.com"),
        ("phone", "+8613800138000"),
    ]
    assert list(StageChange.objects.filter(contact=contact).values_list("from_stage", "to_stage")) == [
        ("", "visitor")
    ]
    assert list(TimelineEntry.objects.filter(contact=contact).values_list("kind", flat=True)) == ["created"]


def test_create_reports_every_bad_field(rep_actor):
    with pytest.raises(ValidationError) as caught:
        contact_create(
            actor=rep_actor,
            data={"name": "李四", "phone": "12345", "email": "nope", "stage": "boss", "colour": "red"},
        )
    assert set(caught.value.fields) == {"phone", "email", "stage", "colour"}
    assert Contact.objects.count() == 0


def test_create_refuses_an_identity_of_another_contact(rep_actor):
    contact_create(actor=rep_actor, data={"name": "张三", "phone": "13800138000"})
    with pytest.raises(Conflict) as caught:
        contact_create(actor=rep_actor, data={"name": "张三丰", "phone": "+86 138 0013 8000"})
    assert caught.value.code == "identity_taken"
    assert "phone" in caught.value.fields
    assert Contact.objects.count() == 1


def test_search_by_pinyin_initials_phone_suffix_and_identity(admin_actor):
    ContactFactory(name="张三", phone="+8613800138000")
    li = ContactFactory(name="李四", email="lisi@example.com")
    Identity.objects.create(contact=li, type="wechat_unionid", value="o6_unionid")
    ContactFactory(name="王五")

    def found(q: str) -> set[str]:
        return set(
            contact_list(actor=admin_actor, filters=ContactFilters(q=q)).values_list("name", flat=True)
        )

    assert found("zhangsan") == {"张三"}
    assert found("zs") == {"张三"}
    assert found("8000") == {"张三"}
    assert found("lisi@") == {"李四"}
    assert found("o6_unionid") == {"李四"}
    assert found("张") == {"张三"}
    assert found("w") == {"王五"}


def test_update_records_changes_and_keeps_identities_in_step(rep_actor):
    contact = contact_create(actor=rep_actor, data={"name": "张三", "phone": "13800138000"})
    contact_update(actor=rep_actor, contact=contact, data={"phone": "13900139000", "city": "杭州"})
    contact.refresh_from_db()
    assert contact.phone == "+8613900139000"
    assert list(Identity.objects.filter(contact=contact, type="phone").values_list("value", flat=True)) == [
        "+8613900139000"
    ]
    entry = TimelineEntry.objects.filter(contact=contact, kind=TimelineKind.UPDATED).get()
    assert entry.data["changes"] == {
        "phone": {"from": "+8613800138000", "to": "+8613900139000"},
        "city": {"from": "", "to": "杭州"},
    }


def test_custom_fields_are_validated_by_type(admin_actor):
    custom_field_create(
        actor=admin_actor, label="会员等级", key="level", type=FieldType.SELECT, options=["银", "金"]
    )
    custom_field_create(actor=admin_actor, label="累计消费", key="spent", type=FieldType.NUMBER)
    contact = contact_create(
        actor=admin_actor, data={"name": "张三", "custom": {"level": "金", "spent": "1200.50"}}
    )
    assert contact.custom == {"level": "金", "spent": 1200.5}
    with pytest.raises(ValidationError) as caught:
        contact_update(actor=admin_actor, contact=contact, data={"custom": {"level": "钻石", "spent": "abc"}})
    assert set(caught.value.fields) == {"custom.level", "custom.spent"}
    contact.refresh_from_db()
    assert contact.custom == {"level": "金", "spent": 1200.5}


def test_automatic_stage_moves_only_forward_manual_ones_anywhere(rep_actor):
    contact = ContactFactory(stage=Stage.CUSTOMER)
    assert contact_stage_change(actor=None, contact=contact, stage=Stage.ENGAGED, manual=False) is False
    assert contact_stage_change(actor=None, contact=contact, stage=Stage.MEMBER, manual=False) is True
    assert contact_stage_change(actor=rep_actor, contact=contact, stage=Stage.FRIEND, manual=True) is True
    contact.refresh_from_db()
    assert contact.stage == Stage.FRIEND
    assert contact.strength == "strong"
    assert list(StageChange.objects.filter(contact=contact).values_list("to_stage", "is_manual")) == [
        ("member", False),
        ("friend", True),
    ]


def test_a_rep_cannot_give_contacts_away_but_a_manager_can(workspace, rep_actor, rep):
    other_rep = MemberFactory(role=Role.SALES)
    manager = actor_for_member(member=MemberFactory(role=Role.MANAGER))
    contact = ContactFactory(owner=rep)
    with pytest.raises(PermissionDenied):
        contact_owner_change(actor=rep_actor, contacts=[contact], owner=other_rep)
    assert contact_owner_change(actor=rep_actor, contacts=[contact], owner=None) == 1
    assert contact_owner_change(actor=manager, contacts=[contact], owner=other_rep) == 1
    contact.refresh_from_db()
    assert contact.owner == other_rep
    assert AuditEntry.objects.filter(action=AuditAction.OWNER_CHANGED).count() == 2


def test_phone_reveal_is_audited_and_needs_the_permission(workspace, rep_actor, rep):
    contact = ContactFactory(owner=rep, phone="+8613800138000")
    assert contact_phone_reveal(actor=rep_actor, contact=contact) == "+8613800138000"
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.member_id, entry.target_id) == (
        AuditAction.PHONE_REVEALED,
        rep.id,
        str(contact.id),
    )
    marketer = actor_for_member(member=MemberFactory(role=Role.MARKETING))
    with pytest.raises(PermissionDenied):
        contact_phone_reveal(actor=marketer, contact=contact)


def test_single_choice_tag_groups_replace_the_previous_tag(admin_actor):
    skin = tag_group_create(actor=admin_actor, name="肤质", is_exclusive=True)
    dry = tag_create(actor=admin_actor, group=skin, name="干性")
    oily = tag_create(actor=admin_actor, group=skin, name="油性")
    contact = ContactFactory()
    contact_tags_add(actor=admin_actor, contact=contact, tags=[dry])
    contact_tags_add(actor=admin_actor, contact=contact, tags=[oily])
    assert [t.name for t in selectors.contact_tags(contact=contact)] == ["油性"]
    with pytest.raises(ValidationError):
        contact_tags_add(actor=admin_actor, contact=contact, tags=[dry, oily])


def test_bulk_tagging_covers_a_whole_filtered_list(admin_actor):
    tag = TagFactory(group=TagGroupFactory())
    for i in range(25):
        ContactFactory(name=f"客户{i}", stage=Stage.CUSTOMER if i % 2 else Stage.VISITOR)
    customers = contact_list(actor=admin_actor, filters=ContactFilters(stages=[Stage.CUSTOMER]))
    assert contacts_tag_bulk(actor=admin_actor, contacts=customers, tags=[tag]) == 12
    assert ContactTag.objects.filter(tag=tag).count() == 12
    assert contacts_tag_bulk(actor=admin_actor, contacts=customers, tags=[tag]) == 0
    assert contacts_tag_bulk(actor=admin_actor, contacts=customers, tags=[tag], remove=True) == 12
    assert ContactTag.objects.count() == 0


def test_merge_moves_everything_and_redirects_the_old_id(admin_actor, admin):
    survivor = ContactFactory(name="张三", phone="+8613800138000", stage=Stage.ENGAGED, city="")
    other = ContactFactory(name="张三(微信)", email="zs@example.com", stage=Stage.CUSTOMER, city="上海")
    tag = TagFactory()
    ContactTag.objects.create(contact=other, tag=tag)
    follow_up_create(actor=admin_actor, contact=other, kind="call", content="问了价格")
    preview = contact_merge_preview(survivor=survivor, other=other)
    assert preview["city"] == {"survivor": "", "other": "上海", "result": "上海"}
    assert preview["stage"]["result"] == Stage.CUSTOMER

    other_id = other.id
    contact_merge(actor=admin_actor, survivor=survivor, other=other)

    survivor.refresh_from_db()
    assert (survivor.name, survivor.email, survivor.city, survivor.stage) == (
        "张三",
        "zs@example.com",
        "上海",
        Stage.CUSTOMER,
    )
    assert not Contact.objects.filter(id=other_id).exists()
    assert set(Identity.objects.filter(contact=survivor).values_list("type", flat=True)) == {"phone", "email"}
    assert list(ContactTag.objects.filter(contact=survivor).values_list("tag_id", flat=True)) == [tag.id]
    assert FollowUp.objects.get().contact_id == survivor.id
    assert contact_get_for(admin_actor, other_id).id == survivor.id
    assert ContactRedirect.objects.get().old_id == other_id
    assert TimelineEntry.objects.filter(contact=survivor, kind=TimelineKind.MERGED).count() == 1
    assert AuditEntry.objects.filter(action=AuditAction.CONTACTS_MERGED).count() == 1


def test_identity_add_conflicts_or_merges_when_asked(admin_actor):
    first = ContactFactory(name="甲")
    second = ContactFactory(name="乙")
    identity_add(actor=admin_actor, contact=first, type="wechat_unionid", value="union-1")
    with pytest.raises(Conflict):
        identity_add(actor=admin_actor, contact=second, type="wechat_unionid", value="union-1")
    with pytest.raises(ValidationError):
        identity_add(actor=admin_actor, contact=second, type="anonymous_id", value="undefined")
    identity_add(actor=admin_actor, contact=second, type="wechat_unionid", value="union-1", merge=True)
    assert list(Contact.objects.values_list("name", flat=True)) == ["乙"]


def test_delete_is_audited(admin_actor):
    contact = ContactFactory(name="张三")
    contact_delete(actor=admin_actor, contact=contact)
    assert Contact.objects.count() == 0
    assert AuditEntry.objects.get().action == AuditAction.CONTACT_DELETED


def test_follow_ups_become_due_todos(rep_actor, rep):
    contact = ContactFactory(owner=rep)
    follow_up_create(
        actor=rep_actor,
        contact=contact,
        kind="wechat",
        content="发了新品",
        next_follow_up_on=date(2020, 1, 1),
    )
    assert [f.content for f in selectors.follow_ups_due(actor=rep_actor)] == ["发了新品"]
    follow_up_create(actor=rep_actor, contact=contact, kind="call", content="已回访")
    assert selectors.follow_ups_due(actor=rep_actor) == []
    with pytest.raises(ValidationError):
        follow_up_create(actor=rep_actor, contact=contact, kind="fax", content="")


class TestUpsert:
    def test_creates_updates_and_is_idempotent(self, admin_actor):
        rows = [
            {"name": "张三", "phone": "13800138000", "tags": "美白,保湿", "stage": "客户"},
            {"name": "李四", "phone": "13900139000"},
        ]
        first = contacts_upsert(actor=admin_actor, rows=rows, key=UpsertKey("phone"))
        assert [r.status for r in first] == ["created", "created"]
        again = contacts_upsert(actor=admin_actor, rows=rows, key=UpsertKey("phone"))
        assert [r.status for r in again] == ["unchanged", "unchanged"]
        assert [r.contact_id for r in again] == [r.contact_id for r in first]
        changed = contacts_upsert(
            actor=admin_actor, rows=[{"phone": "13800138000", "city": "杭州"}], key=UpsertKey("phone")
        )
        assert changed[0].status == "updated"
        zhang = Contact.objects.get(phone="+8613800138000")
        assert (zhang.city, zhang.stage, zhang.name_initials) == ("杭州", Stage.CUSTOMER, "zs")
        assert sorted(t.name for t in selectors.contact_tags(contact=zhang)) == ["保湿", "美白"]
        assert Contact.objects.count() == 2

    def test_bad_rows_fail_alone_with_field_paths(self, admin_actor):
        results = contacts_upsert(
            actor=admin_actor,
            rows=[{"name": "好", "phone": "13800138000"}, {"name": "坏", "phone": "999"}, {"name": "无键"}],
            key=UpsertKey("phone"),
        )
        assert [r.status for r in results] == ["created", "failed", "failed"]
        assert set(results[1].errors) == {"phone"}
        assert set(results[2].errors) == {"phone"}
        assert list(Contact.objects.values_list("name", flat=True)) == ["好"]

    def test_skip_policy_and_keys_repeated_in_a_batch(self, admin_actor):
        contacts_upsert(actor=admin_actor, rows=[{"name": "张三", "email": "a@x.cn"}], key=UpsertKey("email"))
        results = contacts_upsert(
            actor=admin_actor,
            rows=[
                {"name": "改名", "email": "a@x.cn"},
                {"name": "新", "email": "b@x.cn"},
                {"email": "b@x.cn", "city": "北京"},
            ],
            key=UpsertKey("email"),
            on_duplicate="skip",
        )
        assert [r.status for r in results] == ["skipped", "created", "updated"]
        assert dict(Contact.objects.values_list("email", "name")) == {"a@x.cn": "张三", "b@x.cn": "新"}
        assert Contact.objects.get(email="b@x.cn").city == "北京"

    def test_keyed_by_an_external_identity(self, admin_actor):
        row = {"name": "王五", "identities": [{"type": "external_id", "namespace": "shop", "value": "U1"}]}
        created = contacts_upsert(actor=admin_actor, rows=[row], key=UpsertKey("external_id", "shop"))
        updated = contacts_upsert(
            actor=admin_actor, rows=[{**row, "company": "花漾"}], key=UpsertKey("external_id", "shop")
        )
        assert (created[0].status, updated[0].status) == ("created", "updated")
        assert Contact.objects.get().company == "花漾"

    def test_a_rep_cannot_upsert_into_someone_elses_contact(self, workspace, rep_actor):
        ContactFactory(owner=MemberFactory(role=Role.SALES), phone="+8613800138000")
        results = contacts_upsert(
            actor=rep_actor, rows=[{"phone": "13800138000", "name": "抢"}], key=UpsertKey("phone")
        )
        assert results[0].status == "failed"
        assert Contact.objects.get().name != "抢"


def test_another_workspace_sees_nothing(workspace, other_workspace, admin_actor):
    contact = contact_create(actor=admin_actor, data={"name": "张三", "phone": "13800138000"})
    with workspace_scope(other_workspace.id):
        outsider = actor_for_member(member=MemberFactory(role=Role.OWNER))
        assert contact_list(actor=outsider).count() == 0
        with pytest.raises(NotFound):
            contact_get_for(outsider, contact.id)
        # The same phone is free in another workspace.
        results = contacts_upsert(actor=outsider, rows=[{"phone": "13800138000"}], key=UpsertKey("phone"))
        assert results[0].status == "created"
    assert Contact.objects.count() == 1


def test_multi_select_custom_filter_matches_all_values(admin_actor):
    custom_field_create(
        actor=admin_actor,
        label="兴趣",
        key="interests",
        type=FieldType.MULTI_SELECT,
        options=["美白", "保湿", "抗老"],
    )
    ContactFactory(name="甲", custom={"interests": ["美白", "保湿"]})
    ContactFactory(name="乙", custom={"interests": ["保湿"]})
    ContactFactory(name="丙", custom={})

    def found(values: list[str]) -> set[str]:
        filters = ContactFilters(custom={"interests": values})
        return set(contact_list(actor=admin_actor, filters=filters).values_list("name", flat=True))

    assert found(["保湿"]) == {"甲", "乙"}
    assert found(["美白", "保湿"]) == {"甲"}
    assert found(["抗老"]) == set()


def test_custom_field_keys_come_from_the_pinyin_of_chinese_labels(admin_actor):
    field = custom_field_create(actor=admin_actor, label="会员等级", type=FieldType.TEXT)
    assert field.key == "hui_yuan_deng_ji"


def test_dashboard_counts_by_stage_and_owner_respect_scope(workspace, rep_actor, rep):
    other = MemberFactory(role=Role.SALES, display_name="李销售")
    for stage in (Stage.VISITOR, Stage.VISITOR, Stage.CUSTOMER):
        ContactFactory(owner=rep, stage=stage)
    ContactFactory(owner=None, stage=Stage.FRIEND)
    ContactFactory(owner=other, stage=Stage.MEMBER)
    assert selectors.contact_counts_by_stage(actor=rep_actor) == {"visitor": 2, "customer": 1, "friend": 1}
    assert selectors.contact_counts_by_owner(actor=rep_actor) == [(rep.id, "销售小王", 3), (None, "", 1)]
    manager = actor_for_member(member=MemberFactory(role=Role.ADMIN))
    assert selectors.contact_counts_by_owner(actor=manager) == [
        (rep.id, "销售小王", 3),
        (None, "", 1),
        (other.id, "李销售", 1),
    ]
