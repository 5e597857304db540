"""The three evaluators agree: the SQL full build, the incremental path (changes made through the real
services and the event processor), and the plain-Python reference — as the clock moves too.

Agreement with SQL is checked by reconciliation: a full build after the incremental path has run
must find nothing to add or remove.
"""

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siyu.contacts.models import CustomField, FieldType, Stage
from siyu.contacts.selectors import tag_list
from siyu.contacts.services.channels import channel_create
from siyu.contacts.services.contacts import contact_create, contact_update
from siyu.contacts.services.tags import contact_tags_add, tag_create, tag_group_create
from siyu.core.tenancy import workspace_scope
from siyu.segments.models import Segment
from siyu.segments.rules.spec import RULES_VERSION
from siyu.segments.selectors.catalog import team_subtrees
from siyu.segments.selectors.rfm import rfm_cuts
from siyu.segments.services.evaluation import rechecks_run, segments_reconcile
from siyu.segments.services.rfm import rfm_settings_update
from siyu.segments.services.segments import segment_create
from siyu.tenancy.roles import Role
from siyu.tenancy.selectors import actor_for_member
from tests.factories import MemberFactory, TeamFactory, WorkspaceFactory
from tests.segments.helpers import article_reads, deliver, members, track
from tests.segments.reference import Reference
from tests.tracking.events import iso, make_source, message

_serial = itertools.count(1)
CITIES = ["上海", "Shanghai", "北京", "杭州", ""]
TAG_NAMES = ["VIP", "复购", "敏感肌"]
LEVELS = ["A", "B", "C"]
HOBBIES = ["x", "y", "z"]
CATEGORIES = ["skin", "hair", "Skin care"]


# -- rules ---------------------------------------------------------------------------------------


