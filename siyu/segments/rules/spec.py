"""The rule language, version 1 — parsing and validation into typed nodes. Reference: docs/segments.md.

A rule document is `{"version": 1, "root": <node>}`; a node is a group (`{"all": [...]}`,
`{"any": [...]}`, `{"not": <node>}`) or a condition (`{"kind": ..., ...}`). Every error names the
path of the offending part (`root.all[2].window.last`), and a document with any error is refused
whole.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, TypeAlias
from uuid import UUID

import orjson
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.core.errors import ValidationError
from siyu.core.time import day_start

RULES_VERSION = 1
MAX_RULE_BYTES = 32 * 1024
MAX_CONDITIONS = 100
MAX_DEPTH = 8
MAX_LIST_ITEMS = 500
MAX_TEXT = 200
MAX_DAYS = 3650  # windows and relative dates reach at most ten years
MAX_COUNT = 1_000_000
EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)

FieldType = Literal["text", "choice", "number", "date", "datetime", "boolean", "multi"]
TEXT_OPS = ("eq", "neq", "in", "not_in", "contains", "not_contains", "starts_with", "is_set", "is_not_set")
CHOICE_OPS = ("eq", "neq", "in", "not_in", "is_set", "is_not_set")
NUMBER_OPS = ("eq", "neq", "gt", "gte", "lt", "lte", "between", "is_set", "is_not_set")
DATE_OPS = (
    "before",
    "after",
    "between",
    "within_last_days",
    "more_than_days_ago",
    "within_next_days",
    "anniversary_within_days",
    "is_set",
    "is_not_set",
)
DATETIME_OPS = (
    "before",
    "after",
    "between",
    "within_last_days",
    "more_than_days_ago",
    "is_set",
    "is_not_set",
)
BOOLEAN_OPS = ("is_true", "is_false", "is_set", "is_not_set")
MULTI_OPS = ("has_any", "has_all", "has_none", "is_set", "is_not_set")
OPS_BY_TYPE: dict[str, tuple[str, ...]] = {
    "text": TEXT_OPS,
    "choice": CHOICE_OPS,
    "number": NUMBER_OPS,
    "date": DATE_OPS,
    "datetime": DATETIME_OPS,
    "boolean": BOOLEAN_OPS,
    "multi": MULTI_OPS,
}
NEGATIVE_OPS = frozenset({"neq", "not_in", "not_contains", "has_none"})
DAY_OPS = frozenset({"within_last_days", "more_than_days_ago", "within_next_days", "anniversary_within_days"})
COMPARISONS = ("eq", "neq", "gt", "gte", "lt", "lte", "between")
EVENT_TYPES = ("track", "page", "screen", "identify", "group", "alias")
EVENT_AGGREGATES = ("count", "sum", "avg", "min", "max", "first", "last")
MOMENT_OPS = ("before", "after", "within_last_days", "more_than_days_ago")
PROPERTY_OPS = ("eq", "neq", "in", "not_in", "contains", "gt", "gte", "lt", "lte", "is_set", "is_not_set")
PURCHASE_MEASURES = ("recency_days", "frequency", "monetary")
RFM_GROUPS = (
    "important_value",
    "important_develop",
    "important_keep",
    "important_retain",
    "general_value",
    "general_develop",
    "general_keep",
    "general_retain",
)
PROPERTY_KEY = re.compile(r"^[\w\-$ ]{1,64}$")


DAY_ROLL = "clock:day"  # the rule has date conditions whose answer changes at local midnight


class RuleError(ValidationError):
    code = "invalid_rule"


@dataclass(frozen=True)
class FieldSpec:
    """A contact field a rule may test; custom fields are `custom.<key>`."""

    name: str
    label: str
    type: FieldType
    options: tuple[str, ...] = ()

    @property
    def is_custom(self) -> bool:
        return self.name.startswith("custom.")

    @property
    def custom_key(self) -> str:
        return self.name.removeprefix("custom.")


@dataclass(frozen=True)
class Catalog:
    """What a workspace has that rules may name; built by `catalog_load`."""

    fields: Mapping[str, FieldSpec]
    tag_ids: frozenset[UUID]
    channel_ids: frozenset[UUID]
    member_ids: frozenset[UUID]
    team_subtrees: Mapping[UUID, frozenset[UUID]]  # team → itself and its sub-teams
    segment_ids: frozenset[UUID]
    segment_references: Mapping[UUID, frozenset[UUID]]  # segment → segments its rules name
    stages: tuple[str, ...]
    identity_types: tuple[str, ...]
    # A lenient catalog (for evaluating stored rules) does not know ids: a tag or segment deleted since
    # the rule was saved simply matches nobody.
    is_lenient: bool = False


# -- nodes ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class All:
    children: tuple["Node", ...]


@dataclass(frozen=True)
class AnyOf:
    children: tuple["Node", ...]


@dataclass(frozen=True)
class Not:
    child: "Node"


@dataclass(frozen=True)
class FieldCondition:
    field: FieldSpec
    op: str
    value: Any = None  # typed by op: str, tuple, Decimal, date, datetime, int (days), pair


@dataclass(frozen=True)
class TagsCondition:
    op: Literal["any", "all", "none"]
    tag_ids: tuple[UUID, ...]


@dataclass(frozen=True)
class StageCondition:
    op: Literal["in", "not_in", "at_least", "below"]
    stages: tuple[str, ...]


@dataclass(frozen=True)
class OwnerCondition:
    op: Literal["in", "not_in", "in_team", "not_in_team", "in_pool", "not_in_pool"]
    member_ids: tuple[UUID, ...] = ()
    team_ids: tuple[UUID, ...] = ()


@dataclass(frozen=True)
class ChannelCondition:
    touch: Literal["first", "last"]
    op: Literal["in", "not_in", "is_set", "is_not_set"]
    channel_ids: tuple[UUID, ...] = ()


@dataclass(frozen=True)
class IdentityCondition:
    has: bool
    type: str


@dataclass(frozen=True)
class PropertyFilter:
    property: str
    op: str
    value: Any = None  # str | Decimal | tuple[str | Decimal, ...] | None


@dataclass(frozen=True)
class Window:
    """`last` (a duration) or `start`/`end` (end exclusive); neither means every stored event."""

    last_seconds: int | None = None
    start: datetime | None = None
    end: datetime | None = None

    @property
    def is_relative(self) -> bool:
        return self.last_seconds is not None


@dataclass(frozen=True)
class EventCondition:
    type: str
    name: str  # "" = any name of that type
    where: tuple[PropertyFilter, ...]
    window: Window
    aggregate: str
    prop: str  # the numeric property for sum / avg / min / max
    op: str
    value: Any  # Decimal, pair of Decimals, int (days) or datetime

    @property
    def dependency_key(self) -> str:
        return f"event:{self.type}:{self.name or '*'}"


@dataclass(frozen=True)
class PurchaseCondition:
    measure: str
    op: str
    value: Any  # int / Decimal, or a pair for between


@dataclass(frozen=True)
class RfmCondition:
    groups: tuple[str, ...]


@dataclass(frozen=True)
class SegmentCondition:
    is_member: bool
    segment_id: UUID


Condition: TypeAlias = (
    FieldCondition
    | TagsCondition
    | StageCondition
    | OwnerCondition
    | ChannelCondition
    | IdentityCondition
    | EventCondition
    | PurchaseCondition
    | RfmCondition
    | SegmentCondition
)
Node: TypeAlias = All | AnyOf | Not | Condition


@dataclass(frozen=True)
class Rule:
    root: Node
    dependencies: frozenset[str]
    referenced_segments: frozenset[UUID]
    is_time_relative: bool
    conditions: tuple[Condition, ...] = field(default=())


# -- parsing --------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, catalog: Catalog, *, segment_id: UUID | None) -> None:
        self.catalog = catalog
        self.segment_id = segment_id
        self.errors: dict[str, str] = {}
        self.conditions: list[Condition] = []

    def fail(self, path: str, message: str) -> None:
        self.errors.setdefault(path, message)

    # groups

    def node(self, raw: Any, path: str, depth: int) -> Node | None:
        if depth > MAX_DEPTH:
            self.fail(path, _("Groups are nested more than %(depth)s deep.") % {"depth": MAX_DEPTH})
            return None
        if not isinstance(raw, dict):
            self.fail(path, _("Expected a group or a condition (an object)."))
            return None
        if "kind" in raw:
            return self.condition(raw, path)
        keys = set(raw) & {"all", "any", "not"}
        if len(keys) != 1 or len(raw) != 1:
            self.fail(path, _("A group has exactly one of “all”, “any” or “not”; a condition has “kind”."))
            return None
        (key,) = keys
        if key == "not":
            child = self.node(raw["not"], f"{path}.not", depth + 1)
            return Not(child) if child is not None else None
        items = raw[key]
        if not isinstance(items, list):
            self.fail(f"{path}.{key}", _("Expected a list of conditions."))
            return None
        children = [self.node(item, f"{path}.{key}[{index}]", depth + 1) for index, item in enumerate(items)]
        present = tuple(child for child in children if child is not None)
        if len(present) != len(children):
            return None
        return All(present) if key == "all" else AnyOf(present)

    # conditions

    def condition(self, raw: dict[str, Any], path: str) -> Condition | None:
        kind = raw.get("kind")
        parse = {
            "field": self.field_condition,
            "tags": self.tags_condition,
            "stage": self.stage_condition,
            "owner": self.owner_condition,
            "channel": self.channel_condition,
            "identity": self.identity_condition,
            "event": self.event_condition,
            "purchase": self.purchase_condition,
            "rfm": self.rfm_condition,
            "segment": self.segment_condition,
        }.get(kind if isinstance(kind, str) else "")
        if parse is None:
            self.fail(f"{path}.kind", _("Unknown condition kind “%(kind)s”.") % {"kind": kind})
            return None
        if len(self.conditions) >= MAX_CONDITIONS:
            self.fail(path, _("A rule may hold at most %(count)s conditions.") % {"count": MAX_CONDITIONS})
            return None
        before = len(self.errors)
        condition = parse(raw, path)
        if condition is None or len(self.errors) > before:
            return None
        self.conditions.append(condition)
        return condition

    def op(self, raw: Mapping[str, Any], path: str, allowed: Sequence[str], what: str) -> str | None:
        op = raw.get("op")
        if op not in allowed:
            self.fail(
                f"{path}.op",
                _("“%(op)s” is not an operator for %(what)s; use one of: %(allowed)s.")
                % {"op": op, "what": what, "allowed": ", ".join(allowed)},
            )
            return None
        return str(op)

    def ids(self, raw: Any, path: str, known: frozenset[UUID], what: str) -> tuple[UUID, ...] | None:
        if not isinstance(raw, list) or not raw:
            self.fail(path, _("Choose at least one %(what)s.") % {"what": what})
            return None
        if len(raw) > MAX_LIST_ITEMS:
            self.fail(path, _("At most %(count)s items.") % {"count": MAX_LIST_ITEMS})
            return None
        result: list[UUID] = []
        for index, item in enumerate(raw):
            try:
                value = UUID(str(item))
            except ValueError:
                self.fail(f"{path}[{index}]", _("“%(value)s” is not an id.") % {"value": item})
                return None
            if value not in known and not self.catalog.is_lenient:
                self.fail(
                    f"{path}[{index}]",
                    _("No %(what)s with id %(id)s in this workspace.") % {"what": what, "id": value},
                )
                return None
            if value not in result:
                result.append(value)
        return tuple(result)

    def text(self, raw: Any, path: str) -> str | None:
        if not isinstance(raw, str) or not raw.strip():
            self.fail(path, _("Expected a non-empty text."))
            return None
        if len(raw) > MAX_TEXT:
            self.fail(path, _("At most %(count)s characters.") % {"count": MAX_TEXT})
            return None
        return raw

    def texts(self, raw: Any, path: str, options: tuple[str, ...] = ()) -> tuple[str, ...] | None:
        if not isinstance(raw, list) or not raw:
            self.fail(path, _("Expected a non-empty list."))
            return None
        if len(raw) > MAX_LIST_ITEMS:
            self.fail(path, _("At most %(count)s items.") % {"count": MAX_LIST_ITEMS})
            return None
        values = [self.text(item, f"{path}[{index}]") for index, item in enumerate(raw)]
        if any(value is None for value in values):
            return None
        result = tuple(dict.fromkeys(v for v in values if v is not None))
        if options:
            for value in result:
                if value not in options:
                    self.fail(path, _("“%(value)s” is not one of the field's options.") % {"value": value})
                    return None
        return result

    def number(self, raw: Any, path: str, *, minimum: Decimal | None = None) -> Decimal | None:
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            self.fail(path, _("Expected a number."))
            return None
        try:
            value = Decimal(str(raw))
        except ArithmeticError:
            self.fail(path, _("Expected a number."))
            return None
        if not value.is_finite() or abs(value) > Decimal("1e12"):
            self.fail(path, _("Expected a finite number below a trillion."))
            return None
        if minimum is not None and value < minimum:
            self.fail(path, _("Expected at least %(minimum)s.") % {"minimum": minimum})
            return None
        return value

    def days(self, raw: Any, path: str, *, maximum: int = MAX_DAYS) -> int | None:
        if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= maximum:
            self.fail(path, _("Expected a whole number of days from 0 to %(max)s.") % {"max": maximum})
            return None
        return raw

    def moment(self, raw: Any, path: str, *, date_only: bool = False) -> datetime | date | None:
        """An ISO date (local midnight for datetime fields) or, unless date_only, an ISO datetime."""
        if isinstance(raw, str):
            try:
                if len(raw) == 10:
                    day = date.fromisoformat(raw)
                    if EARLIEST <= day <= LATEST:
                        return day
                elif not date_only:
                    moment = datetime.fromisoformat(raw)
                    if timezone.is_naive(moment):
                        moment = timezone.make_aware(moment)
                    if EARLIEST <= moment.date() <= LATEST:
                        return moment
            except ValueError:
                pass
        self.fail(
            path,
            _("Expected a date (YYYY-MM-DD) between 2000 and 2100.")
            if date_only
            else _("Expected a date (YYYY-MM-DD) or a date and time (ISO 8601) between 2000 and 2100."),
        )
        return None

    def pair(self, raw: Any, path: str, parse: Any) -> tuple[Any, Any] | None:
        if not isinstance(raw, list) or len(raw) != 2:
            self.fail(path, _("Expected two values: from and to."))
            return None
        low, high = parse(raw[0], f"{path}[0]"), parse(raw[1], f"{path}[1]")
        if low is None or high is None:
            return None
        if _as_moment(low) > _as_moment(high):
            self.fail(path, _("“From” is after “to”."))
            return None
        return (low, high)

    def field_condition(self, raw: Mapping[str, Any], path: str) -> FieldCondition | None:
        name = raw.get("field")
        spec = self.catalog.fields.get(name) if isinstance(name, str) else None
        if spec is None:
            self.fail(f"{path}.field", _("Unknown field “%(field)s”.") % {"field": name})
            return None
        op = self.op(raw, path, OPS_BY_TYPE[spec.type], _("this field"))
        if op is None:
            return None
        value_path = f"{path}.value"
        value: Any = None
        raw_value = raw.get("value")
        if op in ("is_set", "is_not_set", "is_true", "is_false"):
            value = None
        elif spec.type in ("text", "choice"):
            if op in ("in", "not_in"):
                value = self.texts(raw_value, value_path, spec.options)
            else:
                value = self.text(raw_value, value_path)
                if value is not None and spec.options and value not in spec.options:
                    self.fail(
                        value_path, _("“%(value)s” is not one of the field's options.") % {"value": value}
                    )
                    return None
        elif spec.type == "multi":
            value = self.texts(raw_value, value_path, spec.options)
        elif spec.type == "number":
            value = (
                self.pair(raw_value, value_path, self.number)
                if op == "between"
                else self.number(raw_value, value_path)
            )
        elif op in DAY_OPS:
            maximum = 366 if op == "anniversary_within_days" else MAX_DAYS
            value = self.days(raw_value, value_path, maximum=maximum)
        else:
            date_only = spec.type == "date"

            def parse(item: Any, item_path: str) -> Any:
                return self.moment(item, item_path, date_only=date_only)

            value = (
                self.pair(raw_value, value_path, parse) if op == "between" else parse(raw_value, value_path)
            )
        if value is None and op not in ("is_set", "is_not_set", "is_true", "is_false"):
            return None
        if spec.type == "datetime" and op not in DAY_OPS:
            value = _localise(value, end=op == "after")
        return FieldCondition(field=spec, op=op, value=value)

    def tags_condition(self, raw: Mapping[str, Any], path: str) -> TagsCondition | None:
        op = self.op(raw, path, ("any", "all", "none"), _("tags"))
        tag_ids = self.ids(raw.get("tags"), f"{path}.tags", self.catalog.tag_ids, _("tag"))
        if op is None or tag_ids is None:
            return None
        return TagsCondition(op=op, tag_ids=tag_ids)  # type: ignore[arg-type]

    def stage_condition(self, raw: Mapping[str, Any], path: str) -> StageCondition | None:
        op = self.op(raw, path, ("in", "not_in", "at_least", "below"), _("the lifecycle stage"))
        if op is None:
            return None
        stages = raw.get("value")
        if op in ("at_least", "below"):
            if stages not in self.catalog.stages:
                self.fail(f"{path}.value", _("Unknown lifecycle stage “%(stage)s”.") % {"stage": stages})
                return None
            return StageCondition(op=op, stages=(str(stages),))  # type: ignore[arg-type]
        values = self.texts(stages, f"{path}.value", self.catalog.stages)
        return StageCondition(op=op, stages=values) if values is not None else None  # type: ignore[arg-type]

    def owner_condition(self, raw: Mapping[str, Any], path: str) -> OwnerCondition | None:
        op = self.op(
            raw, path, ("in", "not_in", "in_team", "not_in_team", "in_pool", "not_in_pool"), _("the owner")
        )
        if op in ("in", "not_in"):
            members = self.ids(raw.get("members"), f"{path}.members", self.catalog.member_ids, _("member"))
            return OwnerCondition(op=op, member_ids=members) if members is not None else None  # type: ignore[arg-type]
        if op in ("in_team", "not_in_team"):
            teams = self.ids(
                raw.get("teams"), f"{path}.teams", frozenset(self.catalog.team_subtrees), _("team")
            )
            return OwnerCondition(op=op, team_ids=teams) if teams is not None else None  # type: ignore[arg-type]
        return OwnerCondition(op=op) if op is not None else None  # type: ignore[arg-type]

    def channel_condition(self, raw: Mapping[str, Any], path: str) -> ChannelCondition | None:
        touch = raw.get("touch", "first")
        if touch not in ("first", "last"):
            self.fail(f"{path}.touch", _("“touch” is “first” (acquisition) or “last”."))
            return None
        op = self.op(raw, path, ("in", "not_in", "is_set", "is_not_set"), _("the channel"))
        if op in ("in", "not_in"):
            channels = self.ids(
                raw.get("channels"), f"{path}.channels", self.catalog.channel_ids, _("channel")
            )
            if channels is None:
                return None
            return ChannelCondition(touch=touch, op=op, channel_ids=channels)  # type: ignore[arg-type]
        return ChannelCondition(touch=touch, op=op) if op is not None else None  # type: ignore[arg-type]

    def identity_condition(self, raw: Mapping[str, Any], path: str) -> IdentityCondition | None:
        op = self.op(raw, path, ("has", "has_not"), _("identities"))
        kind = raw.get("type")
        if kind not in self.catalog.identity_types:
            self.fail(f"{path}.type", _("Unknown identity type “%(type)s”.") % {"type": kind})
            return None
        return IdentityCondition(has=op == "has", type=str(kind)) if op is not None else None

    def window(self, raw: Any, path: str) -> Window | None:
        if raw is None:
            return Window()
        if not isinstance(raw, dict):
            self.fail(path, _("Expected a window object."))
            return None
        if "last" in raw:
            unit = raw.get("unit", "days")
            if unit not in ("hours", "days"):
                self.fail(f"{path}.unit", _("The unit is “hours” or “days”."))
                return None
            limit = MAX_DAYS * (24 if unit == "hours" else 1)
            amount = raw.get("last")
            if isinstance(amount, bool) or not isinstance(amount, int) or not 1 <= amount <= limit:
                self.fail(f"{path}.last", _("Expected a whole number from 1 to %(max)s.") % {"max": limit})
                return None
            return Window(last_seconds=amount * (3600 if unit == "hours" else 86400))
        if "from" in raw or "to" in raw:
            bounds = self.pair([raw.get("from"), raw.get("to")], path, self.moment)
            if bounds is None:
                return None
            start, end = (_localise(bound, end=index == 1) for index, bound in enumerate(bounds))
            return Window(start=start, end=end)
        self.fail(path, _("A window has “last” (with “unit”) or “from” and “to”."))
        return None

    def property_filter(self, raw: Any, path: str) -> PropertyFilter | None:
        if not isinstance(raw, dict):
            self.fail(path, _("Expected a property filter (an object)."))
            return None
        key = raw.get("property")
        if not isinstance(key, str) or not PROPERTY_KEY.match(key):
            self.fail(
                f"{path}.property", _("A property name is 1–64 letters, digits, spaces, “_”, “-” or “$”.")
            )
            return None
        op = self.op(raw, path, PROPERTY_OPS, _("an event property"))
        if op is None:
            return None
        value_path, raw_value = f"{path}.value", raw.get("value")
        value: Any
        if op in ("is_set", "is_not_set"):
            value = None
        elif op in ("gt", "gte", "lt", "lte"):
            value = self.number(raw_value, value_path)
        elif op == "contains":
            value = self.text(raw_value, value_path)
        elif op in ("in", "not_in"):
            if not isinstance(raw_value, list) or not raw_value or len(raw_value) > MAX_LIST_ITEMS:
                self.fail(
                    value_path, _("Expected a list of 1 to %(count)s values.") % {"count": MAX_LIST_ITEMS}
                )
                return None
            items = [self.scalar(item, f"{value_path}[{index}]") for index, item in enumerate(raw_value)]
            value = None if any(item is None for item in items) else tuple(items)
        else:
            value = self.scalar(raw_value, value_path)
        if value is None and op not in ("is_set", "is_not_set"):
            return None
        return PropertyFilter(property=key, op=op, value=value)

    def scalar(self, raw: Any, path: str) -> str | Decimal | None:
        """Text matches text properties, numbers match numeric ones."""
        if isinstance(raw, str):
            return self.text(raw, path)
        return self.number(raw, path)

    def event_condition(self, raw: Mapping[str, Any], path: str) -> EventCondition | None:
        event_type = raw.get("type", "track")
        if event_type not in EVENT_TYPES:
            self.fail(f"{path}.type", _("Unknown event type “%(type)s”.") % {"type": event_type})
            return None
        name = raw.get("name", "")
        if not isinstance(name, str) or len(name) > MAX_TEXT or (event_type == "track" and not name.strip()):
            self.fail(f"{path}.name", _("Name the event (at most 200 characters)."))
            return None
        where_raw = raw.get("where", [])
        if not isinstance(where_raw, list) or len(where_raw) > 20:
            self.fail(f"{path}.where", _("Expected a list of at most 20 property filters."))
            return None
        where = [self.property_filter(item, f"{path}.where[{index}]") for index, item in enumerate(where_raw)]
        window = self.window(raw.get("window"), f"{path}.window")
        aggregate = raw.get("aggregate", "count")
        if aggregate not in EVENT_AGGREGATES:
            self.fail(f"{path}.aggregate", _("Unknown aggregate “%(aggregate)s”.") % {"aggregate": aggregate})
            return None
        prop = ""
        if aggregate in ("sum", "avg", "min", "max"):
            prop = raw.get("property", "")
            if not isinstance(prop, str) or not PROPERTY_KEY.match(prop):
                self.fail(f"{path}.property", _("Name the numeric property to aggregate."))
                return None
        value: Any
        if aggregate in ("first", "last"):
            op = self.op(raw, path, MOMENT_OPS, _("a first or last occurrence"))
            if op is None:
                return None
            value = (
                self.days(raw.get("value"), f"{path}.value")
                if op in DAY_OPS
                else _localise(self.moment(raw.get("value"), f"{path}.value"), end=op == "after")
            )
        else:
            op = self.op(raw, path, COMPARISONS, _("an event measure"))
            if op is None:
                return None
            minimum = Decimal(0) if aggregate == "count" else None
            if op == "between":
                value = self.pair(raw.get("value", [1, MAX_COUNT]), f"{path}.value", self.number)
            else:
                value = self.number(raw.get("value", 1), f"{path}.value", minimum=minimum)
            if aggregate == "count" and value is not None:
                bounds = value if isinstance(value, tuple) else (value,)
                if any(bound != bound.to_integral_value() or bound > MAX_COUNT for bound in bounds):
                    self.fail(f"{path}.value", _("Counts are whole numbers up to a million."))
                    return None
        if value is None or window is None or any(item is None for item in where):
            return None
        return EventCondition(
            type=event_type,
            name=name.strip(),
            where=tuple(item for item in where if item is not None),
            window=window,
            aggregate=aggregate,
            prop=prop,
            op=op,
            value=value,
        )

    def purchase_condition(self, raw: Mapping[str, Any], path: str) -> PurchaseCondition | None:
        measure = raw.get("measure")
        if measure not in PURCHASE_MEASURES:
            self.fail(f"{path}.measure", _("The measure is recency_days, frequency or monetary."))
            return None
        op = self.op(raw, path, COMPARISONS, _("a purchase measure"))
        if op is None:
            return None
        value_path = f"{path}.value"
        value: Any
        if measure == "monetary":
            value = (
                self.pair(raw.get("value"), value_path, self.number)
                if op == "between"
                else self.number(raw.get("value"), value_path)
            )
        else:

            def whole(item: Any, item_path: str) -> int | None:
                if measure == "recency_days":
                    return self.days(item, item_path)
                if isinstance(item, bool) or not isinstance(item, int) or not 0 <= item <= MAX_COUNT:
                    self.fail(
                        item_path,
                        _("Expected a whole number of orders from 0 to %(max)s.") % {"max": MAX_COUNT},
                    )
                    return None
                return item

            value = (
                self.pair(raw.get("value"), value_path, whole)
                if op == "between"
                else whole(raw.get("value"), value_path)
            )
        return PurchaseCondition(measure=str(measure), op=op, value=value) if value is not None else None

    def rfm_condition(self, raw: Mapping[str, Any], path: str) -> RfmCondition | None:
        groups = self.texts(raw.get("groups"), f"{path}.groups", RFM_GROUPS)
        return RfmCondition(groups=groups) if groups is not None else None

    def segment_condition(self, raw: Mapping[str, Any], path: str) -> SegmentCondition | None:
        op = self.op(raw, path, ("in", "not_in"), _("segment membership"))
        ids = self.ids([raw.get("segment")], f"{path}.segment", self.catalog.segment_ids, _("segment"))
        if op is None or ids is None:
            return None
        (segment_id,) = ids
        if (
            self.segment_id is not None
            and not self.catalog.is_lenient
            and self._reaches(segment_id, self.segment_id)
        ):
            self.fail(f"{path}.segment", _("This would make segments refer to each other in a circle."))
            return None
        return SegmentCondition(is_member=op == "in", segment_id=segment_id)

    def _reaches(self, start: UUID, target: UUID) -> bool:
        seen: set[UUID] = set()
        pending = [start]
        while pending:
            current = pending.pop()
            if current == target:
                return True
            if current in seen:
                continue
            seen.add(current)
            pending.extend(self.catalog.segment_references.get(current, ()))
        return False


def _as_moment(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return day_start(value)
    return value


def _localise(value: Any, *, end: bool = False) -> Any:
    """Dates given for datetime comparisons mean local midnight (an end date: the midnight after it)."""
    if isinstance(value, tuple):
        return (_localise(value[0]), _localise(value[1], end=True))
    if isinstance(value, datetime) or not isinstance(value, date):
        return value
    return day_start(date.fromordinal(value.toordinal() + 1) if end else value)


def rule_parse(
    document: Any, *, catalog: Catalog, segment_id: UUID | None = None, lenient: bool = False
) -> Rule:
    """Validate a rule document; raises RuleError with every problem keyed by its path."""
    if lenient and not catalog.is_lenient:
        catalog = replace(catalog, is_lenient=True)
    try:
        size = len(orjson.dumps(document)) if document is not None else 0
    except TypeError as exc:  # JSON reads any integer; the rule language and the databases, 64 bits
        raise RuleError(
            _("The rule holds a number too large to use (more than 19 digits)."),
            fields={"root": _("A number is too large.")},
        ) from exc
    if size > MAX_RULE_BYTES:
        raise RuleError(
            _("The rule is too large (%(size)s KB; at most 32 KB).") % {"size": size // 1024},
            fields={"root": _("The rule is too large.")},
        )
    if not isinstance(document, dict):
        raise RuleError(_("The rule must be an object."), fields={"": _("Expected an object.")})
    version = document.get("version")
    if version != RULES_VERSION:
        raise RuleError(
            _("Unsupported rule language version “%(version)s”; this server reads version 1.")
            % {"version": version},
            fields={"version": _("Expected 1.")},
        )
    unknown = set(document) - {"version", "root"}
    parser = _Parser(catalog, segment_id=segment_id)
    if unknown:
        parser.fail(sorted(unknown)[0], _("Unknown key."))
    root = parser.node(document.get("root"), "root", 0)
    if parser.errors or root is None:
        first_path, first_message = next(iter(parser.errors.items()))
        raise RuleError(
            _("The rule has a problem at %(path)s: %(message)s")
            % {"path": first_path, "message": first_message},
            fields=parser.errors,
        )
    return _rule_of(root, tuple(parser.conditions))


def _rule_of(root: Node, conditions: tuple[Condition, ...]) -> Rule:
    dependencies: set[str] = set()
    referenced: set[UUID] = set()
    time_relative = False
    for condition in conditions:
        dependencies |= condition_dependencies(condition)
        if isinstance(condition, SegmentCondition):
            referenced.add(condition.segment_id)
        time_relative = time_relative or condition_is_time_relative(condition)
    return Rule(
        root=root,
        dependencies=frozenset(dependencies),
        referenced_segments=frozenset(referenced),
        is_time_relative=time_relative,
        conditions=conditions,
    )


def condition_dependencies(condition: Condition) -> set[str]:
    """The changes that can alter this condition's answer for a contact (see segments.handlers)."""
    match condition:
        case FieldCondition(field=spec, op=op):
            day_rolls = {DAY_ROLL} if spec.type == "date" and op in DAY_OPS else set()
            return {"field:custom" if spec.is_custom else f"field:{spec.name}"} | day_rolls
        case TagsCondition():
            return {"tags"}
        case StageCondition():
            return {"field:stage"}
        case OwnerCondition():
            return {"field:owner"}
        case ChannelCondition(touch="first"):
            return {"field:channel"}
        case ChannelCondition():
            return {"activity:touch"}
        case IdentityCondition():
            return {"identities"}
        case EventCondition():
            return {condition.dependency_key}
        case PurchaseCondition() | RfmCondition():
            return {"purchases"} | ({"rfm"} if isinstance(condition, RfmCondition) else set())
        case SegmentCondition(segment_id=segment_id):
            return {f"segment:{segment_id}"}
    return set()


def condition_is_time_relative(condition: Condition) -> bool:
    match condition:
        case FieldCondition(op=op):
            return op in DAY_OPS
        case EventCondition(window=window, aggregate=aggregate, op=op):
            return window.is_relative or (aggregate in ("first", "last") and op in DAY_OPS)
        case PurchaseCondition(measure="recency_days") | RfmCondition():
            return True
    return False


def rule_document_of(rule_json: Any) -> dict[str, Any]:
    """A stored rule document, or the empty rule (everyone)."""
    return (
        rule_json
        if isinstance(rule_json, dict) and rule_json
        else {"version": RULES_VERSION, "root": {"all": []}}
    )
