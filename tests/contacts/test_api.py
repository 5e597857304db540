"""The contacts API: every route's happy path with exact values, its errors, and another workspace's 404."""

from typing import Any
from uuid import UUID

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from siyu.contacts.api import BulkUpsertOut
from siyu.contacts.models import (
    Contact,
    ContactRedirect,
    ContactTag,
    CustomField,
    FieldType,
    FollowUp,
    Identity,
    Stage,
    StageChange,
    Tag,
    TagGroup,
)
from siyu.contacts.services import MAX_BATCH, follow_up_create
from siyu.core.pagination import encode_cursor
from siyu.core.time import today
from siyu.tenancy.models import AuditAction, AuditEntry
from siyu.tenancy.roles import Role
from tests.api.helpers import ApiClient, error_of, make_key, other_workspace_client
from tests.factories import (
    ChannelFactory,
    ContactFactory,
    CustomFieldFactory,
    TagFactory,
    TagGroupFactory,
)

PHONE = "+8613800001234"


@pytest.fixture
def api(admin_actor):
    return ApiClient(make_key(admin_actor, ["read", "write"]))


@pytest.fixture
def other_api(workspace, other_workspace):
    return other_workspace_client(other_workspace)


@pytest.fixture
def contact(workspace):
    return ContactFactory(name="张三", phone=PHONE, email="zhang@example.com", city="上海")


def ids(response):
    return [item["id"] for item in response.json()["items"]]


# --- create, get, update, delete ----------------------------------------------------------------


def test_create_answers_201_with_the_contact(api, workspace):
    ChannelFactory(name="门店", code="store")
    CustomFieldFactory(key="level", label="等级", type=FieldType.SELECT, options=["gold", "silver"])

    response = api.post(
        "/contacts",
        {
            "name": "张三",
            "phone": "138 0000 1234",
            "email": "Zhang@Example.com",
            "gender": "女",
            "birthday": "1990-05-01",
            "channel": "store",
            "stage": "follower",
            "custom": {"level": "gold"},
            "tags": ["VIP"],
            "identities": [{"type": "wechat_openid", "namespace": "app1", "value": "o-123"}],
        },
    )

    assert response.status_code == 201
    body = response.json()
    contact = Contact.objects.get()
    assert body["id"] == str(contact.id)
    assert {k: body[k] for k in ("name", "phone", "email", "gender", "birthday", "stage", "strength")} == {
        "name": "张三",
        "phone": "138****1234",
        "email": "zhang@example.com",
        "gender": "female",
        "birthday": "1990-05-01",
        "stage": "follower",
        "strength": "medium",
    }
    assert body["owner"] is None  # an API key is no member: new contacts go to the public pool
    assert body["in_public_pool"] is True
    assert body["channel"]["code"] == "store"
    assert body["custom"] == {"level": "gold"}
    assert [t["name"] for t in body["tags"]] == ["VIP"]
    assert contact.phone == PHONE
    assert set(Identity.objects.values_list("type", "namespace", "value")) == {
        ("phone", "", PHONE),
        ("email", "", "zhang@example.com"),
        ("wechat_openid", "app1", "o-123"),
    }


def test_create_refuses_an_identity_of_another_contact_with_409(api, contact):
    response = api.post("/contacts", {"name": "张三二号", "phone": "13800001234"})

    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "identity_taken"
    assert set(error["fields"]) == {"phone"}
    assert Contact.objects.count() == 1


def test_create_with_invalid_values_is_422_with_fields(api, workspace):
    empty = api.post("/contacts", {})
    bad = api.post("/contacts", {"name": "李四", "phone": "12345", "custom": {"nope": 1}})

    assert (empty.status_code, bad.status_code) == (422, 422)
    assert set(error_of(empty)["fields"]) == {"name"}
    assert set(error_of(bad)["fields"]) == {"phone", "custom.nope"}
    assert not Contact.objects.exists()


def test_get_answers_the_contact_with_masked_phone_and_tags(api, contact):
    tag = TagFactory(name="老客")
    ContactTag.objects.create(contact=contact, tag=tag)

    response = api.get(f"/contacts/{contact.id}")

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["name"], body["phone"], body["city"]) == (
        str(contact.id),
        "张三",
        "138****1234",
        "上海",
    )
    assert body["tags"] == [
        {"id": str(tag.id), "group_id": str(tag.group_id), "name": "老客", "color": "blue", "sort_order": 0}
    ]
    assert PHONE not in response.content.decode()


