"""The segments and RFM API: every route's happy path with exact values, bad input, permissions,
data scope, pagination, and another workspace's ids answering 404."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from siyu.contacts.models import Contact
from siyu.contacts.services.contacts import contact_create
from siyu.contacts.services.fields import custom_field_delete
from siyu.core.tenancy import workspace_scope
from siyu.segments.models import (
    MembershipChange,
    RfmSettings,
    Segment,
    SegmentBuild,
    SegmentKind,
    SegmentMember,
)
from siyu.segments.services.evaluation import segments_reconcile
from siyu.segments.services.segments import MAX_BULK, segment_create, segment_members_add
from siyu.tenancy.actor import Actor
from siyu.tenancy.models import Member, Workspace
from siyu.tenancy.roles import Role
from siyu.tenancy.selectors import actor_for_member
from tests.api.helpers import ApiClient, error_of, in_english, make_key, other_workspace_client
from tests.conftest import client_for
from tests.factories import ContactFactory, CustomFieldFactory, MemberFactory
from tests.segments.helpers import deliver, members, rule, track
from tests.tracking.events import make_source

PHONE = "+8613800001234"


def city_is(city: str) -> dict[str, Any]:
    return rule({"kind": "field", "field": "city", "op": "eq", "value": city})


def json_of(value: Any) -> Any:
    """A value as the API renders it (datetimes in ISO 8601 with milliseconds and Z)."""
    return DjangoJSONEncoder().default(value)


@pytest.fixture
def api(admin_actor: Actor) -> ApiClient:
    return in_english(ApiClient(make_key(admin_actor, ["read", "write"])))


@pytest.fixture
def reader(admin_actor: Actor) -> ApiClient:
    return in_english(ApiClient(make_key(admin_actor, ["read"], name="dashboard")))


@pytest.fixture
def other_api(workspace: Workspace, other_workspace: Workspace) -> ApiClient:
    return in_english(other_workspace_client(other_workspace))


def session_client(member: Member) -> ApiClient:
    return ApiClient(client=client_for(member))


@pytest.fixture
def shanghai(workspace: Workspace) -> list[Contact]:
    """Two contacts in 上海 (the first with a phone), one in 北京."""
    first = ContactFactory(name="张三", city="上海", phone=PHONE)
    second = ContactFactory(name="李四", city="上海")
    ContactFactory(name="王五", city="北京")
    return [first, second]


@pytest.fixture
def built(admin_actor: Actor) -> Callable[..., Segment]:
    def make(name: str, rules: dict[str, Any], **fields: Any) -> Segment:
        return segment_create(actor=admin_actor, name=name, rules=rules, build_now=True, **fields)

    return make


@pytest.fixture
def static_list(admin_actor: Actor) -> Segment:
    return segment_create(actor=admin_actor, name="展会名单", kind=SegmentKind.STATIC)


def names(items: list[dict[str, Any]]) -> list[str]:
    return [item["name"] for item in items]


# --- create -------------------------------------------------------------------------------------


def test_create_answers_201_and_builds_in_the_background(
    api: ApiClient, shanghai: list[Contact], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/segments", {"name": " 上海客户 ", "description": "华东大区", "rules": city_is("上海")}
        )

    assert response.status_code == 201
    body = response.json()
    segment = Segment.objects.get()
    assert body == {
        "id": str(segment.id),
        "name": "上海客户",
        "description": "华东大区",
        "kind": "dynamic",
        "rules": city_is("上海"),
        "revision": 1,
        "dependencies": ["field:city"],
        "is_time_relative": False,
        "member_count": 0,
        "is_ready": False,
        "problem": "",
        "last_built_at": None,
        "snapshot_of_id": None,
        "created_by_id": None,
        "created_at": json_of(segment.created_at),
        "updated_at": json_of(segment.updated_at),
    }
    # The background build ran once the transaction committed.
    segment.refresh_from_db()
    after = api.get(f"/segments/{segment.id}").json()
    assert (after["is_ready"], after["member_count"]) == (True, 2)
    assert after["last_built_at"] == json_of(segment.last_built_at)
    assert members(segment) == {c.id for c in shanghai}


def test_create_a_static_list_is_ready_and_empty(api: ApiClient, workspace: Workspace) -> None:
    response = api.post("/segments", {"name": "展会名单", "kind": "static"})

    assert response.status_code == 201
    body = response.json()
    assert {k: body[k] for k in ("kind", "rules", "is_ready", "member_count", "dependencies")} == {
        "kind": "static",
        "rules": {},
        "is_ready": True,
        "member_count": 0,
        "dependencies": [],
    }


def test_a_member_session_records_who_created_it(admin: Member, shanghai: list[Contact]) -> None:
    response = session_client(admin).post("/segments", {"name": "上海", "rules": city_is("上海")})

    assert response.status_code == 201
    assert response.json()["created_by_id"] == str(admin.id)


@pytest.mark.parametrize(
    ("root", "fields"),
    [
        (
            {
                "all": [
                    {"kind": "field", "field": "city", "op": "eq", "value": "上海"},
                    {"kind": "field", "field": "shoe_size", "op": "eq", "value": "42"},
                ]
            },
            {"root.all[1].field": "Unknown field “shoe_size”."},
        ),
        (
            {"kind": "field", "field": "city", "op": "gt", "value": 3},
            {
                "root.op": "“gt” is not an operator for this field; use one of: eq, neq, in, not_in, "
                "contains, not_contains, starts_with, is_set, is_not_set."
            },
        ),
        (
            {
                "kind": "event",
                "type": "track",
                "name": "Order Completed",
                "window": {"last": 0},
                "op": "gte",
                "value": 1,
            },
            {"root.window.last": "Expected a whole number from 1 to 3650."},
        ),
        ({"kind": "horoscope"}, {"root.kind": "Unknown condition kind “horoscope”."}),
    ],
)
def test_create_refuses_an_invalid_rule_with_its_path_and_saves_nothing(
    api: ApiClient, workspace: Workspace, root: dict[str, Any], fields: dict[str, str]
) -> None:
    response = api.post("/segments", {"name": "坏规则", "rules": rule(root)})

    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "invalid_rule"
    assert error["fields"] == fields
    ((path, message),) = fields.items()
    assert error["message"] == f"The rule has a problem at {path}: {message}"
    assert not Segment.objects.exists()


def test_create_refuses_an_oversized_rule_and_unknown_keys(api: ApiClient, workspace: Workspace) -> None:
    huge = rule(
        {"kind": "field", "field": "city", "op": "in", "value": [f"{n:03d}" + "城" * 120 for n in range(400)]}
    )

    too_large = api.post("/segments", {"name": "太大", "rules": huge})
    unknown_key = api.post("/segments", {"name": "多余", "rules": {**city_is("上海"), "limit": 10}})
    old_version = api.post("/segments", {"name": "旧版", "rules": {"version": 0, "root": {"all": []}}})

    assert too_large.status_code == 422
    error = error_of(too_large)
    assert (error["code"], error["fields"]) == ("invalid_rule", {"root": "The rule is too large."})
    assert error["message"].startswith("The rule is too large (")
    assert error["message"].endswith(" KB; at most 32 KB).")
    assert error_of(unknown_key)["fields"] == {"limit": "Unknown key."}
    assert error_of(old_version)["fields"] == {"version": "Expected 1."}
    assert not Segment.objects.exists()


def test_create_with_bad_fields_is_422_or_409(api: ApiClient, built: Callable[..., Segment]) -> None:
    built("上海", city_is("上海"))

    no_name = api.post("/segments", {"rules": city_is("上海")})
    blank_name = api.post("/segments", {"name": "  "})
    bad_kind = api.post("/segments", {"name": "x", "kind": "smart"})
    rules_not_an_object = api.post("/segments", {"name": "x", "rules": "city = 上海"})
    static_with_rules = api.post("/segments", {"name": "x", "kind": "static", "rules": city_is("上海")})
    taken = api.post("/segments", {"name": "上海", "rules": city_is("上海")})

    assert [
        r.status_code for r in (no_name, blank_name, bad_kind, rules_not_an_object, static_with_rules)
    ] == [422] * 5
    assert set(error_of(no_name)["fields"]) == {"name"}
    assert error_of(blank_name)["fields"] == {"name": "This field is required."}
    assert set(error_of(bad_kind)["fields"]) == {"kind"}
    assert set(error_of(rules_not_an_object)["fields"]) == {"rules"}
    assert error_of(static_with_rules)["fields"] == {"rules": "Static lists take no rules."}
    assert taken.status_code == 409
    assert error_of(taken)["fields"] == {"name": "This name is taken."}
    assert Segment.objects.count() == 1


# --- validate (preview) -------------------------------------------------------------------------


def test_validate_counts_and_samples_without_saving(api: ApiClient, shanghai: list[Contact]) -> None:
    response = api.post("/segments/validate", {"rules": city_is("上海"), "sample_size": 5})

    assert response.status_code == 200
    assert response.json() == {
        "valid": True,
        "count": 2,
        "sample": [
            {"id": str(c.id), "name": c.name} for c in sorted(shanghai, key=lambda c: c.id, reverse=True)
        ],
        "errors": {},
    }
    assert not Segment.objects.exists()


def test_a_number_beyond_64_bits_in_a_rule_is_refused(api: ApiClient, workspace: Workspace) -> None:
    huge = {"kind": "purchase", "measure": "frequency", "op": "gte", "value": 2**64}
    for response in (
        api.post("/segments/validate", {"rules": rule(huge)}),
        api.post("/segments", {"name": "大数", "rules": rule(huge)}),
    ):
        assert response.status_code == 422, response.content
        assert error_of(response)["fields"] == {"root": "A number is too large."}
    assert not Segment.objects.exists()


def test_validate_answers_422_with_rule_paths(api: ApiClient, workspace: Workspace) -> None:
    response = api.post(
        "/segments/validate",
        {
            "rules": rule(
                {
                    "any": [
                        {"kind": "stage", "op": "at_least", "value": "vip"},
                        {"kind": "tags", "op": "any", "tags": ["nope"]},
                    ]
                }
            )
        },
    )

    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "invalid_rule"
    assert error["fields"] == {
        "root.any[0].value": "Unknown lifecycle stage “vip”.",
        "root.any[1].tags[0]": "“nope” is not an id.",
    }
    assert error["message"] == "The rule has a problem at root.any[0].value: Unknown lifecycle stage “vip”."


def test_validate_shows_a_rep_only_their_contacts_in_the_sample(
    rep: Member, make_member: Callable[..., Member], workspace: Workspace
) -> None:
    mine = ContactFactory(name="我的客户", city="上海", owner=rep)
    pool = ContactFactory(name="公海客户", city="上海")
    ContactFactory(name="别人的客户", city="上海", owner=make_member(Role.SALES))

    response = session_client(rep).post("/segments/validate", {"rules": city_is("上海")})

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3  # counts are workspace-wide
    assert {item["id"] for item in body["sample"]} == {str(mine.id), str(pool.id)}


# --- cycles -------------------------------------------------------------------------------------


def test_a_cycle_between_two_segments_is_refused(api: ApiClient, built: Callable[..., Segment]) -> None:
    base = built("上海", city_is("上海"))
    derived = built("非上海", rule({"kind": "segment", "op": "not_in", "segment": str(base.id)}))
    back = rule({"kind": "segment", "op": "in", "segment": str(derived.id)})
    circle = {"root.segment": "This would make segments refer to each other in a circle."}

    patched = api.patch(f"/segments/{base.id}", {"name": "改名", "rules": back})
    validated = api.post("/segments/validate", {"rules": back, "segment_id": str(base.id)})
    itself = api.post(
        "/segments/validate",
        {"rules": rule({"kind": "segment", "op": "in", "segment": str(base.id)}), "segment_id": str(base.id)},
    )

    assert (patched.status_code, validated.status_code, itself.status_code) == (422, 422, 422)
    assert error_of(patched)["fields"] == circle
    assert error_of(validated)["fields"] == circle
    assert error_of(itself)["fields"] == circle
    base.refresh_from_db()
    assert (base.name, base.rules, base.revision, base.dependencies) == (
        "上海",
        city_is("上海"),
        1,
        ["field:city"],
    )
    # Without the segment being edited, the same rule is fine (it is a new segment's rule).
    assert api.post("/segments/validate", {"rules": back}).status_code == 200


# --- list, get ----------------------------------------------------------------------------------


def test_list_filters_by_kind_and_name_and_pages_newest_first(
    api: ApiClient, built: Callable[..., Segment], static_list: Segment
) -> None:
    first = built("上海客户", city_is("上海"))
    second = built("北京客户", city_is("北京"))

    everything = api.get("/segments").json()
    dynamic = api.get("/segments", {"kind": "dynamic"}).json()
    static = api.get("/segments", {"kind": "static"}).json()
    search = api.get("/segments", {"q": "上海"}).json()
    page_one = api.get("/segments", {"limit": 2}).json()
    page_two = api.get("/segments", {"limit": 2, "cursor": page_one["next_cursor"]}).json()

    assert names(everything["items"]) == ["北京客户", "上海客户", "展会名单"]
    assert (everything["next_cursor"], everything["has_more"]) == (None, False)
    assert names(dynamic["items"]) == ["北京客户", "上海客户"]
    assert names(static["items"]) == ["展会名单"]
    assert [item["id"] for item in search["items"]] == [str(first.id)]
    assert names(page_one["items"]) == ["北京客户", "上海客户"]
    assert page_one["has_more"] is True
    assert (names(page_two["items"]), page_two["has_more"], page_two["next_cursor"]) == (
        ["展会名单"],
        False,
        None,
    )
    assert [item["id"] for item in page_one["items"]] == [str(second.id), str(first.id)]


def test_list_refuses_a_bad_cursor_kind_or_limit(api: ApiClient, workspace: Workspace) -> None:
    assert error_of(api.get("/segments", {"cursor": "!!"}))["fields"] == {"cursor": "Invalid."}
    assert set(error_of(api.get("/segments", {"kind": "smart"}))["fields"]) == {"kind"}
    assert set(error_of(api.get("/segments", {"limit": 0}))["fields"]) == {"limit"}


def test_get_answers_the_segment_after_its_build(
    api: ApiClient, built: Callable[..., Segment], shanghai: list[Contact]
) -> None:
    segment = built("上海", city_is("上海"), description="华东")

    body = api.get(f"/segments/{segment.id}").json()

    segment.refresh_from_db()
    assert body == {
        "id": str(segment.id),
        "name": "上海",
        "description": "华东",
        "kind": "dynamic",
        "rules": city_is("上海"),
        "revision": 1,
        "dependencies": ["field:city"],
        "is_time_relative": False,
        "member_count": 2,
        "is_ready": True,
        "problem": "",
        "last_built_at": json_of(segment.last_built_at),
        "snapshot_of_id": None,
        "created_by_id": str(segment.created_by_id),
        "created_at": json_of(segment.created_at),
        "updated_at": json_of(segment.updated_at),
    }


# --- update, delete -----------------------------------------------------------------------------


def test_update_renames_without_touching_the_rules(
    api: ApiClient, built: Callable[..., Segment], shanghai: list[Contact]
) -> None:
    segment = built("上海", city_is("上海"), description="旧说明")

    body = api.patch(f"/segments/{segment.id}", {"name": "上海老客"}).json()

    assert (body["name"], body["description"], body["revision"], body["member_count"]) == (
        "上海老客",
        "旧说明",
        1,
        2,
    )


def test_update_with_new_rules_bumps_the_revision_and_rebuilds(
    api: ApiClient,
    built: Callable[..., Segment],
    shanghai: list[Contact],
    django_capture_on_commit_callbacks: Any,
) -> None:
    segment = built("上海", city_is("上海"))

    with django_capture_on_commit_callbacks(execute=True):
        response = api.patch(f"/segments/{segment.id}", {"description": "改成北京", "rules": city_is("北京")})

    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["description"], body["revision"], body["rules"]) == (
        "上海",
        "改成北京",
        2,
        city_is("北京"),
    )
    assert {c.name for c in Contact.objects.filter(id__in=members(segment))} == {"王五"}
    assert api.get(f"/segments/{segment.id}").json()["member_count"] == 1


def test_update_refuses_bad_input_and_saves_nothing(
    api: ApiClient, built: Callable[..., Segment], static_list: Segment
) -> None:
    segment = built("上海", city_is("上海"))
    built("北京", city_is("北京"))

    bad_rule = api.patch(
        f"/segments/{segment.id}", {"name": "新名字", "rules": rule({"kind": "field", "field": "city"})}
    )
    taken = api.patch(f"/segments/{segment.id}", {"name": "北京"})
    static_rules = api.patch(f"/segments/{static_list.id}", {"rules": city_is("上海")})

    assert error_of(bad_rule)["fields"] == {
        "root.op": "“None” is not an operator for this field; use one of: eq, neq, in, not_in, contains, "
        "not_contains, starts_with, is_set, is_not_set."
    }
    assert taken.status_code == 409
    assert static_rules.status_code == 422
    assert error_of(static_rules)["fields"] == {"rules": "Static lists take no rules."}
    segment.refresh_from_db()
    assert (segment.name, segment.revision) == ("上海", 1)


def test_delete_answers_204_or_409_while_another_segment_is_built_on_it(
    api: ApiClient, built: Callable[..., Segment], shanghai: list[Contact]
) -> None:
    base = built("上海", city_is("上海"))
    derived = built("非上海", rule({"kind": "segment", "op": "not_in", "segment": str(base.id)}))

    refused = api.delete(f"/segments/{base.id}")

    assert refused.status_code == 409
    error = error_of(refused)
    assert (error["code"], error["message"]) == (
        "conflict",
        "Other segments are built on this one: 非上海. Change them first.",
    )
    assert Segment.objects.filter(id=base.id).exists()

    assert api.delete(f"/segments/{derived.id}").status_code == 204
    assert api.delete(f"/segments/{base.id}").status_code == 204
    assert not Segment.objects.exists()
    assert not SegmentMember.objects.exists()
    assert api.get(f"/segments/{base.id}").status_code == 404


# --- rebuild, builds ----------------------------------------------------------------------------


def test_rebuild_answers_what_the_build_changed(
    api: ApiClient, built: Callable[..., Segment], shanghai: list[Contact]
) -> None:
    segment = built("上海", city_is("上海"))
    # Rows written behind the services' back (as a raw fix would) are only found by a build.
    newcomer = ContactFactory(name="赵六", city="上海")
    Contact.objects.filter(id=shanghai[1].id).update(city="杭州")

    response = api.post(f"/segments/{segment.id}/rebuild")

    assert response.status_code == 200
    body = response.json()
    build = SegmentBuild.objects.filter(segment=segment).order_by("-started_at").first()
    assert build is not None
    assert body == {
        "kind": "full",
        "started_at": json_of(build.started_at),
        "duration_ms": build.duration_ms,
        "added": 1,
        "removed": 1,
        "size": 2,
        "found_drift": False,
    }
    assert members(segment) == {shanghai[0].id, newcomer.id}


def test_rebuild_refuses_a_static_list_and_reports_a_problem(
    api: ApiClient, admin_actor: Actor, built: Callable[..., Segment], static_list: Segment
) -> None:
    level = CustomFieldFactory(key="level", label="等级")
    segment = built("金卡", rule({"kind": "field", "field": "custom.level", "op": "eq", "value": "金"}))
    custom_field_delete(actor=admin_actor, field=level)

    static = api.post(f"/segments/{static_list.id}/rebuild")
    broken = api.post(f"/segments/{segment.id}/rebuild")

    assert static.status_code == 422
    assert error_of(static)["code"] == "not_dynamic"
    assert broken.status_code == 409
    error = error_of(broken)
    assert (error["code"], error["message"]) == (
        "segment_problem",
        "The rule has a problem at root.field: Unknown field “custom.level”.",
    )
    assert api.get(f"/segments/{segment.id}").json()["problem"] == error["message"]


def test_builds_list_recent_builds_with_drift(
    api: ApiClient, built: Callable[..., Segment], shanghai: list[Contact]
) -> None:
    segment = built("上海", city_is("上海"))
    Contact.objects.filter(id=shanghai[0].id).update(city="宁波")
    segments_reconcile()

    body = api.get(f"/segments/{segment.id}/builds").json()
    latest = api.get(f"/segments/{segment.id}/builds", {"limit": 1}).json()

    assert [(b["kind"], b["added"], b["removed"], b["size"], b["found_drift"]) for b in body] == [
        ("reconcile", 0, 1, 1, True),
        ("full", 2, 0, 2, False),
    ]
    assert latest == body[:1]
    assert set(error_of(api.get(f"/segments/{segment.id}/builds", {"limit": 101}))["fields"]) == {"limit"}


# --- members ------------------------------------------------------------------------------------


def test_members_page_through_contacts_with_when_they_entered(
    api: ApiClient, built: Callable[..., Segment], shanghai: list[Contact]
) -> None:
    segment = built("上海", city_is("上海"))
    newest_first = sorted(shanghai, key=lambda c: c.id, reverse=True)
    entered = dict(SegmentMember.objects.values_list("contact_id", "entered_at"))

    page_one = api.get(f"/segments/{segment.id}/members", {"limit": 1}).json()
    page_two = api.get(
        f"/segments/{segment.id}/members", {"limit": 1, "cursor": page_one["next_cursor"]}
    ).json()

    assert [item["id"] for item in page_one["items"] + page_two["items"]] == [str(c.id) for c in newest_first]
    assert (page_one["has_more"], page_two["has_more"], page_two["next_cursor"]) == (True, False, None)
    first = page_one["items"][0]
    assert first["entered_at"] == json_of(entered[newest_first[0].id])
    zhang = next(item for item in page_one["items"] + page_two["items"] if item["name"] == "张三")
    assert (zhang["phone"], zhang["city"], zhang["tags"]) == ("138****1234", "上海", [])


def test_members_list_costs_the_same_queries_for_more_members(
    api: ApiClient, built: Callable[..., Segment], workspace: Workspace
) -> None:
    ContactFactory.create_batch(2, city="上海")
    segment = built("上海", city_is("上海"))
    with CaptureQueriesContext(connection) as few:
        assert len(api.get(f"/segments/{segment.id}/members").json()["items"]) == 2
    ContactFactory.create_batch(8, city="上海")
    api.post(f"/segments/{segment.id}/rebuild")
    with CaptureQueriesContext(connection) as many:
        assert len(api.get(f"/segments/{segment.id}/members").json()["items"]) == 10
    assert len(many) == len(few)


def test_a_rep_sees_only_own_and_pool_members(
    rep: Member, make_member: Callable[..., Member], built: Callable[..., Segment]
) -> None:
    mine = ContactFactory(name="我的客户", city="上海", owner=rep)
    pool = ContactFactory(name="公海客户", city="上海")
    theirs = ContactFactory(name="别人的客户", city="上海", owner=make_member(Role.SALES))
    segment = built("上海", city_is("上海"))
    client = session_client(rep)

    listed = client.get(f"/segments/{segment.id}/members").json()
    detail = client.get(f"/segments/{segment.id}").json()

    assert sorted(names(listed["items"])) == sorted([mine.name, pool.name])
    assert detail["member_count"] == 3  # the size is the segment's, not the rep's share of it
    assert client.get(f"/segments/{segment.id}/members/{theirs.id}").status_code == 404
    assert client.get(f"/segments/{segment.id}/members/{mine.id}").json()["member"] is True
    history = client.get(f"/segments/{segment.id}/history").json()
    assert {item["contact"]["id"] for item in history["items"]} == {str(mine.id), str(pool.id)}
    assert client.get(f"/segments/contacts/{theirs.id}/segments").status_code == 404
    # A rep reads segments but may not change them.
    assert client.post(f"/segments/{segment.id}/rebuild").status_code == 403
    assert client.post("/segments", {"name": "我的", "rules": city_is("上海")}).status_code == 403


def test_membership_answers_whether_a_contact_is_in(
    api: ApiClient, built: Callable[..., Segment], shanghai: list[Contact]
) -> None:
    segment = built("上海", city_is("上海"))
    beijing = Contact.objects.get(name="王五")
    entered_at = SegmentMember.objects.get(segment=segment, contact=shanghai[0]).entered_at

    inside = api.get(f"/segments/{segment.id}/members/{shanghai[0].id}").json()
    outside = api.get(f"/segments/{segment.id}/members/{beijing.id}").json()

    assert inside == {
        "segment_id": str(segment.id),
        "contact_id": str(shanghai[0].id),
        "member": True,
        "entered_at": json_of(entered_at),
    }
    assert outside == {
        "segment_id": str(segment.id),
        "contact_id": str(beijing.id),
        "member": False,
        "entered_at": None,
    }
    assert api.get(f"/segments/{segment.id}/members/{UUID(int=7)}").status_code == 404


# --- static lists: members by hand --------------------------------------------------------------


def test_add_and_remove_report_per_row(
    api: ApiClient, static_list: Segment, shanghai: list[Contact], other_workspace: Workspace
) -> None:
    with workspace_scope(other_workspace.id):
        foreign = ContactFactory(name="别家客户")
    zhang, li = shanghai

    added = api.post(
        f"/segments/{static_list.id}/members/add",
        {"values": [str(li.id), "138 0000 1234", "13900000000", "hello", str(foreign.id), str(li.id)]},
    )

    assert added.status_code == 200
    assert added.json() == {
        "counts": {"added": 2, "removed": 0, "unchanged": 1, "not_found": 2, "invalid": 1},
        "results": [
            {"row": 1, "value": str(li.id), "status": "added", "contact_id": str(li.id), "message": ""},
            {
                "row": 2,
                "value": "138 0000 1234",
                "status": "added",
                "contact_id": str(zhang.id),
                "message": "",
            },
            {
                "row": 3,
                "value": "13900000000",
                "status": "not_found",
                "contact_id": None,
                "message": "No such contact.",
            },
            {
                "row": 4,
                "value": "hello",
                "status": "invalid",
                "contact_id": None,
                "message": "Not a contact id or a phone number.",
            },
            {
                "row": 5,
                "value": str(foreign.id),
                "status": "not_found",
                "contact_id": None,
                "message": "No such contact.",
            },
            {
                "row": 6,
                "value": str(li.id),
                "status": "unchanged",
                "contact_id": str(li.id),
                "message": "Already in the list.",
            },
        ],
        "member_count": 2,
    }
    assert members(static_list) == {zhang.id, li.id}

    removed = api.post(
        f"/segments/{static_list.id}/members/remove",
        {"values": [PHONE, str(Contact.objects.get(name="王五").id)]},
    )

    assert removed.json()["counts"] == {
        "added": 0,
        "removed": 1,
        "unchanged": 1,
        "not_found": 0,
        "invalid": 0,
    }
    assert [r["status"] for r in removed.json()["results"]] == ["removed", "unchanged"]
    assert removed.json()["member_count"] == 1
    assert members(static_list) == {li.id}
    assert list(
        MembershipChange.objects.filter(segment=static_list)
        .order_by("at", "kind")
        .values_list("kind", "cause")
    ) == [("entered", "manual"), ("entered", "manual"), ("exited", "manual")]


def test_add_refuses_a_dynamic_segment_an_empty_list_and_too_many_values(
    api: ApiClient, built: Callable[..., Segment], static_list: Segment, shanghai: list[Contact]
) -> None:
    segment = built("上海", city_is("上海"))

    dynamic = api.post(f"/segments/{segment.id}/members/add", {"values": [str(shanghai[0].id)]})
    empty = api.post(f"/segments/{static_list.id}/members/add", {"values": []})
    too_many = api.post(
        f"/segments/{static_list.id}/members/add", {"values": [str(shanghai[0].id)] * (MAX_BULK + 1)}
    )

    assert dynamic.status_code == 422
    assert error_of(dynamic)["message"] == (
        "Members of a dynamic segment follow its rules; add them to a static list instead."
    )
    assert set(error_of(empty)["fields"]) == {"values"}
    assert too_many.status_code == 413
    error = error_of(too_many)
    assert (error["code"], error["fields"]) == ("too_many_rows", {"values": "10001 values sent."})
    assert members(static_list) == set()


def test_add_takes_ten_thousand_values_in_one_call(
    api: ApiClient, static_list: Segment, workspace: Workspace
) -> None:
    contacts = ContactFactory.create_batch(3)
    values = [str(contacts[n % 3].id) if n < 3 else f"+86139{n:08d}" for n in range(MAX_BULK)]

    response = api.post(f"/segments/{static_list.id}/members/add", {"values": values})

    assert response.status_code == 200
    body = response.json()
    assert body["counts"] == {
        "added": 3,
        "removed": 0,
        "unchanged": 0,
        "not_found": MAX_BULK - 3,
        "invalid": 0,
    }
    assert len(body["results"]) == MAX_BULK
    assert body["member_count"] == 3


# --- snapshot, history, a contact's segments -----------------------------------------------------


def test_snapshot_makes_a_static_list_of_the_members_now(
    api: ApiClient, built: Callable[..., Segment], shanghai: list[Contact]
) -> None:
    segment = built("上海", city_is("上海"))

    response = api.post(f"/segments/{segment.id}/snapshot", {"name": "上海 3月快照"})

    assert response.status_code == 201
    body = response.json()
    snapshot = Segment.objects.get(id=body["id"])
    assert {k: body[k] for k in ("name", "kind", "snapshot_of_id", "member_count", "is_ready", "rules")} == {
        "name": "上海 3月快照",
        "kind": "static",
        "snapshot_of_id": str(segment.id),
        "member_count": 2,
        "is_ready": True,
        "rules": {},
    }
    assert members(snapshot) == members(segment)
    assert api.post(f"/segments/{segment.id}/snapshot", {"name": "上海"}).status_code == 409
    assert set(error_of(api.post(f"/segments/{segment.id}/snapshot", {}))["fields"]) == {"name"}


def test_history_pages_entries_and_exits_and_filters_them(
    api: ApiClient, admin_actor: Actor, static_list: Segment, shanghai: list[Contact]
) -> None:
    zhang, li = shanghai
    moments = [datetime(2025, 3, 1, 9, tzinfo=UTC) + timedelta(hours=n) for n in range(3)]
    segment_members_add(actor=admin_actor, segment=static_list, values=[str(zhang.id), str(li.id)])
    api.post(f"/segments/{static_list.id}/members/remove", {"values": [str(zhang.id)]})
    for change, moment in zip(MembershipChange.objects.order_by("kind", "contact_id"), moments, strict=True):
        MembershipChange.objects.filter(id=change.id).update(at=moment)
    expected = [
        {
            "id": str(c.id),
            "contact": {"id": str(c.contact_id), "name": c.contact.name},
            "kind": c.kind,
            "cause": "manual",
            "at": json_of(c.at),
        }
        for c in MembershipChange.objects.select_related("contact").order_by("-at")
    ]

    page_one = api.get(f"/segments/{static_list.id}/history", {"limit": 2}).json()
    page_two = api.get(
        f"/segments/{static_list.id}/history", {"limit": 2, "cursor": page_one["next_cursor"]}
    ).json()
    exits = api.get(f"/segments/{static_list.id}/history", {"kind": "exited"}).json()
    of_li = api.get(f"/segments/{static_list.id}/history", {"contact_id": str(li.id)}).json()

    assert page_one["items"] + page_two["items"] == expected
    assert (page_one["has_more"], page_two["has_more"]) == (True, False)
    assert [(i["contact"]["name"], i["kind"]) for i in exits["items"]] == [("张三", "exited")]
    assert [(i["contact"]["name"], i["kind"]) for i in of_li["items"]] == [("李四", "entered")]
    assert api.get(f"/segments/{static_list.id}/history", {"contact_id": str(UUID(int=1))}).status_code == 404
    assert set(error_of(api.get(f"/segments/{static_list.id}/history", {"kind": "moved"}))["fields"]) == {
        "kind"
    }
    assert error_of(api.get(f"/segments/{static_list.id}/history", {"cursor": "e30"}))["code"] == "invalid"


def test_history_pages_through_changes_of_the_same_moment(
    api: ApiClient, admin_actor: Actor, static_list: Segment, workspace: Workspace
) -> None:
    contacts = ContactFactory.create_batch(3)
    segment_members_add(actor=admin_actor, segment=static_list, values=[str(c.id) for c in contacts])
    assert MembershipChange.objects.values("at").distinct().count() == 1  # one moment for the whole call
    seen: list[str] = []
    cursor = ""
    for _page in range(3):
        body = api.get(f"/segments/{static_list.id}/history", {"limit": 1, "cursor": cursor}).json()
        seen += [item["contact"]["id"] for item in body["items"]]
        cursor = body["next_cursor"]
    assert cursor is None
    expected = MembershipChange.objects.order_by("-id").values_list("contact_id", flat=True)
    assert seen == [str(contact_id) for contact_id in expected]
    assert sorted(seen) == sorted(str(c.id) for c in contacts)


def test_a_contacts_segments_with_when_it_entered(
    api: ApiClient,
    admin_actor: Actor,
    built: Callable[..., Segment],
    static_list: Segment,
    shanghai: list[Contact],
) -> None:
    segment = built("上海", city_is("上海"))
    segment_members_add(actor=admin_actor, segment=static_list, values=[str(shanghai[0].id)])
    entered = dict(SegmentMember.objects.filter(contact=shanghai[0]).values_list("segment_id", "entered_at"))

    body = api.get(f"/segments/contacts/{shanghai[0].id}/segments").json()
    beijing = Contact.objects.get(name="王五")

    assert body == [
        {
            "id": str(segment.id),
            "name": "上海",
            "kind": "dynamic",
            "entered_at": json_of(entered[segment.id]),
        },
        {
            "id": str(static_list.id),
            "name": "展会名单",
            "kind": "static",
            "entered_at": json_of(entered[static_list.id]),
        },
    ]
    assert api.get(f"/segments/contacts/{beijing.id}/segments").json() == []


# --- RFM ----------------------------------------------------------------------------------------


THRESHOLDS = {
    "method": "thresholds",
    "recency_cuts": [7, 30, 90, 180],
    "frequency_cuts": [2, 3, 5, 10],
    "monetary_cuts": ["100", "200", "500", "1000"],
}


@pytest.fixture
def buyer(admin_actor: Actor) -> Contact:
    """One order of 150.00 ten days ago."""
    contact = contact_create(
        actor=admin_actor, data={"name": "回头客", "identities": [{"type": "user_id", "value": "u-1"}]}
    )
    at = datetime.now(UTC) - timedelta(days=10, hours=1)
    deliver(make_source(), [track("u-1", "Order Completed", at, order_id="o-1", revenue="150.00")])
    return contact


def test_rfm_settings_default_then_thresholds(api: ApiClient, workspace: Workspace) -> None:
    assert api.get("/rfm/settings").json() == {
        "method": "quintiles",
        "recency_cuts": [],
        "frequency_cuts": [],
        "monetary_cuts": [],
        "computed_at": None,
    }

    response = api.put("/rfm/settings", THRESHOLDS)

    assert response.status_code == 200
    settings = RfmSettings.objects.get()
    assert response.json() == {**THRESHOLDS, "computed_at": json_of(settings.computed_at)}
    assert api.get("/rfm/settings").json() == response.json()


def test_rfm_settings_refuse_bad_cut_points(api: ApiClient, workspace: Workspace) -> None:
    descending = api.put("/rfm/settings", {**THRESHOLDS, "recency_cuts": [30, 7, 90, 180]})
    three = api.put("/rfm/settings", {**THRESHOLDS, "frequency_cuts": [1, 2, 3]})
    words = api.put("/rfm/settings", {**THRESHOLDS, "monetary_cuts": ["a", "b", "c", "d"]})
    method = api.put("/rfm/settings", {"method": "magic"})

    assert error_of(descending)["fields"] == {
        "recency_cuts": "Cut points go up from left to right and are not negative."
    }
    assert error_of(three)["fields"] == {"frequency_cuts": "Give four cut points."}
    assert set(error_of(words)["fields"]) == {f"monetary_cuts.{n}" for n in range(4)}
    assert set(error_of(method)["fields"]) == {"method"}
    assert not RfmSettings.objects.exists()


def test_rfm_scores_a_contact_against_the_thresholds(
    api: ApiClient, buyer: Contact, admin_actor: Actor
) -> None:
    idle = contact_create(actor=admin_actor, data={"name": "只看不买"})
    assert api.get(f"/rfm/contacts/{buyer.id}").json() == {"contact_id": str(buyer.id), "score": None}

    api.put("/rfm/settings", THRESHOLDS)

    assert api.get(f"/rfm/contacts/{buyer.id}").json() == {
        "contact_id": str(buyer.id),
        "score": {
            "recency_days": 10,
            "frequency": 1,
            "monetary": "150.00",
            "r": 4,
            "f": 1,
            "m": 2,
            "group": "general_develop",
            "group_label": "General to develop",
        },
    }
    assert api.get(f"/rfm/contacts/{idle.id}").json() == {"contact_id": str(idle.id), "score": None}


def test_rfm_refresh_computes_quintiles(api: ApiClient, buyer: Contact) -> None:
    response = api.post("/rfm/refresh")

    assert response.status_code == 200
    settings = RfmSettings.objects.get()
    assert response.json() == {
        "method": "quintiles",
        "recency_cuts": [10, 10, 10, 10],
        "frequency_cuts": [1, 1, 1, 1],
        "monetary_cuts": ["150.00", "150.00", "150.00", "150.00"],
        "computed_at": json_of(settings.computed_at),
    }
    score = api.get(f"/rfm/contacts/{buyer.id}").json()["score"]
    assert (score["r"], score["f"], score["m"], score["group"]) == (5, 5, 5, "important_value")


def test_rfm_contact_follows_the_data_scope(
    rep: Member, make_member: Callable[..., Member], workspace: Workspace
) -> None:
    theirs = ContactFactory(name="别人的客户", owner=make_member(Role.SALES))
    mine = ContactFactory(name="我的客户", owner=rep)
    client = session_client(rep)

    assert client.get(f"/rfm/contacts/{theirs.id}").status_code == 404
    assert client.get(f"/rfm/contacts/{mine.id}").json() == {"contact_id": str(mine.id), "score": None}
    assert client.get("/rfm/settings").status_code == 200
    assert client.put("/rfm/settings", THRESHOLDS).status_code == 403
    assert client.post("/rfm/refresh").status_code == 403


# --- permissions and tenancy --------------------------------------------------------------------


def test_a_read_only_key_reads_but_cannot_write(
    reader: ApiClient, built: Callable[..., Segment], static_list: Segment, shanghai: list[Contact]
) -> None:
    segment = built("上海", city_is("上海"))
    before = (Segment.objects.count(), set(Segment.objects.values_list("name", "revision")))
    writes = [
        reader.post("/segments", {"name": "新", "rules": city_is("上海")}),
        reader.patch(f"/segments/{segment.id}", {"name": "改"}),
        reader.delete(f"/segments/{segment.id}"),
        reader.post(f"/segments/{segment.id}/rebuild"),
        reader.post(f"/segments/{static_list.id}/members/add", {"values": [str(shanghai[0].id)]}),
        reader.post(f"/segments/{static_list.id}/members/remove", {"values": [str(shanghai[0].id)]}),
        reader.post(f"/segments/{segment.id}/snapshot", {"name": "快照"}),
        reader.put("/rfm/settings", THRESHOLDS),
        reader.post("/rfm/refresh"),
    ]

    assert [r.status_code for r in writes] == [403] * len(writes)
    assert {error_of(r)["code"] for r in writes} == {"permission_denied"}
    assert (Segment.objects.count(), set(Segment.objects.values_list("name", "revision"))) == before
    assert members(static_list) == set()
    assert not RfmSettings.objects.exists()
    reads = [
        reader.get("/segments"),
        reader.get(f"/segments/{segment.id}"),
        reader.get(f"/segments/{segment.id}/members"),
        reader.get(f"/segments/{segment.id}/members/{shanghai[0].id}"),
        reader.get(f"/segments/{segment.id}/history"),
        reader.get(f"/segments/{segment.id}/builds"),
        reader.get(f"/segments/contacts/{shanghai[0].id}/segments"),
        reader.post("/segments/validate", {"rules": city_is("上海")}),
        reader.get("/rfm/settings"),
        reader.get(f"/rfm/contacts/{shanghai[0].id}"),
    ]
    assert [r.status_code for r in reads] == [200] * len(reads)


def test_no_credentials_is_401(workspace: Workspace) -> None:
    response = ApiClient().get("/segments")
    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"


def test_another_workspace_sees_nothing_and_gets_404_for_every_id(
    other_api: ApiClient, built: Callable[..., Segment], static_list: Segment, shanghai: list[Contact]
) -> None:
    segment = built("上海", city_is("上海"))
    contact = shanghai[0]
    by_id = [
        other_api.get(f"/segments/{segment.id}"),
        other_api.patch(f"/segments/{segment.id}", {"name": "偷改"}),
        other_api.delete(f"/segments/{segment.id}"),
        other_api.post(f"/segments/{segment.id}/rebuild"),
        other_api.get(f"/segments/{segment.id}/builds"),
        other_api.get(f"/segments/{segment.id}/members"),
        other_api.get(f"/segments/{segment.id}/members/{contact.id}"),
        other_api.post(f"/segments/{static_list.id}/members/add", {"values": [str(contact.id)]}),
        other_api.post(f"/segments/{static_list.id}/members/remove", {"values": [str(contact.id)]}),
        other_api.post(f"/segments/{segment.id}/snapshot", {"name": "偷拍"}),
        other_api.get(f"/segments/{segment.id}/history"),
        other_api.get(f"/segments/contacts/{contact.id}/segments"),
        other_api.post("/segments/validate", {"rules": city_is("上海"), "segment_id": str(segment.id)}),
        other_api.get(f"/rfm/contacts/{contact.id}"),
    ]

    assert [r.status_code for r in by_id] == [404] * len(by_id)
    assert {error_of(r)["code"] for r in by_id} == {"not_found"}
    assert other_api.get("/segments").json() == {"items": [], "next_cursor": None, "has_more": False}
    assert other_api.post("/segments/validate", {"rules": city_is("上海")}).json()["count"] == 0
    assert set(Segment.objects.values_list("name", flat=True)) == {"上海", "展会名单"}
    assert members(static_list) == set()


def test_our_key_gets_404_for_the_other_workspaces_ids(
    api: ApiClient, built: Callable[..., Segment], other_workspace: Workspace
) -> None:
    ours = built("上海", city_is("上海"))
    with workspace_scope(other_workspace.id):
        owner = MemberFactory(role=Role.OWNER)
        theirs = segment_create(actor=actor_for_member(member=owner), name="别家人群", rules=city_is("上海"))
        their_contact = ContactFactory(name="别家客户", city="上海")

    assert api.get(f"/segments/{theirs.id}").status_code == 404
    assert api.get(f"/segments/{ours.id}/members/{their_contact.id}").status_code == 404
    assert api.get(f"/segments/{ours.id}/history", {"contact_id": str(their_contact.id)}).status_code == 404
    assert api.get(f"/rfm/contacts/{their_contact.id}").status_code == 404
    assert (
        api.post(
            "/segments/validate", {"rules": rule({"kind": "segment", "op": "in", "segment": str(theirs.id)})}
        ).status_code
        == 422
    )


SEGMENT_OPERATIONS = {
    ("/api/v1/segments", "get"): "segments_list",
    ("/api/v1/segments", "post"): "segments_create",
    ("/api/v1/segments/validate", "post"): "segments_validate",
    ("/api/v1/segments/contacts/{contact_id}/segments", "get"): "segments_for_contact",
    ("/api/v1/segments/{segment_id}", "get"): "segments_get",
    ("/api/v1/segments/{segment_id}", "patch"): "segments_update",
    ("/api/v1/segments/{segment_id}", "delete"): "segments_delete",
    ("/api/v1/segments/{segment_id}/rebuild", "post"): "segments_rebuild",
    ("/api/v1/segments/{segment_id}/builds", "get"): "segments_builds",
    ("/api/v1/segments/{segment_id}/members", "get"): "segments_members_list",
    ("/api/v1/segments/{segment_id}/members/add", "post"): "segments_members_add",
    ("/api/v1/segments/{segment_id}/members/remove", "post"): "segments_members_remove",
    ("/api/v1/segments/{segment_id}/members/{contact_id}", "get"): "segments_membership",
    ("/api/v1/segments/{segment_id}/snapshot", "post"): "segments_snapshot",
    ("/api/v1/segments/{segment_id}/history", "get"): "segments_history",
    ("/api/v1/rfm/settings", "get"): "rfm_settings_get",
    ("/api/v1/rfm/settings", "put"): "rfm_settings_update",
    ("/api/v1/rfm/refresh", "post"): "rfm_refresh",
    ("/api/v1/rfm/contacts/{contact_id}", "get"): "rfm_contact",
}


def test_openapi_describes_every_segments_and_rfm_operation(db: None) -> None:
    schema = Client().get("/api/v1/openapi.json").json()
    operations = {
        (path, method): op
        for path, methods in schema["paths"].items()
        if path.startswith(("/api/v1/segments", "/api/v1/rfm"))
        for method, op in methods.items()
    }

    assert {key: op["operationId"] for key, op in operations.items()} == SEGMENT_OPERATIONS
    for op in operations.values():
        assert op["security"], op["operationId"]
        assert {"401", "403", "404", "422"} <= set(op["responses"]), op["operationId"]
    create = operations[("/api/v1/segments", "post")]
    assert create["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SegmentOut"
    }
    assert set(schema["components"]["schemas"]["SegmentOut"]["required"]) >= {
        "is_ready",
        "member_count",
        "problem",
        "revision",
        "dependencies",
        "last_built_at",
    }