def field_conditions(refs: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    text = st.sampled_from(["上海", "shang", "Sh", "北", "杭州"])
    days = st.integers(min_value=0, max_value=45)
    return st.one_of(
        st.builds(
            lambda op, v: {"kind": "field", "field": "city", "op": op, "value": v},
            st.sampled_from(["eq", "neq", "contains", "not_contains", "starts_with"]),
            text,
        ),
        st.builds(
            lambda op, v: {"kind": "field", "field": "city", "op": op, "value": v},
            st.sampled_from(["in", "not_in"]),
            st.lists(text, min_size=1, max_size=3),
        ),
        st.sampled_from(
            [
                {"kind": "field", "field": f, "op": op}
                for f in (
                    "city",
                    "birthday",
                    "custom.level",
                    "custom.score",
                    "custom.hobbies",
                    "custom.renew",
                )
                for op in ("is_set", "is_not_set")
            ]
        ),
        st.builds(
            lambda op, n: {"kind": "field", "field": "birthday", "op": op, "value": n},
            st.sampled_from(["anniversary_within_days", "anniversary_within_days", "within_last_days"]),
            st.integers(0, 10),
        ),
        st.builds(
            lambda n: {"kind": "field", "field": "created_at", "op": "within_last_days", "value": n}, days
        ),
        st.builds(
            lambda op, v: {"kind": "field", "field": "custom.score", "op": op, "value": v},
            st.sampled_from(["eq", "neq", "gt", "gte", "lt", "lte"]),
            st.integers(min_value=0, max_value=100),
        ),
        st.builds(
            lambda a, b: {"kind": "field", "field": "custom.score", "op": "between", "value": sorted([a, b])},
            st.integers(0, 100),
            st.integers(0, 100),
        ),
        st.builds(
            lambda op, v: {"kind": "field", "field": "custom.level", "op": op, "value": v},
            st.sampled_from(["eq", "neq"]),
            st.sampled_from(LEVELS),
        ),
        st.builds(
            lambda op, v: {"kind": "field", "field": "custom.hobbies", "op": op, "value": v},
            st.sampled_from(["has_any", "has_all", "has_none"]),
            st.lists(st.sampled_from(HOBBIES), min_size=1, max_size=2, unique=True),
        ),
        st.builds(
            lambda op, n: {"kind": "field", "field": "custom.renew", "op": op, "value": n},
            st.sampled_from(["within_next_days", "within_last_days", "anniversary_within_days"]),
            days,
        ),
        st.sampled_from(
            [{"kind": "field", "field": "custom.vip", "op": op} for op in ("is_true", "is_false")]
        ),
    )


def other_conditions(refs: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        st.builds(
            lambda op, tags: {"kind": "tags", "op": op, "tags": tags},
            st.sampled_from(["any", "all", "none"]),
            st.lists(st.sampled_from(refs["tags"]), min_size=1, max_size=2, unique=True),
        ),
        st.builds(
            lambda op, stage: {"kind": "stage", "op": op, "value": stage},
            st.sampled_from(["at_least", "below"]),
            st.sampled_from([str(s) for s in Stage]),
        ),
        st.builds(lambda op: {"kind": "owner", "op": op}, st.sampled_from(["in_pool", "not_in_pool"])),
        st.builds(
            lambda op: {"kind": "owner", "op": op, "teams": [refs["team"]]},
            st.sampled_from(["in_team", "not_in_team"]),
        ),
        st.builds(
            lambda op: {"kind": "owner", "op": op, "members": [refs["rep"]]},
            st.sampled_from(["in", "not_in"]),
        ),
        st.builds(
            lambda touch, op: {"kind": "channel", "touch": touch, "op": op, "channels": [refs["channel"]]},
            st.sampled_from(["first", "last"]),
            st.sampled_from(["in", "not_in"]),
        ),
        st.builds(
            lambda has, kind: {"kind": "identity", "op": has, "type": kind},
            st.sampled_from(["has", "has_not"]),
            st.sampled_from(["wechat_unionid", "user_id"]),
        ),
        st.builds(
            lambda measure, op, n: {"kind": "purchase", "measure": measure, "op": op, "value": n},
            st.sampled_from(["recency_days", "frequency"]),
            st.sampled_from(["eq", "neq", "gt", "gte", "lt", "lte"]),
            st.integers(0, 40),
        ),
        st.builds(
            lambda op, n: {"kind": "purchase", "measure": "monetary", "op": op, "value": n},
            st.sampled_from(["gte", "lt"]),
            st.integers(0, 1500),
        ),
        st.builds(
            lambda groups: {"kind": "rfm", "groups": groups},
            st.lists(
                st.sampled_from(
                    [
                        "important_value",
                        "important_develop",
                        "general_value",
                        "general_retain",
                        "important_keep",
                        "general_develop",
                    ]
                ),
                min_size=1,
                max_size=3,
                unique=True,
            ),
        ),
    )


def event_conditions() -> st.SearchStrategy[dict[str, Any]]:
    window = st.one_of(
        st.none(),
        st.builds(lambda n: {"last": n, "unit": "days"}, st.integers(1, 40)),
        st.builds(lambda n: {"last": n, "unit": "hours"}, st.integers(1, 200)),
    )
    where = st.lists(
        st.one_of(
            st.builds(
                lambda v: {"property": "category", "op": "eq", "value": v}, st.sampled_from(CATEGORIES)
            ),
            st.builds(
                lambda v: {"property": "category", "op": "contains", "value": v},
                st.sampled_from(["skin", "HAIR"]),
            ),
            st.builds(
                lambda op, v: {"property": "category", "op": op, "value": v},
                st.sampled_from(["in", "not_in"]),
                st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=2),
            ),
            st.builds(
                lambda op, v: {"property": "dwell", "op": op, "value": v},
                st.sampled_from(["gt", "lte", "eq"]),
                st.integers(0, 120),
            ),
            st.just({"property": "category", "op": "is_set"}),
        ),
        max_size=2,
    )

    def build(name: str, where: list[Any], window: Any, measure: tuple[str, str, Any]) -> dict[str, Any]:
        aggregate, op, value = measure
        condition: dict[str, Any] = {
            "kind": "event",
            "type": "track",
            "name": name,
            "where": where,
            "aggregate": aggregate,
            "op": op,
            "value": value,
        }
        if aggregate in ("sum", "avg", "min", "max"):
            condition["property"] = "dwell" if name == "Article Read" else "amount"
        if window is not None:
            condition["window"] = window
        return condition

    measure = st.one_of(
        st.tuples(
            st.just("count"), st.sampled_from(["gte", "lte", "eq", "lt", "gt", "neq"]), st.integers(0, 3)
        ),
        st.tuples(
            st.sampled_from(["sum", "avg", "min", "max"]), st.sampled_from(["gte", "lt"]), st.integers(0, 400)
        ),
        st.tuples(
            st.sampled_from(["first", "last"]),
            st.sampled_from(["within_last_days", "more_than_days_ago"]),
            st.integers(0, 40),
        ),
    )
    page = st.builds(
        lambda op, n, window: {
            "kind": "event",
            "type": "page",
            "name": "",
            "op": op,
            "value": n,
            **({"window": window} if window else {}),
        },
        st.sampled_from(["gte", "lt"]),
        st.integers(1, 3),
        window,
    )
    return st.one_of(
        st.builds(build, st.sampled_from(["Article Read", "Order Completed"]), where, window, measure), page
    )