def test_get_unknown_id_is_404(api, workspace):
    response = api.get("/contacts/01a00000-0000-7000-8000-000000000000")

    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_patch_changes_only_the_given_fields(api, contact):
    response = api.patch(f"/contacts/{contact.id}", {"city": "杭州", "email": None})

    assert response.status_code == 200
    contact.refresh_from_db()
    assert (contact.name, contact.city, contact.email, contact.phone) == ("张三", "杭州", "", PHONE)
    assert response.json()["city"] == "杭州"
    assert not Identity.objects.filter(type="email").exists()


def test_patch_with_invalid_values_is_422(api, contact):
    response = api.patch(f"/contacts/{contact.id}", {"email": "not-an-email", "stage": "customer"})

    assert response.status_code == 422
    assert set(error_of(response)["fields"]) == {"email"}
    contact.refresh_from_db()
    assert (contact.email, contact.stage) == ("zhang@example.com", Stage.VISITOR)


def test_delete_answers_204_and_audits(api, contact):
    response = api.delete(f"/contacts/{contact.id}")

    assert response.status_code == 204
    assert response.content == b""
    assert not Contact.objects.exists()
    assert (
        AuditEntry.objects.filter(action=AuditAction.CONTACT_DELETED, target_id=str(contact.id)).count() == 1
    )
    assert api.get(f"/contacts/{contact.id}").status_code == 404


def test_a_rep_without_delete_permission_gets_403(make_member, workspace):
    rep = make_member(Role.SALES)
    mine = ContactFactory(name="我的", owner=rep)
    client = Client()
    client.force_login(rep.user)

    response = client.delete(f"/api/v1/contacts/{mine.id}")

    assert response.status_code == 403
    assert error_of(response)["code"] == "permission_denied"
    assert Contact.objects.filter(id=mine.id).exists()


# --- list, search, filters, pagination ----------------------------------------------------------


def test_list_searches_by_pinyin_initials_and_phone_suffix(api, contact):
    ContactFactory(name="李四", phone="+8613900005678")

    assert [c["name"] for c in api.get("/contacts", {"q": "zs"}).json()["items"]] == ["张三"]
    assert [c["name"] for c in api.get("/contacts", {"q": "5678"}).json()["items"]] == ["李四"]
    assert [c["phone"] for c in api.get("/contacts", {"q": "zhangsan"}).json()["items"]] == ["138****1234"]


def test_list_filters_by_stage_tag_owner_channel_and_custom_field(api, admin, workspace):
    CustomFieldFactory(key="level", type=FieldType.SELECT, options=["gold", "silver"])
    CustomFieldFactory(key="visits", type=FieldType.NUMBER)
    channel = ChannelFactory(name="门店")
    tag = TagFactory(name="VIP")
    a = ContactFactory(name="A", stage=Stage.CUSTOMER, owner=admin, custom={"level": "gold", "visits": 3})
    b = ContactFactory(name="B", stage=Stage.FRIEND, channel=channel, custom={"level": "silver", "visits": 1})
    c = ContactFactory(name="C", stage=Stage.CUSTOMER, channel=channel)
    ContactTag.objects.create(contact=b, tag=tag)
    ContactTag.objects.create(contact=c, tag=tag)

    def names(params: dict[str, Any]) -> list[str]:
        response = api.get("/contacts", params)
        assert response.status_code == 200, response.content
        return sorted(item["name"] for item in response.json()["items"])

    assert names({"stage": ["customer"]}) == ["A", "C"]
    assert names({"stage": ["customer", "friend"]}) == ["A", "B", "C"]
    assert names({"tag": [str(tag.id)]}) == ["B", "C"]
    assert names({"tag": [str(tag.id)], "tag_match": "none"}) == ["A"]
    assert names({"owner": str(admin.id)}) == ["A"]
    assert names({"owner": "pool"}) == ["B", "C"]
    assert names({"channel": [str(channel.id)], "stage": ["customer"]}) == ["C"]
    assert names({"cf_level": "silver"}) == ["B"]
    assert names({"cf_visits": "3"}) == ["A"]
    assert names({"created_from": today().isoformat(), "owner": str(a.owner_id)}) == ["A"]


