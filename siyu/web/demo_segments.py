"""The demo's segments: RFM quintiles, a handful of dynamic segments an operator would build first, and a
static list taken as a snapshot — all through the segments services, rebuilt on every demo refresh."""

from typing import Any

from siyu.contacts.selectors import channel_list, tag_list
from siyu.segments.models import Segment, SegmentKind
from siyu.segments.selectors.segments import segment_list
from siyu.segments.services.evaluation import segment_build
from siyu.segments.services.rfm import rfm_refresh
from siyu.segments.services.segments import segment_create, segment_delete, segment_snapshot, segment_update
from siyu.tenancy.actor import Actor

SNAPSHOT_NAME = "双十二召回名单（快照）"


def _rule(root: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "root": root}


def _definitions(*, tags: dict[str, str], channels: dict[str, str]) -> list[tuple[str, str, dict[str, Any]]]:
    reads_recently = {
        "kind": "event",
        "type": "track",
        "name": "Page Engaged",
        "window": {"last": 7, "unit": "days"},
        "aggregate": "count",
        "op": "gte",
        "value": 2,
    }
    return [
        (
            "重要价值客户",
            "RFM 三项都高的客户：重点维护、优先服务。",
            _rule({"kind": "rfm", "groups": ["important_value"]}),
        ),
        (
            "30 天未复购的老客",
            "买过至少两次、但 30 天没有再下单：回访、推送复购券。",
            _rule(
                {
                    "all": [
                        {"kind": "purchase", "measure": "frequency", "op": "gte", "value": 2},
                        {"kind": "purchase", "measure": "recency_days", "op": "gte", "value": 30},
                    ]
                }
            ),
        ),
        (
            "近 7 天认真阅读的访客",
            "一周内至少两次停留阅读、还没成为客户：销售跟进的好时机。",
            _rule({"all": [reads_recently, {"kind": "stage", "op": "below", "value": "customer"}]}),
        ),
        (
            "公众号来的高价值客户",
            "从公众号文章获客、累计消费 ¥1,000 以上。",
            _rule(
                {
                    "all": [
                        {
                            "kind": "channel",
                            "touch": "first",
                            "op": "in",
                            "channels": [channels["wechat-article"]],
                        },
                        {"kind": "purchase", "measure": "monetary", "op": "gte", "value": 1000},
                    ]
                }
            ),
        ),
        (
            "本周过生日",
            "生日在 7 天内：发生日祝福和礼券。",
            _rule({"kind": "field", "field": "birthday", "op": "anniversary_within_days", "value": 7}),
        ),
        (
            "敏感肌且关注保湿",
            "肤质为敏感、兴趣含保湿。",
            _rule({"kind": "tags", "op": "all", "tags": [tags["敏感"], tags["保湿"]]}),
        ),
    ]


def demo_segments_load(*, actor: Actor) -> int:
    """Create or refresh the demo segments; returns how many dynamic segments there are."""
    rfm_refresh()
    tags = {tag.name: str(tag.id) for tag in tag_list()}
    channels = {channel.code: str(channel.id) for channel in channel_list()}
    existing = {segment.name: segment for segment in segment_list()}
    snapshot = existing.pop(SNAPSHOT_NAME, None)
    if snapshot is not None:
        segment_delete(actor=actor, segment=snapshot)
    built: list[Segment] = []
    for name, description, rules in _definitions(tags=tags, channels=channels):
        segment = existing.get(name)
        if segment is None:
            segment = segment_create(
                actor=actor, name=name, description=description, rules=rules, build_now=True
            )
        else:
            revision = segment.revision
            segment_update(
                actor=actor, segment=segment, name=name, description=description, rules=rules, build_now=True
            )
            if segment.revision == revision:  # same rules, fresh data: rebuild once here
                segment_build(segment=segment)
        built.append(segment)
    recall = next(
        segment for segment in built if segment.kind == SegmentKind.DYNAMIC and segment.name.startswith("30")
    )
    segment_snapshot(actor=actor, segment=recall, name=SNAPSHOT_NAME)
    return len(built)
