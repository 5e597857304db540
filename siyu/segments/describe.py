"""A rule document as readable sentences: 「城市 等于 上海」「近 7 天 Article Read 次数 ≥ 2」.

Works on the stored JSON, not on parsed rules, so it can describe any document — one saved before a
tag was deleted, or one the builder is still editing. Ids are shown by name; an id that no longer
exists reads “(deleted)”, and a part it cannot read says so instead of failing.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from siyu.contacts.models import Gender, IdentityType, Stage
from siyu.contacts.selectors import channel_list, tag_list
from siyu.segments.rfm import GROUP_LABELS
from siyu.segments.rules.spec import FieldSpec
from siyu.segments.selectors.catalog import catalog_load
from siyu.segments.selectors.segments import segment_list
from siyu.tenancy.selectors import member_list, team_list

LIST_SEPARATOR = "、"

# Short operator labels, shared with the builder's operator pickers.
OP_LABELS: dict[str, str | Promise] = {
    "eq": gettext_lazy("equals"),
    "neq": gettext_lazy("does not equal"),
    "in": gettext_lazy("is one of"),
    "not_in": gettext_lazy("is none of"),
    "contains": gettext_lazy("contains"),
    "not_contains": gettext_lazy("does not contain"),
    "starts_with": gettext_lazy("starts with"),
    "is_set": gettext_lazy("is filled in"),
    "is_not_set": gettext_lazy("is empty"),
    "gt": ">",
    "gte": "≥",
    "lt": "<",
    "lte": "≤",
    "between": gettext_lazy("is between"),
    "before": gettext_lazy("is before"),
    "after": gettext_lazy("is after"),
    "within_last_days": gettext_lazy("is within the last … days"),
    "more_than_days_ago": gettext_lazy("is more than … days ago"),
    "within_next_days": gettext_lazy("is within the next … days"),
    "anniversary_within_days": gettext_lazy("has its anniversary within … days"),
    "is_true": gettext_lazy("is yes"),
    "is_false": gettext_lazy("is no"),
    "has_any": gettext_lazy("has any of"),
    "has_all": gettext_lazy("has all of"),
    "has_none": gettext_lazy("has none of"),
}
EVENT_TYPE_LABELS: dict[str, str | Promise] = {
    "track": gettext_lazy("Action (track)"),
    "page": gettext_lazy("Page view (page)"),
    "screen": gettext_lazy("App screen (screen)"),
    "identify": gettext_lazy("Identified (identify)"),
    "group": gettext_lazy("Joined a group (group)"),
    "alias": gettext_lazy("Alias (alias)"),
}
AGGREGATE_LABELS: dict[str, str | Promise] = {
    "count": gettext_lazy("count"),
    "sum": gettext_lazy("total"),
    "avg": gettext_lazy("average"),
    "min": gettext_lazy("minimum"),
    "max": gettext_lazy("maximum"),
    "first": gettext_lazy("first time"),
    "last": gettext_lazy("last time"),
}
PURCHASE_LABELS: dict[str, str | Promise] = {
    "recency_days": gettext_lazy("Days since the last order"),
    "frequency": gettext_lazy("Number of orders"),
    "monetary": gettext_lazy("Total spent (¥)"),
}
TOUCH_LABELS: dict[str, str | Promise] = {
    "first": gettext_lazy("First-touch channel"),
    "last": gettext_lazy("Last-touch channel"),
}
# Choice fields whose stored values are codes: show their labels.
CHOICE_LABELS: dict[str, dict[str, str | Promise]] = {
    "gender": {str(value): label for value, label in Gender.choices if value},
}


@dataclass(frozen=True)
class RuleLine:
    """One sentence; a group's sentence introduces its children."""

    text: str
    children: tuple["RuleLine", ...] = ()
    is_group: bool = False


@dataclass(frozen=True)
class Names:
    """Display names for what rules refer to by id or key."""

    fields: Mapping[str, FieldSpec] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    channels: Mapping[str, str] = field(default_factory=dict)
    members: Mapping[str, str] = field(default_factory=dict)
    teams: Mapping[str, str] = field(default_factory=dict)
    segments: Mapping[str, str] = field(default_factory=dict)


def _ids_in(node: Any, key: str, found: set[UUID]) -> None:
    if isinstance(node, dict):
        for name, value in node.items():
            if name == key:
                for item in value if isinstance(value, list) else [value]:
                    try:
                        found.add(UUID(str(item)))
                    except ValueError:
                        continue
            else:
                _ids_in(value, key, found)
    elif isinstance(node, list):
        for item in node:
            _ids_in(item, key, found)


