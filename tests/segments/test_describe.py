"""Rule documents as sentences: every condition kind, nesting and NOT, names by id, and what a describer
that cannot read a part says (tested in English; the Chinese comes from the translations)."""

from typing import Any

import pytest

from siyu.contacts.services.tags import tag_create, tag_group_create
from siyu.core.tenancy import workspace_scope
from siyu.segments.describe import Names, RuleLine, condition_describe, rule_describe, rule_names
from siyu.segments.rules.spec import FieldSpec
from siyu.segments.services.segments import segment_create
from siyu.tenancy.actor import Actor
from siyu.tenancy.models import Workspace
from siyu.tenancy.roles import Role
from siyu.tenancy.selectors import actor_for_member
from tests.factories import MemberFactory
from tests.segments.helpers import article_reads, rule

pytestmark = pytest.mark.usefixtures("english")

TAG, CHANNEL, MEMBER, TEAM, SEGMENT = (f"00000000-0000-0000-0000-00000000000{n}" for n in range(1, 6))
NAMES = Names(
    fields={
        "city": FieldSpec("city", "City", "text"),
        "gender": FieldSpec("gender", "Gender", "choice", ("female", "male")),
        "birthday": FieldSpec("birthday", "Birthday", "date"),
        "created_at": FieldSpec("created_at", "Created", "datetime"),
        "custom.level": FieldSpec("custom.level", "会员等级", "number"),
        "custom.likes": FieldSpec("custom.likes", "爱好", "multi", ("瑜伽", "跑步")),
        "custom.vip": FieldSpec("custom.vip", "VIP", "boolean"),
    },
    tags={TAG: "高意向"},
    channels={CHANNEL: "朋友圈广告"},
    members={MEMBER: "王丽娜"},
    teams={TEAM: "华东组"},
    segments={SEGMENT: "老客户"},
)


def say(condition: dict[str, Any]) -> str:
    return condition_describe(condition, names=NAMES)


@pytest.mark.parametrize(
    ("condition", "sentence"),
    [
        ({"kind": "field", "field": "city", "op": "eq", "value": "上海"}, "City equals 上海"),
        (
            {"kind": "field", "field": "city", "op": "in", "value": ["上海", "杭州"]},
            "City is one of 上海、杭州",
        ),
        ({"kind": "field", "field": "city", "op": "starts_with", "value": "南"}, "City starts with 南"),
        ({"kind": "field", "field": "city", "op": "is_not_set"}, "City is empty"),
        ({"kind": "field", "field": "gender", "op": "eq", "value": "female"}, "Gender equals Female"),
        ({"kind": "field", "field": "custom.level", "op": "gte", "value": 3}, "会员等级 ≥ 3"),
        (
            {"kind": "field", "field": "custom.level", "op": "between", "value": [1, 2.5]},
            "会员等级 is between 1 and 2.5",
        ),
        (
            {"kind": "field", "field": "birthday", "op": "anniversary_within_days", "value": 7},
            "Birthday has its anniversary within the next 7 days",
        ),
        (
            {"kind": "field", "field": "created_at", "op": "within_last_days", "value": 30},
            "Created is within the last 30 days",
        ),
        (
            {"kind": "field", "field": "created_at", "op": "before", "value": "2025-01-01"},
            "Created is before 2025-01-01",
        ),
        (
            {"kind": "field", "field": "custom.likes", "op": "has_all", "value": ["瑜伽", "跑步"]},
            "爱好 has all of 瑜伽、跑步",
        ),
        ({"kind": "field", "field": "custom.vip", "op": "is_true"}, "VIP is yes"),
        ({"kind": "field", "field": "custom.gone", "op": "eq", "value": "x"}, "custom.gone equals x"),
        (
            {"kind": "tags", "op": "none", "tags": [TAG, "00000000-0000-0000-0000-000000000099"]},
            "Has none of the tags 高意向、(deleted)",
        ),
        ({"kind": "stage", "op": "at_least", "value": "customer"}, "Lifecycle stage is Customer or later"),
        (
            {"kind": "stage", "op": "in", "value": ["friend", "member"]},
            "Lifecycle stage is one of Friend、Member",
        ),
        ({"kind": "owner", "op": "in", "members": [MEMBER]}, "Owner is one of 王丽娜"),
        (
            {"kind": "owner", "op": "not_in_team", "teams": [TEAM]},
            "Owner is not in the team 华东组 (sub-teams included)",
        ),
        ({"kind": "owner", "op": "in_pool"}, "In the public pool"),
        (
            {"kind": "channel", "touch": "last", "op": "in", "channels": [CHANNEL]},
            "Last-touch channel is one of 朋友圈广告",
        ),
        ({"kind": "channel", "op": "is_not_set"}, "First-touch channel is unknown"),
        ({"kind": "identity", "op": "has", "type": "wechat_unionid"}, "Has a WeChat unionid identity"),
        (
            article_reads(at_least=2),
            "In the last 7 days Article Read count ≥ 2",
        ),
        (
            {
                "kind": "event",
                "type": "track",
                "name": "Order Completed",
                "where": [
                    {"property": "category", "op": "in", "value": ["护肤", "彩妆"]},
                    {"property": "amount", "op": "gt", "value": 100},
                ],
                "window": {"from": "2025-01-01", "to": "2025-03-31"},
                "aggregate": "sum",
                "property": "amount",
                "op": "between",
                "value": [500, 2000],
            },
            "From 2025-01-01 to 2025-03-31 Order Completed (where category is one of 护肤、彩妆；amount > 100) "
            "total of amount between 500 and 2000",
        ),
        (
            {
                "kind": "event",
                "type": "page",
                "name": "",
                "window": {"last": 48, "unit": "hours"},
                "aggregate": "last",
                "op": "within_last_days",
                "value": 1,
            },
            "In the last 48 hours any Page view (page) last time within the last 1 days",
        ),
        (
            {
                "kind": "event",
                "type": "page",
                "name": "定价",
                "aggregate": "first",
                "op": "before",
                "value": "2025-06-01",
            },
            "Ever Page view (page) “定价” first time before 2025-06-01",
        ),
        (
            {"kind": "purchase", "measure": "recency_days", "op": "lte", "value": 30},
            "Days since the last order ≤ 30",
        ),
        (
            {"kind": "purchase", "measure": "monetary", "op": "between", "value": [1000, "5000.50"]},
            "Total spent (¥) between ¥1000 and ¥5000.5",
        ),
        (
            {"kind": "rfm", "groups": ["important_value", "general_retain"]},
            "RFM group is one of Important value、General to win back",
        ),
        ({"kind": "segment", "op": "not_in", "segment": SEGMENT}, "Is not in the segment “老客户”"),
        ({"kind": "weather", "op": "sunny"}, "(a condition this version cannot read)"),
        ({"kind": "stage", "op": "sideways", "value": "x"}, "(a condition this version cannot read)"),
    ],
)
def test_each_condition_reads_as_one_sentence(condition: dict[str, Any], sentence: str) -> None:
    assert say(condition) == sentence