def rules(refs: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    leaf = st.one_of(field_conditions(refs), other_conditions(refs), event_conditions())
    tree = st.recursive(
        leaf,
        lambda children: st.one_of(
            st.builds(lambda items: {"all": items}, st.lists(children, min_size=1, max_size=3)),
            st.builds(lambda items: {"any": items}, st.lists(children, min_size=1, max_size=3)),
            st.builds(lambda child: {"not": child}, children),
        ),
        max_leaves=5,
    )
    return tree.map(lambda root: {"version": RULES_VERSION, "root": root})


# -- people and their events -----------------------------------------------------------------------


person = st.fixed_dictionaries(
    {
        "city": st.sampled_from(CITIES),
        # Birthdays near today (any year), so anniversaries enter and leave windows as the clock moves.
        "birthday": st.one_of(st.none(), st.tuples(st.integers(1970, 2005), st.integers(-40, 40))),
        "level": st.one_of(st.none(), st.sampled_from(LEVELS)),
        "score": st.one_of(st.none(), st.integers(0, 100)),
        "hobbies": st.lists(st.sampled_from(HOBBIES), max_size=2, unique=True),
        "renew_in_days": st.one_of(st.none(), st.integers(-40, 40)),
        "vip": st.one_of(st.none(), st.booleans()),
        "tags": st.lists(st.sampled_from(range(3)), max_size=2, unique=True),
        "owner": st.sampled_from(["admin", "rep", None]),
        "stage": st.sampled_from([str(stage) for stage in Stage]),
        "channel": st.booleans(),
        "moves_to": st.one_of(st.none(), st.sampled_from(CITIES)),
        "unionid": st.booleans(),
        "events": st.lists(
            st.tuples(
                st.sampled_from(["Article Read", "Order Completed", "page"]),
                st.integers(min_value=0, max_value=40 * 24),  # hours ago
                st.sampled_from(CATEGORIES),
                # Dwell seconds; a few below zero (a property holds what a sender sends), so that sums
                # that can rise as their events age out are re-checked for non-members too.
                st.one_of(st.integers(0, 120), st.integers(-60, -1)),
                st.integers(10, 900),  # amount
            ),
            max_size=6,
        ),
    }
)


def _scenario(
    contacts: list[dict[str, Any]],
    documents: list[dict[str, Any]],
    refs: dict[str, Any],
    actor: Any,
    source: Any,
) -> None:
    now = datetime.now(UTC)
    segments: list[Segment] = []
    created: list[tuple[Any, dict[str, Any]]] = []
    for index, document in enumerate(documents):
        if index == 1:  # the second segment is built on the first
            document = {
                "version": RULES_VERSION,
                "root": {
                    "any": [document["root"], {"kind": "segment", "op": "in", "segment": str(segments[0].id)}]
                },
            }
        segments.append(
            segment_create(actor=actor, name=f"人群{next(_serial)}", rules=document, build_now=True)
        )
    for spec in contacts:
        user_id = f"u-{next(_serial)}"
        custom: dict[str, Any] = {"hobbies": spec["hobbies"]}
        if spec["level"] is not None:
            custom["level"] = spec["level"]
        if spec["score"] is not None:
            custom["score"] = spec["score"]
        if spec["vip"] is not None:
            custom["vip"] = spec["vip"]
        if spec["renew_in_days"] is not None:
            custom["renew"] = (now.date() + timedelta(days=spec["renew_in_days"])).isoformat()
        identities = [{"type": "user_id", "value": user_id}]
        if spec["unionid"]:
            identities.append({"type": "wechat_unionid", "value": f"union-{user_id}"})
        data: dict[str, Any] = {
            "name": f"客户{user_id}",
            "city": spec["city"],
            "custom": custom,
            "identities": identities,
            "owner": refs["members"][spec["owner"]] if spec["owner"] else None,
            "stage": spec["stage"],
        }
        if spec["birthday"] is not None:
            year, offset = spec["birthday"]
            near = now.date() + timedelta(days=offset)
            data["birthday"] = near.replace(
                year=year, day=28 if (near.month, near.day) == (2, 29) else near.day
            ).isoformat()
        if spec["channel"]:
            data["channel"] = refs["channel"]
        contact = contact_create(actor=actor, data=data)
        created.append((contact, spec))
        messages = []
        for kind, hours, category, dwell, amount in spec["events"]:
            moment = now - timedelta(hours=hours, minutes=1)
            if kind == "page":
                messages.append(
                    message(
                        "page",
                        userId=user_id,
                        name="Home",
                        properties={"path": "/"},
                        context={"campaign": {"source": refs["channel_code"]}},
                        timestamp=iso(moment),
                    )
                )
            elif kind == "Article Read":
                messages.append(track(user_id, kind, moment, category=category, dwell=dwell))
            else:
                messages.append(track(user_id, kind, moment, order_id=f"o-{next(_serial)}", amount=amount))
        if messages:
            deliver(source, messages)

    # Later changes, each through its own service: the incremental path must follow every kind.
    tags = {tag.name: tag for tag in tag_list()}
    for contact, spec in created:
        if spec["tags"]:
            contact_tags_add(actor=actor, contact=contact, tags=[tags[TAG_NAMES[i]] for i in spec["tags"]])
        if spec["moves_to"] is not None:
            contact_update(
                actor=actor, contact=contact, data={"city": spec["moves_to"], "custom": {"score": 50}}
            )

    def check(at: datetime) -> None:
        while rechecks_run(at=at, limit=500):
            pass
        reference = Reference(rfm=rfm_cuts(), team_subtrees=team_subtrees())
        for segment in segments:
            expected = reference.segment_members(segment.id, at)
            assert members(segment) == expected, segment.rules
        for build in segments_reconcile(at=at):
            assert (build.added, build.removed) == (0, 0), (
                f"SQL disagrees with the incremental path: {build.segment_id}"
            )
            assert build.size == len(reference.segment_members(build.segment_id, at))

    checked_at = datetime.now(UTC)
    check(checked_at)
    for days in (2, 9, 33):
        check(checked_at + timedelta(days=days))


def _neighbour() -> tuple[Any, set[Any], Segment, Segment]:
    """Another workspace with contacts, reads, orders and two segments, one of them time-relative
    (its re-checks sit in the same table the clock runs for every workspace)."""
    other = WorkspaceFactory()
    with workspace_scope(other.id):
        actor = actor_for_member(member=MemberFactory(role=Role.ADMIN, display_name="别家管理员"))
        source = make_source()
        now = datetime.now(UTC)
        ids = set()
        for n in range(3):
            user_id = f"n-{next(_serial)}"
            identities = [{"type": "user_id", "value": user_id}]
            contact = contact_create(
                actor=actor, data={"name": f"别家{n}", "city": "杭州", "identities": identities}
            )
            ids.add(contact.id)
            order = f"o-{next(_serial)}"
            deliver(
                source,
                [
                    track(user_id, "Article Read", now - timedelta(hours=5), category="护肤", dwell=90),
                    track(
                        user_id,
                        "Order Completed",
                        now - timedelta(days=3),
                        order_id=order,
                        amount=900,
                    ),
                ],
            )
        everyone = segment_create(
            actor=actor,
            name="别家全部",
            rules={"version": RULES_VERSION, "root": {"all": []}},
            build_now=True,
        )
        read = article_reads()
        readers = segment_create(
            actor=actor, name="别家读者", rules={"version": RULES_VERSION, "root": read}, build_now=True
        )
    return other, ids, everyone, readers


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_sql_incremental_and_reference_agree(data: st.DataObject, db: None) -> None:
    with transaction.atomic():  # each example rolls back to the empty database
        # A neighbour first: if anything of it leaked into the examined workspace's builds, re-checks or
        # incremental evaluation, the examined segments would disagree with the reference.
        other, other_ids, everyone, readers = _neighbour()
        workspace = WorkspaceFactory()
        with workspace_scope(workspace.id):
            parent = TeamFactory(name="销售部")
            team = TeamFactory(name="华东", parent=parent)
            admin = MemberFactory(role=Role.ADMIN, display_name="管理员")
            rep = MemberFactory(role=Role.SALES, display_name="小王", team=team)
            actor = actor_for_member(member=admin)
            group = tag_group_create(actor=actor, name="标签")
            tags = [tag_create(actor=actor, group=group, name=name) for name in TAG_NAMES]
            channel = channel_create(actor=actor, name="公众号", code="wechat-mp")
            for key, label, kind, options in (
                ("level", "等级", FieldType.SELECT, LEVELS),
                ("score", "积分", FieldType.NUMBER, []),
                ("hobbies", "爱好", FieldType.MULTI_SELECT, HOBBIES),
                ("renew", "续费日", FieldType.DATE, []),
                ("vip", "VIP", FieldType.BOOLEAN, []),
            ):
                CustomField.objects.create(key=key, label=label, type=kind, options=options)
            rfm_settings_update(
                actor=actor,
                method="thresholds",
                recency_cuts=[3, 10, 20, 30],
                frequency_cuts=[1, 2, 3, 4],
                monetary_cuts=[100, 400, 800, 1200],
            )
            refs = {
                "tags": [str(tag.id) for tag in tags],
                "team": str(parent.id),
                "rep": str(rep.id),
                "channel": str(channel.id),
                "channel_code": channel.code,
                "members": {"admin": str(admin.id), "rep": str(rep.id)},
            }
            documents = data.draw(st.lists(rules(refs), min_size=1, max_size=2), label="rules")
            contacts = data.draw(st.lists(person, min_size=1, max_size=6), label="contacts")
            _scenario(contacts, documents, refs, actor, make_source())
        with workspace_scope(other.id):
            # Nothing of ours joined the neighbour's segments; its readers left as the clock passed day 7.
            assert members(everyone) == other_ids
            assert members(readers) == set()
        transaction.set_rollback(True)