def rule_names(document: Any) -> Names:
    """Names for every id the document mentions (a few small queries, only for what is there)."""

    def ids(key: str) -> set[UUID]:
        found: set[UUID] = set()
        _ids_in(document, key, found)
        return found

    tag_ids, channel_ids, member_ids = ids("tags"), ids("channels"), ids("members")
    team_ids, segment_ids = ids("teams"), ids("segment")
    return Names(
        fields=catalog_load(lenient=True).fields,
        tags={str(t.id): t.name for t in tag_list().filter(id__in=tag_ids)} if tag_ids else {},
        channels={str(c.id): c.name for c in channel_list().filter(id__in=channel_ids)}
        if channel_ids
        else {},
        members=(
            {str(m.id): m.display_name for m in member_list(active_only=False).filter(id__in=member_ids)}
            if member_ids
            else {}
        ),
        teams={str(t.id): t.name for t in team_list().filter(id__in=team_ids)} if team_ids else {},
        segments={str(s.id): s.name for s in segment_list().filter(id__in=segment_ids)}
        if segment_ids
        else {},
    )


# -- values ---------------------------------------------------------------------------------------


def _number(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    if not number.is_finite():
        return str(value)
    return format(number.normalize(), "f")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, int | float | Decimal):
        return _number(value)
    return str(value)


def _joined(values: Iterable[Any]) -> str:
    return LIST_SEPARATOR.join(_text(value) for value in values)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _named(values: Any, names: Mapping[str, str]) -> str:
    return LIST_SEPARATOR.join(names.get(str(value), _("(deleted)")) for value in _as_list(values))


def _pair(value: Any) -> tuple[Any, Any]:
    if isinstance(value, list | tuple) and len(value) == 2:
        return value[0], value[1]
    return value, value