def test_list_refuses_unknown_custom_fields_and_bad_values(api, workspace):
    CustomFieldFactory(key="visits", type=FieldType.NUMBER)

    response = api.get("/contacts", {"cf_nope": "1", "cf_visits": "many"})

    assert response.status_code == 422
    assert set(error_of(response)["fields"]) == {"cf_nope", "cf_visits"}


def test_cursor_pagination_walks_every_contact_once(api, workspace):
    created = [ContactFactory(name=f"客户{i}") for i in range(7)]
    seen: list[str] = []
    flags: list[bool] = []
    params: dict[str, object] = {"limit": 3}

    while True:
        page = api.get("/contacts", params).json()
        seen += [item["id"] for item in page["items"]]
        flags.append(page["has_more"])
        if not page["next_cursor"]:
            break
        params = {"limit": 3, "cursor": page["next_cursor"]}

    assert flags == [True, True, False]
    assert len(seen) == len(set(seen)) == 7
    assert seen == [str(c.id) for c in sorted(created, key=lambda c: c.id, reverse=True)]


@pytest.mark.parametrize(
    "cursor",
    [
        "%%%",
        # Cursors that decode but were edited to hold something other than an id.
        encode_cursor("abc"),
        encode_cursor("\x00"),
        encode_cursor("1" * 40),
    ],
)
def test_bad_cursor_is_422(api, workspace, cursor):
    response = api.get("/contacts", {"cursor": cursor})

    assert response.status_code == 422
    assert error_of(response)["fields"] == {"cursor": "无效。"}


def test_contact_list_query_budget(api, admin, workspace, django_assert_max_num_queries):
    channel = ChannelFactory()
    tags = [TagFactory(), TagFactory()]
    for i in range(30):
        contact = ContactFactory(name=f"客户{i}", owner=admin, channel=channel)
        ContactTag.objects.bulk_create([ContactTag(contact=contact, tag=t) for t in tags])
    api.get("/contacts")  # the key's first use stamps last_used_at; measure steady state

    with django_assert_max_num_queries(4):
        response = api.get("/contacts", {"limit": 30})
    with CaptureQueriesContext(connection) as small:
        api.get("/contacts", {"limit": 2})
    with CaptureQueriesContext(connection) as large:
        api.get("/contacts", {"limit": 30})

    assert len(response.json()["items"]) == 30
    assert all(
        len(item["tags"]) == 2 and item["owner"] and item["channel"] for item in response.json()["items"]
    )
    assert len(small.captured_queries) == len(large.captured_queries)
    assert not any("COUNT(" in q["sql"].upper() for q in large.captured_queries)


# --- reveal, owner, stage -----------------------------------------------------------------------


def test_reveal_phone_answers_the_full_number_and_audits(api, contact):
    response = api.post(f"/contacts/{contact.id}/reveal-phone")

    assert response.status_code == 200
    assert response.json() == {"phone": PHONE}
    entry = AuditEntry.objects.get(action=AuditAction.PHONE_REVEALED)
    assert (entry.target_id, entry.api_key_id is not None) == (str(contact.id), True)


def test_owner_change_assigns_and_releases(api, contact, rep):
    assigned = api.post(f"/contacts/{contact.id}/owner", {"owner_id": str(rep.id)})
    released = api.post(f"/contacts/{contact.id}/owner", {"owner_id": None})

    assert assigned.status_code == released.status_code == 200
    assert assigned.json()["owner"] == {"id": str(rep.id), "display_name": "销售小王"}
    assert released.json()["owner"] is None
    contact.refresh_from_db()
    assert contact.owner_id is None
    assert AuditEntry.objects.filter(action=AuditAction.OWNER_CHANGED).count() == 2


def test_owner_change_to_unknown_member_is_404(api, contact):
    response = api.post(f"/contacts/{contact.id}/owner", {"owner_id": "01a00000-0000-7000-8000-000000000000"})

    assert response.status_code == 404


def test_stage_change_is_manual_and_recorded(api, contact):
    response = api.post(f"/contacts/{contact.id}/stage", {"stage": "customer", "reason": "首单"})

    assert response.status_code == 200
    assert (response.json()["stage"], response.json()["strength"]) == ("customer", "strong")
    change = StageChange.objects.get(contact=contact)
    assert (change.from_stage, change.to_stage, change.reason, change.is_manual) == (
        "visitor",
        "customer",
        "首单",
        True,
    )