def flatten(line: RuleLine, depth: int = 0) -> list[str]:
    return [
        f"{'  ' * depth}{line.text}",
        *(text for child in line.children for text in flatten(child, depth + 1)),
    ]


def test_nested_groups_not_and_a_single_condition_at_the_root() -> None:
    document = rule(
        {
            "all": [
                {"kind": "field", "field": "city", "op": "eq", "value": "上海"},
                {
                    "not": {
                        "any": [
                            {"kind": "tags", "op": "any", "tags": [TAG]},
                            {"kind": "owner", "op": "in_pool"},
                        ]
                    }
                },
                {"not": {"all": [{"kind": "stage", "op": "below", "value": "friend"}]}},
                {"not": {"kind": "rfm", "groups": ["general_keep"]}},
                {"not": {"not": {"kind": "owner", "op": "not_in_pool"}}},
            ]
        }
    )
    assert flatten(rule_describe(document, names=NAMES)) == [
        "All of the following",
        "  City equals 上海",
        "  None of the following",
        "    Has any of the tags 高意向",
        "    In the public pool",
        "  Not all of the following hold",
        "    Lifecycle stage is before Friend",
        "  Not: RFM group is one of General to keep",
        "  Not in the public pool (has an owner)",
    ]
    single = rule_describe(rule({"kind": "segment", "op": "in", "segment": SEGMENT}), names=NAMES)
    assert flatten(single) == ["All of the following", "  Is in the segment “老客户”"]
    assert flatten(rule_describe(rule({"all": []}), names=NAMES)) == ["Everyone (no conditions)"]
    assert flatten(rule_describe({}, names=NAMES)) == ["Everyone (no conditions)"]
    assert flatten(rule_describe(rule({"every": []}), names=NAMES)) == [
        "All of the following",
        "  (a condition this version cannot read)",
    ]


def test_names_are_read_for_the_ids_in_the_rule_and_only_in_this_workspace(
    admin_actor: Actor, other_workspace: Workspace
) -> None:
    vip = tag_create(actor=admin_actor, group=tag_group_create(actor=admin_actor, name="价值"), name="VIP")
    base = segment_create(actor=admin_actor, name="上海客户", rules=rule({"all": []}), build_now=True)
    with workspace_scope(other_workspace.id):
        stranger = actor_for_member(member=MemberFactory(role=Role.ADMIN))
        foreign = segment_create(actor=stranger, name="别家的人群", rules=rule({"all": []}), build_now=True)
    document = rule(
        {
            "any": [
                {"kind": "tags", "op": "all", "tags": [str(vip.id)]},
                {"kind": "segment", "op": "in", "segment": str(base.id)},
                {"kind": "segment", "op": "in", "segment": str(foreign.id)},
                {"kind": "field", "field": "city", "op": "contains", "value": "海"},
            ]
        }
    )
    names = rule_names(document)
    assert dict(names.tags) == {str(vip.id): "VIP"}
    assert dict(names.segments) == {str(base.id): "上海客户"}
    assert flatten(rule_describe(document)) == [
        "Any of the following",
        "  Has all of the tags VIP",
        "  Is in the segment “上海客户”",
        "  Is in the segment “(deleted)”",
        "  City contains 海",
    ]
