"""A plain-Python reference evaluator for segment rules: the oracle the SQL and incremental paths
must agree with. It reads a snapshot of the workspace's rows and evaluates the parsed rule per
contact with ordinary Python comparisons, written from the rule-language reference (docs/segments.md),
not from the SQL compiler."""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.utils import timezone

from siyu.contacts.models import STAGE_ORDER, Contact, ContactTag, Identity
from siyu.segments.models import Segment
from siyu.segments.rfm import RfmCuts, rfm_score
from siyu.segments.rules.spec import (
    All,
    AnyOf,
    ChannelCondition,
    EventCondition,
    FieldCondition,
    IdentityCondition,
    Node,
    Not,
    OwnerCondition,
    PropertyFilter,
    PurchaseCondition,
    RfmCondition,
    Rule,
    SegmentCondition,
    StageCondition,
    TagsCondition,
    rule_document_of,
    rule_parse,
)
from siyu.segments.selectors.catalog import catalog_load
from siyu.tracking.models import ContactActivity, Event

DAY = timedelta(days=1)
ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold(text: str) -> str:
    return text.translate(ASCII_LOWER)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def present(value: Any) -> bool:
    return value is not None and value != "" and value != []


def holds(op: str, left: Any, right: Any) -> bool:
    match op:
        case "eq":
            return bool(left == right)
        case "neq":
            return bool(left != right)
        case "gt":
            return bool(left > right)
        case "gte":
            return bool(left >= right)
        case "lt":
            return bool(left < right)
        case "lte":
            return bool(left <= right)
        case "between":
            return bool(right[0] <= left <= right[1])
    raise AssertionError(op)


@dataclass
class Person:
    id: UUID
    values: dict[str, Any]
    custom: dict[str, Any]
    stage: str
    owner_id: UUID | None
    owner_team_id: UUID | None
    channel_id: UUID | None
    tags: set[UUID] = field(default_factory=set)
    identity_types: set[str] = field(default_factory=set)
    events: list[tuple[str, str, dict[str, Any], datetime]] = field(default_factory=list)
    orders: int = 0
    revenue: Decimal = Decimal(0)
    last_order_at: datetime | None = None
    last_touch_channel_id: UUID | None = None