def test_stage_change_refuses_unknown_stages(api, contact):
    response = api.post(f"/contacts/{contact.id}/stage", {"stage": "king"})

    assert response.status_code == 422
    assert set(error_of(response)["fields"]) == {"stage"}


# --- identities ---------------------------------------------------------------------------------


def test_identities_list_masks_phones(api, contact):
    response = api.get(f"/contacts/{contact.id}/identities")

    assert response.status_code == 200
    assert sorted((i["type"], i["value"]) for i in response.json()) == [
        ("email", "zhang@example.com"),
        ("phone", "138****1234"),
    ]


def test_identity_add_and_remove(api, contact):
    added = api.post(
        f"/contacts/{contact.id}/identities", {"type": "wechat_unionid", "namespace": "", "value": "u-1"}
    )

    assert added.status_code == 201
    assert (added.json()["type"], added.json()["value"]) == ("wechat_unionid", "u-1")
    identity_id = added.json()["id"]
    removed = api.delete(f"/contacts/{contact.id}/identities/{identity_id}")
    assert removed.status_code == 204
    assert not Identity.objects.filter(id=identity_id).exists()
    assert api.delete(f"/contacts/{contact.id}/identities/{identity_id}").status_code == 404


def test_identity_of_another_contact_is_409_or_a_merge_when_asked(api, contact):
    other = ContactFactory(name="李四")
    Identity.objects.create(contact=other, type="wechat_openid", namespace="app", value="o-9")
    payload = {"type": "wechat_openid", "namespace": "app", "value": "o-9"}

    refused = api.post(f"/contacts/{contact.id}/identities", payload)
    merged = api.post(f"/contacts/{contact.id}/identities", {**payload, "merge": True})

    assert refused.status_code == 409
    assert error_of(refused)["code"] == "identity_taken"
    assert merged.status_code == 201
    assert list(Contact.objects.values_list("id", flat=True)) == [contact.id]
    assert Identity.objects.get(value="o-9").contact_id == contact.id


def test_identity_with_bad_value_is_422(api, contact):
    response = api.post(f"/contacts/{contact.id}/identities", {"type": "phone", "value": "123"})

    assert response.status_code == 422
    assert set(error_of(response)["fields"]) == {"value"}


# --- tags on a contact --------------------------------------------------------------------------


def test_tags_add_and_remove(api, contact):
    vip, new = TagFactory(name="VIP"), TagFactory(name="新客")

    added = api.post(f"/contacts/{contact.id}/tags", {"tag_ids": [str(vip.id), str(new.id)]})
    removed = api.delete(f"/contacts/{contact.id}/tags/{vip.id}")

    assert added.status_code == 200
    assert sorted(t["name"] for t in added.json()) == ["VIP", "新客"]
    assert removed.status_code == 204
    assert list(ContactTag.objects.values_list("tag__name", flat=True)) == ["新客"]


def test_tags_add_unknown_tag_is_404_and_empty_list_422(api, contact):
    unknown = api.post(f"/contacts/{contact.id}/tags", {"tag_ids": ["01a00000-0000-7000-8000-000000000000"]})
    empty = api.post(f"/contacts/{contact.id}/tags", {"tag_ids": []})

    assert (unknown.status_code, empty.status_code) == (404, 422)
    assert not ContactTag.objects.exists()


def test_tags_add_two_of_a_single_choice_group_is_422(api, contact):
    group = TagGroupFactory(is_exclusive=True)
    a, b = TagFactory(group=group), TagFactory(group=group)

    response = api.post(f"/contacts/{contact.id}/tags", {"tag_ids": [str(a.id), str(b.id)]})

    assert response.status_code == 422
    assert set(error_of(response)["fields"]) == {"tag_ids"}


# --- follow-ups, timeline -----------------------------------------------------------------------


