"""The 20 representative segments of bench/segments.py, as rule documents over the generated workspace.

Each names what it exercises; ids (tags, teams, channels, other segments) are looked up by name in the
workspace that bench/generate_data.py made.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

PREFIX = "基准·"


@dataclass(frozen=True)
class Names:
    tags: Mapping[str, UUID]
    teams: Mapping[str, UUID]
    channels: Mapping[str, UUID]  # by code


@dataclass(frozen=True)
class SegmentSpec:
    key: str
    name: str
    shape: str  # what it exercises, for the table
    rules: Callable[[Names, Mapping[str, UUID]], dict[str, Any]]  # (names, segment ids by key) → document


def _doc(root: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "root": root}


def _event(
    name: str,
    *,
    where: list[dict[str, Any]] | None = None,
    days: int,
    aggregate: str = "count",
    prop: str = "",
    op: str = "gte",
    value: float = 1,
) -> dict[str, Any]:
    condition: dict[str, Any] = {
        "kind": "event",
        "type": "track",
        "name": name,
        "where": where or [],
        "window": {"last": days, "unit": "days"},
        "aggregate": aggregate,
        "op": op,
        "value": value,
    }
    if prop:
        condition["property"] = prop
    return condition


SPECS: tuple[SegmentSpec, ...] = (
    SegmentSpec(
        "fields",
        "女性金卡钻石会员",
        "fields: gender eq, custom select in",
        lambda n, s: _doc(
            {
                "all": [
                    {"kind": "field", "field": "gender", "op": "eq", "value": "female"},
                    {"kind": "field", "field": "custom.level", "op": "in", "value": ["金卡", "钻石"]},
                ]
            }
        ),
    ),
    SegmentSpec(
        "city",
        "城市含“州”",
        "field: city contains",
        lambda n, s: _doc({"kind": "field", "field": "city", "op": "contains", "value": "州"}),
    ),
    SegmentSpec(
        "birthday",
        "七天内过生日",
        "field: birthday anniversary within 7 days",
        lambda n, s: _doc(
            {"kind": "field", "field": "birthday", "op": "anniversary_within_days", "value": 7}
        ),
    ),
    SegmentSpec(
        "tags_any",
        "关注护肤或彩妆",
        "tags: any of 2",
        lambda n, s: _doc({"kind": "tags", "op": "any", "tags": [str(n.tags["护肤"]), str(n.tags["彩妆"])]}),
    ),
    SegmentSpec(
        "tags_all",
        "护肤高价值",
        "tags: all of 2",
        lambda n, s: _doc(
            {"kind": "tags", "op": "all", "tags": [str(n.tags["护肤"]), str(n.tags["高价值"])]}
        ),
    ),
    SegmentSpec(
        "stage",
        "好友及以上",
        "stage: at least friend",
        lambda n, s: _doc({"kind": "stage", "op": "at_least", "value": "friend"}),
    ),
    SegmentSpec(
        "team",
        "华东大区的客户",
        "owner: in team (with sub-teams)",
        lambda n, s: _doc({"kind": "owner", "op": "in_team", "teams": [str(n.teams["华东大区"])]}),
    ),
    SegmentSpec(
        "channel",
        "广告获客",
        "first-touch channel in 2",
        lambda n, s: _doc(
            {
                "kind": "channel",
                "touch": "first",
                "op": "in",
                "channels": [str(n.channels["moments-ad"]), str(n.channels["douyin-feed"])],
            }
        ),
    ),
    SegmentSpec(
        "unionid",
        "有微信 unionid",
        "identity: has wechat_unionid",
        lambda n, s: _doc({"kind": "identity", "op": "has", "type": "wechat_unionid"}),
    ),
    SegmentSpec(
        "reads_7d",
        "7 天内读护肤文章 2 篇以上",
        "event count ≥ 2 in 7 days, property eq",
        lambda n, s: _doc(
            _event(
                "Article Read", where=[{"property": "category", "op": "eq", "value": "护肤"}], days=7, value=2
            )
        ),
    ),
    SegmentSpec(
        "views_30d",
        "30 天内看护肤商品 3 次以上",
        "event count ≥ 3 in 30 days, property eq",
        lambda n, s: _doc(
            _event(
                "Product Viewed",
                where=[{"property": "category", "op": "eq", "value": "护肤"}],
                days=30,
                value=3,
            )
        ),
    ),
    SegmentSpec(
        "dwell_30d",
        "30 天内阅读超过 60 秒",
        "event sum(dwell_seconds) ≥ 60 in 30 days",
        lambda n, s: _doc(_event("Article Read", days=30, aggregate="sum", prop="dwell_seconds", value=60)),
    ),
    SegmentSpec(
        "big_order",
        "90 天内有 ¥500 以上订单",
        "event with property gte (order amount ≥ ¥500), 90 days",
        lambda n, s: _doc(
            _event("Order Completed", where=[{"property": "revenue", "op": "gte", "value": 500}], days=90)
        ),
    ),
    SegmentSpec(
        "lapsed",
        "30 天未购买",
        "purchase recency > 30 days",
        lambda n, s: _doc({"kind": "purchase", "measure": "recency_days", "op": "gt", "value": 30}),
    ),
    SegmentSpec(
        "repeat",
        "复购客户",
        "purchase frequency ≥ 2",
        lambda n, s: _doc({"kind": "purchase", "measure": "frequency", "op": "gte", "value": 2}),
    ),
    SegmentSpec(
        "monetary",
        "累计消费 ¥1000 以上",
        "purchase monetary ≥ 1000",
        lambda n, s: _doc({"kind": "purchase", "measure": "monetary", "op": "gte", "value": 1000}),
    ),
    SegmentSpec(
        "rfm",
        "重要价值客户",
        "RFM group important_value",
        lambda n, s: _doc({"kind": "rfm", "groups": ["important_value"]}),
    ),
    SegmentSpec(
        "nested",
        "优质客户或高预算外地客户",
        "OR of ANDs with NOT (tags none, city not in)",
        lambda n, s: _doc(
            {
                "any": [
                    {
                        "all": [
                            {"kind": "stage", "op": "in", "value": ["customer", "member"]},
                            {"not": {"kind": "tags", "op": "any", "tags": [str(n.tags["投诉过"])]}},
                        ]
                    },
                    {
                        "all": [
                            {"kind": "field", "field": "custom.budget", "op": "gte", "value": 5000},
                            {
                                "not": {
                                    "kind": "field",
                                    "field": "city",
                                    "op": "in",
                                    "value": ["北京", "上海"],
                                }
                            },
                        ]
                    },
                ]
            }
        ),
    ),
    SegmentSpec(
        "repeat_beauty",
        "复购且关注美妆",
        "segment of segments: in “复购客户” and in “关注护肤或彩妆”",
        lambda n, s: _doc(
            {
                "all": [
                    {"kind": "segment", "op": "in", "segment": str(s["repeat"])},
                    {"kind": "segment", "op": "in", "segment": str(s["tags_any"])},
                ]
            }
        ),
    ),
    SegmentSpec(
        "repeat_beauty_active",
        "复购美妆且 30 天内购买",
        "segment of a segment: in “复购且关注美妆”, not in “30 天未购买”",
        lambda n, s: _doc(
            {
                "all": [
                    {"kind": "segment", "op": "in", "segment": str(s["repeat_beauty"])},
                    {"kind": "segment", "op": "not_in", "segment": str(s["lapsed"])},
                ]
            }
        ),
    ),
)
LATENCY_SEGMENT = "big_order"  # a fresh contact with one ¥888 order enters it at once