def _comparison(op: str, value: Any, *, money: bool = False) -> str:
    """“≥ 2”, “between 1 and 5”, “before 2024-01-01”, “within the last 7 days”."""

    def shown(item: Any) -> str:
        return f"¥{_number(item)}" if money else _text(item)

    if op == "between":
        low, high = _pair(value)
        return _("between %(low)s and %(high)s") % {"low": shown(low), "high": shown(high)}
    symbols = {"eq": "=", "neq": "≠", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤"}
    if op in symbols:
        return f"{symbols[op]} {shown(value)}"
    sentences = {
        "before": _("before %(value)s"),
        "after": _("after %(value)s"),
        "within_last_days": _("within the last %(value)s days"),
        "more_than_days_ago": _("more than %(value)s days ago"),
    }
    if op in sentences:
        return sentences[op] % {"value": _text(value)}
    return f"{op} {_text(value)}"


# -- conditions -----------------------------------------------------------------------------------


def _field_sentence(raw: Mapping[str, Any], names: Names) -> str:
    key = str(raw.get("field", ""))
    spec = names.fields.get(key)
    label = spec.label if spec else key or _("(unknown field)")
    op = str(raw.get("op", ""))
    value = raw.get("value")
    option_labels = CHOICE_LABELS.get(key, {})

    def shown(item: Any) -> str:
        return str(option_labels.get(str(item), _text(item)))

    if isinstance(value, list) and op != "between":
        value_text = LIST_SEPARATOR.join(shown(item) for item in value)
    else:
        value_text = shown(value)
    low, high = _pair(value)
    sentences = {
        "eq": _("%(field)s equals %(value)s"),
        "neq": _("%(field)s does not equal %(value)s"),
        "in": _("%(field)s is one of %(value)s"),
        "not_in": _("%(field)s is none of %(value)s"),
        "contains": _("%(field)s contains %(value)s"),
        "not_contains": _("%(field)s does not contain %(value)s"),
        "starts_with": _("%(field)s starts with %(value)s"),
        "is_set": _("%(field)s is filled in"),
        "is_not_set": _("%(field)s is empty"),
        "gt": "%(field)s > %(value)s",
        "gte": "%(field)s ≥ %(value)s",
        "lt": "%(field)s < %(value)s",
        "lte": "%(field)s ≤ %(value)s",
        "between": _("%(field)s is between %(low)s and %(high)s"),
        "before": _("%(field)s is before %(value)s"),
        "after": _("%(field)s is after %(value)s"),
        "within_last_days": _("%(field)s is within the last %(value)s days"),
        "more_than_days_ago": _("%(field)s is more than %(value)s days ago"),
        "within_next_days": _("%(field)s is within the next %(value)s days"),
        "anniversary_within_days": _("%(field)s has its anniversary within the next %(value)s days"),
        "is_true": _("%(field)s is yes"),
        "is_false": _("%(field)s is no"),
        "has_any": _("%(field)s has any of %(value)s"),
        "has_all": _("%(field)s has all of %(value)s"),
        "has_none": _("%(field)s has none of %(value)s"),
    }
    sentence = sentences.get(op)
    if sentence is None:
        return _unreadable()
    return sentence % {"field": label, "value": value_text, "low": shown(low), "high": shown(high)}


def _tags_sentence(raw: Mapping[str, Any], names: Names) -> str:
    tags = _named(raw.get("tags", []), names.tags)
    sentences = {
        "any": _("Has any of the tags %(tags)s"),
        "all": _("Has all of the tags %(tags)s"),
        "none": _("Has none of the tags %(tags)s"),
    }
    sentence = sentences.get(str(raw.get("op", "")))
    return sentence % {"tags": tags} if sentence else _unreadable()


def _stage_label(value: Any) -> str:
    try:
        return str(Stage(str(value)).label)
    except ValueError:
        return str(value)


def _stage_sentence(raw: Mapping[str, Any], names: Names) -> str:
    op = str(raw.get("op", ""))
    value = raw.get("value")
    if op in ("at_least", "below"):
        sentence = (
            _("Lifecycle stage is %(stage)s or later")
            if op == "at_least"
            else _("Lifecycle stage is before %(stage)s")
        )
        return sentence % {"stage": _stage_label(value)}
    stages = LIST_SEPARATOR.join(_stage_label(stage) for stage in _as_list(value))
    if op == "in":
        return _("Lifecycle stage is one of %(stages)s") % {"stages": stages}
    if op == "not_in":
        return _("Lifecycle stage is none of %(stages)s") % {"stages": stages}
    return _unreadable()


def _owner_sentence(raw: Mapping[str, Any], names: Names) -> str:
    op = str(raw.get("op", ""))
    members = _named(raw.get("members", []), names.members)
    teams = _named(raw.get("teams", []), names.teams)
    sentences = {
        "in": _("Owner is one of %(members)s") % {"members": members},
        "not_in": _("Owner is none of %(members)s") % {"members": members},
        "in_team": _("Owner is in the team %(teams)s (sub-teams included)") % {"teams": teams},
        "not_in_team": _("Owner is not in the team %(teams)s (sub-teams included)") % {"teams": teams},
        "in_pool": _("In the public pool"),
        "not_in_pool": _("Not in the public pool (has an owner)"),
    }
    return sentences.get(op) or _unreadable()


def _channel_sentence(raw: Mapping[str, Any], names: Names) -> str:
    touch = str(TOUCH_LABELS.get(str(raw.get("touch", "first")), TOUCH_LABELS["first"]))
    channels = _named(raw.get("channels", []), names.channels)
    sentences = {
        "in": _("%(touch)s is one of %(channels)s"),
        "not_in": _("%(touch)s is none of %(channels)s"),
        "is_set": _("%(touch)s is known"),
        "is_not_set": _("%(touch)s is unknown"),
    }
    sentence = sentences.get(str(raw.get("op", "")))
    return sentence % {"touch": touch, "channels": channels} if sentence else _unreadable()


def _identity_sentence(raw: Mapping[str, Any], names: Names) -> str:
    kind = str(raw.get("type", ""))
    try:
        label = str(IdentityType(kind).label)
    except ValueError:
        label = kind
    if raw.get("op") == "has":
        return _("Has a %(type)s identity") % {"type": label}
    if raw.get("op") == "has_not":
        return _("Has no %(type)s identity") % {"type": label}
    return _unreadable()


def _window_text(window: Any) -> str:
    if not isinstance(window, dict):
        return _("Ever")
    if "last" in window:
        if window.get("unit") == "hours":
            return _("In the last %(count)s hours") % {"count": _text(window.get("last"))}
        return _("In the last %(count)s days") % {"count": _text(window.get("last"))}
    if "from" in window or "to" in window:
        return _("From %(start)s to %(end)s") % {
            "start": _text(window.get("from", "")),
            "end": _text(window.get("to", "")),
        }
    return _("Ever")


def _property_filter_text(raw: Any) -> str:
    if not isinstance(raw, dict):
        return _unreadable()
    key = _text(raw.get("property", ""))
    op = str(raw.get("op", ""))
    value = raw.get("value")
    if op == "is_set":
        return _("%(field)s is filled in") % {"field": key}
    if op == "is_not_set":
        return _("%(field)s is empty") % {"field": key}
    if op in ("in", "not_in"):
        sentence = _("%(field)s is one of %(value)s") if op == "in" else _("%(field)s is none of %(value)s")
        return sentence % {"field": key, "value": _joined(_as_list(value))}
    if op == "contains":
        return _("%(field)s contains %(value)s") % {"field": key, "value": _text(value)}
    if op == "eq":
        return _("%(field)s equals %(value)s") % {"field": key, "value": _text(value)}
    if op == "neq":
        return _("%(field)s does not equal %(value)s") % {"field": key, "value": _text(value)}
    return f"{key} {_comparison(op, value)}"


def _event_sentence(raw: Mapping[str, Any], names: Names) -> str:
    event_type = str(raw.get("type", "track"))
    name = str(raw.get("name", "") or "").strip()
    type_label = str(EVENT_TYPE_LABELS.get(event_type, event_type))
    if event_type == "track" and name:
        event = name
    elif name:
        event = _("%(type)s “%(name)s”") % {"type": type_label, "name": name}
    else:
        event = _("any %(type)s") % {"type": type_label}
    where = raw.get("where") or []
    if isinstance(where, list) and where:
        event += _(" (where %(filters)s)") % {"filters": "；".join(_property_filter_text(w) for w in where)}
    aggregate = str(raw.get("aggregate", "count"))
    if aggregate == "count":
        measure = _("count")
    elif aggregate in ("sum", "avg", "min", "max"):
        measure = _("%(aggregate)s of %(property)s") % {
            "aggregate": AGGREGATE_LABELS[aggregate],
            "property": _text(raw.get("property", "")),
        }
    elif aggregate in ("first", "last"):
        measure = str(AGGREGATE_LABELS[aggregate])
    else:
        return _unreadable()
    op = str(raw.get("op", "gte"))
    value = raw.get("value", 1)
    return _("%(window)s %(event)s %(measure)s %(comparison)s") % {
        "window": _window_text(raw.get("window")),
        "event": event,
        "measure": measure,
        "comparison": _comparison(op, value),
    }


def _purchase_sentence(raw: Mapping[str, Any], names: Names) -> str:
    measure = str(raw.get("measure", ""))
    if measure not in PURCHASE_LABELS:
        return _unreadable()
    comparison = _comparison(str(raw.get("op", "")), raw.get("value"), money=measure == "monetary")
    return f"{PURCHASE_LABELS[measure]} {comparison}"


def _rfm_sentence(raw: Mapping[str, Any], names: Names) -> str:
    groups = LIST_SEPARATOR.join(
        str(GROUP_LABELS.get(str(group), group)) for group in _as_list(raw.get("groups", []))
    )
    return _("RFM group is one of %(groups)s") % {"groups": groups}


def _segment_sentence(raw: Mapping[str, Any], names: Names) -> str:
    name = names.segments.get(str(raw.get("segment", "")), _("(deleted)"))
    if raw.get("op") == "in":
        return _("Is in the segment “%(name)s”") % {"name": name}
    if raw.get("op") == "not_in":
        return _("Is not in the segment “%(name)s”") % {"name": name}
    return _unreadable()


def _unreadable() -> str:
    return _("(a condition this version cannot read)")


SENTENCES = {
    "field": _field_sentence,
    "tags": _tags_sentence,
    "stage": _stage_sentence,
    "owner": _owner_sentence,
    "channel": _channel_sentence,
    "identity": _identity_sentence,
    "event": _event_sentence,
    "purchase": _purchase_sentence,
    "rfm": _rfm_sentence,
    "segment": _segment_sentence,
}


def condition_describe(raw: Mapping[str, Any], *, names: Names) -> str:
    describe = SENTENCES.get(str(raw.get("kind", "")))
    return describe(raw, names) if describe else _unreadable()


# -- the tree -------------------------------------------------------------------------------------


def _node(raw: Any, names: Names, *, negated: bool = False) -> RuleLine:
    if isinstance(raw, dict) and "kind" in raw:
        text = condition_describe(raw, names=names)
        return RuleLine(_("Not: %(condition)s") % {"condition": text} if negated else text)
    if isinstance(raw, dict) and "not" in raw and len(raw) == 1:
        inner = raw["not"]
        if negated:  # not(not x) is x
            return _node(inner, names)
        return _node(inner, names, negated=True)
    if isinstance(raw, dict) and len(raw) == 1 and ("all" in raw or "any" in raw):
        is_all = "all" in raw
        items = raw["all" if is_all else "any"]
        children = tuple(_node(item, names) for item in items) if isinstance(items, list) else ()
        if is_all:
            text = _("Not all of the following hold") if negated else _("All of the following")
        else:
            text = _("None of the following") if negated else _("Any of the following")
        return RuleLine(text, children, is_group=True)
    return RuleLine(_unreadable())


def rule_describe(document: Any, *, names: Names | None = None) -> RuleLine:
    """The document as a tree of sentences; the top line says how its conditions combine."""
    root = document.get("root") if isinstance(document, dict) else None
    if root is None or root == {"all": []}:
        return RuleLine(_("Everyone (no conditions)"))
    names = names if names is not None else rule_names(document)
    line = _node(root, names)
    if not line.is_group:  # a single condition at the root
        return RuleLine(_("All of the following"), (line,), is_group=True)
    return line