def test_follow_ups_create_list_complete(api, contact):
    created = api.post(
        f"/contacts/{contact.id}/follow-ups",
        {"kind": "call", "content": "电话沟通，下周回访", "next_follow_up_on": "2030-01-02"},
    )
    assert created.status_code == 201
    body = created.json()
    assert (body["kind"], body["content"], body["next_follow_up_on"], body["done_at"], body["author"]) == (
        "call",
        "电话沟通，下周回访",
        "2030-01-02",
        None,
        None,
    )

    listed = api.get(f"/contacts/{contact.id}/follow-ups")
    completed = api.post(f"/contacts/{contact.id}/follow-ups/{body['id']}/complete")

    assert [f["id"] for f in listed.json()] == [body["id"]]
    assert completed.status_code == 200
    assert completed.json()["done_at"] is not None
    assert FollowUp.objects.get().done_at is not None


def test_follow_up_errors(api, contact):
    invalid = api.post(f"/contacts/{contact.id}/follow-ups", {"content": "  "})
    unknown = api.post(f"/contacts/{contact.id}/follow-ups/01a00000-0000-7000-8000-000000000000/complete")

    assert (invalid.status_code, unknown.status_code) == (422, 404)
    assert set(error_of(invalid)["fields"]) == {"content"}


def test_follow_up_of_another_contact_is_404(api, contact, admin_actor):
    other = ContactFactory(name="李四")
    follow_up = follow_up_create(actor=admin_actor, contact=other, kind="note", content="x")

    response = api.post(f"/contacts/{contact.id}/follow-ups/{follow_up.id}/complete")

    assert response.status_code == 404
    follow_up.refresh_from_db()
    assert follow_up.done_at is None


def test_timeline_lists_events_with_phones_masked(api, contact):
    api.patch(f"/contacts/{contact.id}", {"phone": "13900005678"})
    api.post(f"/contacts/{contact.id}/follow-ups", {"content": "见面"})

    response = api.get(f"/contacts/{contact.id}/timeline", {"limit": 10})

    assert response.status_code == 200
    entries = response.json()
    assert [e["kind"] for e in entries] == ["follow_up", "updated"]
    assert entries[1]["data"]["changes"]["phone"] == {"from": "138****1234", "to": "139****5678"}
    assert "+86" not in response.content.decode()


# --- merge --------------------------------------------------------------------------------------


def test_merge_preview_and_merge(api, contact):
    other = ContactFactory(name="", phone="+8613900005678", company="花漾", stage=Stage.CUSTOMER)

    preview = api.get(f"/contacts/{contact.id}/merge-preview", {"other_id": str(other.id)})
    merged = api.post(f"/contacts/{contact.id}/merge", {"other_id": str(other.id)})

    assert preview.status_code == 200
    fields = preview.json()["fields"]
    assert fields["phone"] == {"survivor": "138****1234", "other": "139****5678", "result": "138****1234"}
    assert fields["company"] == {"survivor": "", "other": "花漾", "result": "花漾"}
    assert fields["stage"]["result"] == "customer"
    assert preview.json()["rule"].startswith("保留的客户沿用自己的资料，空白字段由另一个客户补全。")
    assert merged.status_code == 200
    assert (merged.json()["id"], merged.json()["company"], merged.json()["stage"]) == (
        str(contact.id),
        "花漾",
        "customer",
    )
    assert ContactRedirect.objects.get().old_id == other.id
    assert AuditEntry.objects.get(action=AuditAction.CONTACTS_MERGED).target_id == str(contact.id)


def test_merged_away_id_answers_the_survivor_but_never_deletes_it(api, contact):
    other = ContactFactory(name="李四")
    api.post(f"/contacts/{contact.id}/merge", {"other_id": str(other.id)})

    fetched = api.get(f"/contacts/{other.id}")
    deleted = api.delete(f"/contacts/{other.id}")

    assert fetched.status_code == 200
    assert fetched.json()["id"] == str(contact.id)
    assert fetched["Content-Location"] == f"/api/v1/contacts/{contact.id}"
    assert deleted.status_code == 404
    assert Contact.objects.filter(id=contact.id).exists()


def test_merge_with_itself_is_422(api, contact):
    response = api.post(f"/contacts/{contact.id}/merge", {"other_id": str(contact.id)})

    assert response.status_code == 422


# --- bulk upsert --------------------------------------------------------------------------------