class Reference:
    def __init__(self, *, rfm: RfmCuts | None, team_subtrees: dict[UUID, frozenset[UUID]]) -> None:
        self.rfm = rfm
        self.team_subtrees = team_subtrees
        self.people: dict[UUID, Person] = {}
        self.rules: dict[UUID, Rule] = {}
        catalog = catalog_load(lenient=True)
        for segment in Segment.objects.all():
            if segment.is_dynamic:
                self.rules[segment.id] = rule_parse(
                    rule_document_of(segment.rules), catalog=catalog, lenient=True
                )
        plain = (
            "name",
            "phone",
            "email",
            "gender",
            "birthday",
            "region",
            "city",
            "company",
            "created_at",
            "last_seen_at",
        )
        for contact in Contact.objects.select_related("owner"):
            self.people[contact.id] = Person(
                id=contact.id,
                values={name: getattr(contact, name) for name in plain},
                custom=dict(contact.custom),
                stage=contact.stage,
                owner_id=contact.owner_id,
                owner_team_id=contact.owner.team_id if contact.owner else None,
                channel_id=contact.channel_id,
            )
        for contact_id, tag_id in ContactTag.objects.values_list("contact_id", "tag_id"):
            self.people[contact_id].tags.add(tag_id)
        for contact_id, kind in Identity.objects.values_list("contact_id", "type"):
            self.people[contact_id].identity_types.add(kind)
        rows = Event.objects.filter(contact_id__isnull=False).values_list(
            "contact_id", "type", "name", "properties", "timestamp"
        )
        for event_contact_id, kind, name, properties, moment in rows:
            if event_contact_id in self.people:
                self.people[event_contact_id].events.append((kind, name, properties, moment))
        for row in ContactActivity.objects.all():
            person = self.people.get(row.contact_id)
            if person is not None:
                person.orders, person.revenue, person.last_order_at = (
                    row.orders,
                    Decimal(row.revenue),
                    row.last_order_at,
                )
                person.last_touch_channel_id = row.last_touch_channel_id

    def members(self, rule: Rule, now: datetime) -> set[UUID]:
        return {person.id for person in self.people.values() if self.matches(rule.root, person, now)}

    def segment_members(self, segment_id: UUID, now: datetime) -> set[UUID]:
        return self.members(self.rules[segment_id], now)

    # -- the tree

    def matches(self, node: Node, person: Person, now: datetime) -> bool:
        match node:
            case All(children=children):
                return all(self.matches(child, person, now) for child in children)
            case AnyOf(children=children):
                return any(self.matches(child, person, now) for child in children)
            case Not(child=child):
                return not self.matches(child, person, now)
            case FieldCondition():
                return self.field(node, person, now)
            case TagsCondition(op=op, tag_ids=tag_ids):
                wanted = set(tag_ids)
                if op == "all":
                    return wanted <= person.tags
                return bool(wanted & person.tags) == (op == "any")
            case StageCondition(op=op, stages=stages):
                if op in ("at_least", "below"):
                    at_least = STAGE_ORDER.index(person.stage) >= STAGE_ORDER.index(stages[0])  # type: ignore[arg-type]
                    return at_least == (op == "at_least")
                return (person.stage in stages) == (op == "in")
            case OwnerCondition(op=op):
                return self.owner(node, person)
            case ChannelCondition(touch=touch, op=op, channel_ids=channel_ids):
                channel = person.channel_id if touch == "first" else person.last_touch_channel_id
                if op in ("is_set", "is_not_set"):
                    return (channel is not None) == (op == "is_set")
                return (channel in channel_ids) == (op == "in")
            case IdentityCondition(has=has, type=kind):
                return (kind in person.identity_types) == has
            case EventCondition():
                return self.event(node, person, now)
            case PurchaseCondition(measure=measure, op=op, value=value):
                if measure == "frequency":
                    return holds(op, person.orders, value)
                if measure == "monetary":
                    return holds(op, person.revenue, value)
                if person.orders < 1 or person.last_order_at is None:
                    return False
                return holds(op, (now - person.last_order_at) // DAY, value)
            case RfmCondition(groups=groups):
                if self.rfm is None:
                    return False
                score = rfm_score(
                    last_order_at=person.last_order_at,
                    orders=person.orders,
                    revenue=person.revenue,
                    cuts=self.rfm,
                    now=now,
                )
                return score is not None and score.group in groups
            case SegmentCondition(is_member=is_member, segment_id=segment_id):
                rule = self.rules.get(segment_id)
                inside = rule is not None and self.matches(rule.root, person, now)
                return inside == is_member
        raise AssertionError(node)

    def owner(self, condition: OwnerCondition, person: Person) -> bool:
        match condition.op:
            case "in_pool":
                return person.owner_id is None
            case "not_in_pool":
                return person.owner_id is not None
            case "in" | "not_in":
                return (person.owner_id in condition.member_ids) == (condition.op == "in")
        teams: set[UUID] = set()
        for team_id in condition.team_ids:
            teams |= self.team_subtrees.get(team_id, frozenset({team_id}))
        inside = person.owner_team_id is not None and person.owner_team_id in teams
        return inside == (condition.op == "in_team")

    def field(self, condition: FieldCondition, person: Person, now: datetime) -> bool:
        spec, op, value = condition.field, condition.op, condition.value
        today = timezone.localdate(now)
        if spec.is_custom:
            raw = person.custom.get(spec.custom_key)
            if op in ("is_set", "is_not_set"):
                return present(raw) == (op == "is_set")
            match spec.type:
                case "text" | "choice":
                    return self.text(op, raw if isinstance(raw, str) else None, value)
                case "number":
                    if not is_number(raw):
                        return op == "neq"
                    number = float(raw)  # type: ignore[arg-type]  # is_number checked it
                    if op == "between":
                        return float(value[0]) <= number <= float(value[1])
                    return holds(op, number, float(value))
                case "boolean":
                    return raw is (op == "is_true")
                case "multi":
                    items = (
                        {item for item in raw if isinstance(item, str)} if isinstance(raw, list) else set()
                    )
                    if op == "has_all":
                        return isinstance(raw, list) and set(value) <= items
                    return bool(items & set(value)) == (op == "has_any")
                case "date":
                    if not isinstance(raw, str):
                        return False
                    return self.day(op, raw, value, today, as_text=True)
        raw = person.values[spec.name]
        if op in ("is_set", "is_not_set"):
            return (raw is not None and raw != "") == (op == "is_set")
        if spec.type in ("text", "choice"):
            return self.text(op, raw, value)
        if spec.type == "date":
            return raw is not None and self.day(op, raw, value, today, as_text=False)
        if raw is None:
            return False
        match op:
            case "before":
                return bool(raw < value)
            case "after":
                return bool(raw >= value)
            case "between":
                return bool(value[0] <= raw < value[1])
            case "within_last_days":
                return bool(raw > now - value * DAY)
            case "more_than_days_ago":
                return bool(raw <= now - value * DAY)
        raise AssertionError(op)

    @staticmethod
    def text(op: str, raw: str | None, value: Any) -> bool:
        if op in ("eq", "neq"):
            positive = raw == value
        elif op in ("in", "not_in"):
            positive = raw in value
        elif op in ("contains", "not_contains"):
            positive = raw is not None and fold(value) in fold(raw)
        else:  # starts_with
            positive = raw is not None and fold(raw).startswith(fold(value))
        return not positive if op in ("neq", "not_in", "not_contains") else positive

    @staticmethod
    def day(op: str, raw: Any, value: Any, today: date, *, as_text: bool) -> bool:
        def bound(day: date) -> Any:
            return day.isoformat() if as_text else day

        match op:
            case "before":
                return bool(raw < bound(value))
            case "after":
                return bool(raw > bound(value))
            case "between":
                return bool(bound(value[0]) <= raw <= bound(value[1]))
            case "within_last_days":
                return bool(bound(today - value * DAY) <= raw <= bound(today))
            case "more_than_days_ago":
                return bool(raw < bound(today - value * DAY))
            case "within_next_days":
                return bool(bound(today) <= raw <= bound(today + value * DAY))
            case "anniversary_within_days":
                coming = {(today + n * DAY).strftime("%m-%d") for n in range(value + 1)}
                month_day = raw[5:10] if as_text else raw.strftime("%m-%d")
                return month_day in coming
        raise AssertionError(op)

    @staticmethod
    def property_matches(where: PropertyFilter, properties: dict[str, Any]) -> bool:
        raw = properties.get(where.property)
        op, value = where.op, where.value
        if op in ("is_set", "is_not_set"):
            return present(raw) == (op == "is_set")

        def equals(item: Any) -> bool:
            if isinstance(item, str):
                return isinstance(raw, str) and raw == item
            return is_number(raw) and float(raw) == float(item)  # type: ignore[arg-type]

        match op:
            case "eq":
                return equals(value)
            case "neq":
                return not equals(value)
            case "in":
                return any(equals(item) for item in value)
            case "not_in":
                return not any(equals(item) for item in value)
            case "contains":
                return isinstance(raw, str) and fold(value) in fold(raw)
        return is_number(raw) and holds(op, float(raw), float(value))  # type: ignore[arg-type]

    def event(self, condition: EventCondition, person: Person, now: datetime) -> bool:
        window = condition.window
        chosen = [
            (properties, moment)
            for kind, name, properties, moment in person.events
            if kind == condition.type
            and (not condition.name or name == condition.name)
            and all(self.property_matches(where, properties) for where in condition.where)
            and (window.last_seconds is None or moment > now - timedelta(seconds=window.last_seconds))
            and (window.start is None or window.start <= moment < window.end)  # type: ignore[operator]
        ]
        op, value, aggregate = condition.op, condition.value, condition.aggregate
        if aggregate == "count":
            return holds(op, Decimal(len(chosen)), value)
        if aggregate in ("first", "last"):
            if not chosen:
                return False
            moment = min(m for _p, m in chosen) if aggregate == "first" else max(m for _p, m in chosen)
            match op:
                case "before":
                    return bool(moment < value)
                case "after":
                    return bool(moment >= value)
                case "within_last_days":
                    return bool(moment > now - value * DAY)
                case "more_than_days_ago":
                    return bool(moment <= now - value * DAY)
            raise AssertionError(op)
        numbers = [float(p[condition.prop]) for p, _m in chosen if is_number(p.get(condition.prop))]
        target = (float(value[0]), float(value[1])) if op == "between" else float(value)
        if aggregate == "sum":
            return holds(op, float(sum(numbers)), target)
        if not numbers:
            return False
        measure = {"avg": sum(numbers) / len(numbers), "min": min(numbers), "max": max(numbers)}[aggregate]
        return holds(op, measure, target)