def test_bulk_upsert_is_idempotent(api, workspace):
    rows = [
        {"name": "张三", "phone": "13800001234", "city": "上海", "tags": ["VIP"]},
        {"name": "李四", "phone": "13900005678"},
        {"name": "王五", "phone": "13700009999", "stage": "friend"},
    ]

    first = api.post("/contacts/bulk-upsert", {"rows": rows})
    second = api.post("/contacts/bulk-upsert", {"rows": rows})

    assert first.status_code == second.status_code == 200
    assert first.json()["counts"] == {"created": 3, "updated": 0, "unchanged": 0, "skipped": 0, "failed": 0}
    assert second.json()["counts"] == {"created": 0, "updated": 0, "unchanged": 3, "skipped": 0, "failed": 0}
    assert [r["status"] for r in second.json()["results"]] == ["unchanged"] * 3
    assert [r["contact_id"] for r in first.json()["results"]] == [
        r["contact_id"] for r in second.json()["results"]
    ]
    assert Contact.objects.count() == 3
    assert list(ContactTag.objects.values_list("tag__name", flat=True)) == ["VIP"]


def test_bulk_upsert_answers_in_the_documented_shape(api, workspace):
    response = api.post(
        "/contacts/bulk-upsert", {"rows": [{"name": "张三", "phone": "13800001234"}, {"phone": "123"}]}
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    body = BulkUpsertOut.model_validate(response.json())
    contact = Contact.objects.get()
    error = response.json()["results"][1]["errors"]["phone"]
    assert body.model_dump(mode="json") == response.json()
    assert response.json() == {
        "counts": {"created": 1, "updated": 0, "unchanged": 0, "skipped": 0, "failed": 1},
        "results": [
            {"index": 0, "status": "created", "contact_id": str(contact.id), "errors": {}},
            {"index": 1, "status": "failed", "contact_id": None, "errors": {"phone": error}},
        ],
    }
    assert "“123”" in error


def test_bulk_upsert_bad_rows_fail_alone(api, contact):
    response = api.post(
        "/contacts/bulk-upsert",
        {
            "rows": [
                {"name": "新客", "phone": "13600001111"},
                {"name": "坏号码", "phone": "123"},
                {"phone": "13800001234", "city": "杭州"},
                {"name": "没有键"},
            ]
        },
    )

    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["created", "failed", "updated", "failed"]
    assert set(results[1]["errors"]) == {"phone"}
    assert set(results[3]["errors"]) == {"phone"}
    assert results[2]["contact_id"] == str(contact.id)
    contact.refresh_from_db()
    assert contact.city == "杭州"
    assert sorted(Contact.objects.values_list("name", flat=True)) == ["张三", "新客"]


def test_bulk_upsert_keyed_by_another_identity_with_skip(api, workspace):
    key = {"type": "wechat_openid", "namespace": "app1"}
    row = {"name": "小红", "identities": [{"type": "wechat_openid", "namespace": "app1", "value": "o-1"}]}

    first = api.post("/contacts/bulk-upsert", {"key": key, "rows": [row]})
    second = api.post(
        "/contacts/bulk-upsert", {"key": key, "on_duplicate": "skip", "rows": [{**row, "name": "改名"}]}
    )

    assert first.json()["results"][0]["status"] == "created"
    assert second.json()["results"][0]["status"] == "skipped"
    assert list(Contact.objects.values_list("name", flat=True)) == ["小红"]


def test_bulk_upsert_over_the_batch_limit_is_413(api, workspace):
    rows = [{"phone": f"138{i:08d}"} for i in range(MAX_BATCH + 1)]

    response = api.post("/contacts/bulk-upsert", {"rows": rows})

    assert response.status_code == 413
    assert error_of(response)["code"] == "too_many_rows"
    assert not Contact.objects.exists()


def test_bulk_upsert_unknown_key_type_is_422(api, workspace):
    response = api.post("/contacts/bulk-upsert", {"key": {"type": "fax"}, "rows": []})

    assert response.status_code == 422
    assert set(error_of(response)["fields"]) == {"key.type"}


# --- tag groups and tags ------------------------------------------------------------------------


def test_tag_groups_crud(api, workspace):
    created = api.post("/tag-groups", {"name": "兴趣", "is_exclusive": True})
    group_id = created.json()["id"]
    duplicate = api.post("/tag-groups", {"name": "兴趣"})
    tag = api.post("/tags", {"group_id": group_id, "name": "护肤", "color": "green"})
    listed = api.get("/tag-groups")
    fetched = api.get(f"/tag-groups/{group_id}")
    updated = api.patch(f"/tag-groups/{group_id}", {"name": "爱好"})

    assert created.status_code == 201
    assert created.json() == {
        "id": group_id,
        "name": "兴趣",
        "is_exclusive": True,
        "sort_order": 0,
        "tags": [],
    }
    assert duplicate.status_code == 409
    assert [g["name"] for g in listed.json()] == ["兴趣"]
    assert [t["id"] for t in fetched.json()["tags"]] == [tag.json()["id"]]
    assert (updated.json()["name"], updated.json()["is_exclusive"]) == ("爱好", True)
    assert api.delete(f"/tag-groups/{group_id}").status_code == 204
    assert not TagGroup.objects.exists()
    assert not Tag.objects.exists()


def test_tags_crud(api, workspace):
    group = TagGroupFactory(name="来源")

    created = api.post("/tags", {"group_id": str(group.id), "name": "直播"})
    tag_id = created.json()["id"]
    duplicate = api.post("/tags", {"group_id": str(group.id), "name": "直播"})
    invalid = api.post("/tags", {"group_id": str(group.id), "name": ""})
    fetched = api.get(f"/tags/{tag_id}")
    updated = api.patch(f"/tags/{tag_id}", {"color": "red"})

    assert created.status_code == 201
    assert created.json() == {
        "id": tag_id,
        "group_id": str(group.id),
        "name": "直播",
        "color": "blue",
        "sort_order": 0,
    }
    assert (duplicate.status_code, invalid.status_code) == (409, 422)
    assert fetched.json()["name"] == "直播"
    assert (updated.json()["name"], updated.json()["color"]) == ("直播", "red")
    assert [t["id"] for t in api.get("/tags").json()] == [tag_id]
    assert api.delete(f"/tags/{tag_id}").status_code == 204
    assert api.get(f"/tags/{tag_id}").status_code == 404


# --- custom fields and channels -----------------------------------------------------------------


def test_custom_fields_crud(api, workspace):
    created = api.post(
        "/custom-fields", {"label": "会员等级", "key": "level", "type": "select", "options": ["金", "银"]}
    )
    field_id = created.json()["id"]
    duplicate = api.post("/custom-fields", {"label": "等级", "key": "level"})
    invalid = api.post("/custom-fields", {"label": "类型", "type": "select", "options": []})
    updated = api.patch(f"/custom-fields/{field_id}", {"options": ["金", "银", "铜"], "is_required": True})

    assert created.status_code == 201
    assert created.json() == {
        "id": field_id,
        "key": "level",
        "label": "会员等级",
        "type": "select",
        "options": ["金", "银"],
        "is_required": False,
        "sort_order": 0,
    }
    assert (duplicate.status_code, invalid.status_code) == (409, 422)
    assert set(error_of(invalid)["fields"]) == {"options"}
    assert (updated.json()["options"], updated.json()["is_required"], updated.json()["label"]) == (
        ["金", "银", "铜"],
        True,
        "会员等级",
    )
    assert [f["key"] for f in api.get("/custom-fields").json()] == ["level"]
    assert api.get(f"/custom-fields/{field_id}").json()["label"] == "会员等级"
    assert api.delete(f"/custom-fields/{field_id}").status_code == 204
    assert not CustomField.objects.exists()


def test_channels_list_and_create(api, workspace):
    created = api.post("/channels", {"name": "老带新", "kind": "referral", "code": "referral"})
    duplicate = api.post("/channels", {"name": "老带新2", "code": "referral"})
    bad_kind = api.post("/channels", {"name": "x", "kind": "pigeon"})

    assert created.status_code == 201
    assert {k: created.json()[k] for k in ("name", "code", "kind", "is_active")} == {
        "name": "老带新",
        "code": "referral",
        "kind": "referral",
        "is_active": True,
    }
    assert (duplicate.status_code, bad_kind.status_code) == (409, 422)
    assert [c["code"] for c in api.get("/channels").json()] == ["referral"]


# --- another workspace's ids answer 404 and leak nothing ----------------------------------------


@pytest.fixture
def our_data(admin_actor, contact):
    tag = TagFactory(name="机密标签")
    ContactTag.objects.create(contact=contact, tag=tag)
    follow_up = follow_up_create(actor=admin_actor, contact=contact, kind="note", content="机密跟进")
    return {
        "contact": contact.id,
        "other": ContactFactory(name="第二位").id,
        "identity": Identity.objects.filter(contact=contact).first().id,  # type: ignore[union-attr]
        "tag": tag.id,
        "group": tag.group_id,
        "field": CustomFieldFactory(key="secret", label="机密字段").id,
        "follow_up": follow_up.id,
    }


CROSS_WORKSPACE_ROUTES = [
    ("get", "/contacts/{contact}", None),
    ("patch", "/contacts/{contact}", {"city": "北京"}),
    ("delete", "/contacts/{contact}", None),
    ("post", "/contacts/{contact}/reveal-phone", None),
    ("post", "/contacts/{contact}/owner", {"owner_id": None}),
    ("post", "/contacts/{contact}/stage", {"stage": "member"}),
    ("get", "/contacts/{contact}/identities", None),
    ("post", "/contacts/{contact}/identities", {"type": "user_id", "value": "u-1"}),
    ("delete", "/contacts/{contact}/identities/{identity}", None),
    ("post", "/contacts/{contact}/tags", {"tag_ids": ["{tag}"]}),
    ("delete", "/contacts/{contact}/tags/{tag}", None),
    ("get", "/contacts/{contact}/follow-ups", None),
    ("post", "/contacts/{contact}/follow-ups", {"content": "x"}),
    ("post", "/contacts/{contact}/follow-ups/{follow_up}/complete", None),
    ("get", "/contacts/{contact}/timeline", None),
    ("get", "/contacts/{contact}/merge-preview?other_id={other}", None),
    ("post", "/contacts/{contact}/merge", {"other_id": "{other}"}),
    ("get", "/tag-groups/{group}", None),
    ("patch", "/tag-groups/{group}", {"name": "x"}),
    ("delete", "/tag-groups/{group}", None),
    ("post", "/tags", {"group_id": "{group}", "name": "x"}),
    ("get", "/tags/{tag}", None),
    ("patch", "/tags/{tag}", {"name": "x"}),
    ("delete", "/tags/{tag}", None),
    ("get", "/custom-fields/{field}", None),
    ("patch", "/custom-fields/{field}", {"label": "x"}),
    ("delete", "/custom-fields/{field}", None),
]


def _fill(value: Any, data: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return value.format(**data)
    if isinstance(value, list):
        return [_fill(v, data) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, data) for k, v in value.items()}
    return value


@pytest.mark.parametrize(("method", "path", "body"), CROSS_WORKSPACE_ROUTES)
def test_another_workspace_gets_404_and_no_data(other_api, our_data, method, path, body):
    url = _fill(path, our_data)
    before = sorted(Contact.objects.values_list("id", "name", "city", "stage", "owner_id"))

    if method in ("get", "delete"):
        response = getattr(other_api, method)(url)
    else:
        response = getattr(other_api, method)(url, _fill(body, our_data))

    assert response.status_code == 404, (url, response.content)
    assert error_of(response)["code"] == "not_found"
    text = response.content.decode()
    assert not any(secret in text for secret in ("张三", "机密", "1234", "zhang@"))
    assert sorted(Contact.objects.values_list("id", "name", "city", "stage", "owner_id")) == before
    assert Tag.objects.count() == 1
    assert CustomField.objects.count() == 1
    assert FollowUp.objects.get().done_at is None


def test_another_workspace_lists_show_none_of_ours(other_api, our_data):
    for path in ("/contacts", "/tag-groups", "/tags", "/custom-fields", "/channels"):
        response = other_api.get(path)
        assert response.status_code == 200
        body = response.json()
        assert (body["items"] if path == "/contacts" else body) == [], path


def test_another_workspace_cannot_bulk_upsert_into_ours(other_api, contact):
    response = other_api.post("/contacts/bulk-upsert", {"rows": [{"phone": "13800001234", "city": "北京"}]})

    assert response.status_code == 200
    result = response.json()["results"][0]
    assert result["status"] == "created"  # a new contact in their workspace, not ours
    assert UUID(result["contact_id"]) != contact.id
    contact.refresh_from_db()
    assert contact.city == "上海"
    assert Contact.objects.count() == 1
