"""The visual rule builder's server side: the catalog it picks from, the live preview and the
property keys of an event."""

from typing import Any
from uuid import UUID

import orjson
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from siyu.contacts.models import IdentityType, Stage
from siyu.contacts.selectors import channel_list, tag_list
from siyu.core.text import storable_text
from siyu.core.web import ActorRequest, actor_required
from siyu.segments.describe import (
    AGGREGATE_LABELS,
    CHOICE_LABELS,
    EVENT_TYPE_LABELS,
    OP_LABELS,
    PURCHASE_LABELS,
    TOUCH_LABELS,
)
from siyu.segments.models import Segment
from siyu.segments.rfm import GROUP_LABELS
from siyu.segments.rules.spec import (
    COMPARISONS,
    EVENT_TYPES,
    MOMENT_OPS,
    OPS_BY_TYPE,
    PROPERTY_OPS,
    RULES_VERSION,
    rule_document_of,
)
from siyu.segments.selectors.catalog import catalog_load
from siyu.segments.selectors.segments import rule_preview, segment_get, segment_list
from siyu.tenancy.actor import Actor
from siyu.tenancy.roles import Permission
from siyu.tenancy.selectors import member_list, team_list
from siyu.tracking.selectors.events import event_names_recent, event_property_keys

Request = ActorRequest[Actor]
CONDITION_KINDS: dict[str, str | Promise] = {
    "field": gettext_lazy("Profile field"),
    "tags": gettext_lazy("Tags"),
    "stage": gettext_lazy("Lifecycle stage"),
    "owner": gettext_lazy("Owner"),
    "channel": gettext_lazy("Channel"),
    "identity": gettext_lazy("Identity"),
    "event": gettext_lazy("Behaviour (events)"),
    "purchase": gettext_lazy("Purchases"),
    "rfm": gettext_lazy("RFM group"),
    "segment": gettext_lazy("Another segment"),
}
EVENT_NAMES_SHOWN = 300
PREVIEW_SAMPLE = 10


def builder_catalog(*, segment: Segment | None = None) -> dict[str, Any]:
    """Everything the builder's pickers offer, as JSON for `json_script`."""
    fields = []
    for spec in catalog_load(lenient=True).fields.values():
        labels = CHOICE_LABELS.get(spec.name, {})
        fields.append(
            {
                "name": spec.name,
                "label": spec.label,
                "type": spec.type,
                "custom": spec.is_custom,
                "options": [
                    {"value": option, "label": str(labels.get(option, option))}
                    for option in spec.options
                    if option
                ],
            }
        )
    tag_groups: dict[str, dict[str, Any]] = {}
    for tag in tag_list().order_by("group__sort_order", "group__name", "sort_order", "name"):
        group = tag_groups.setdefault(str(tag.group_id), {"name": tag.group.name, "tags": []})
        group["tags"].append({"id": str(tag.id), "name": tag.name, "color": tag.color})
    return {
        "version": RULES_VERSION,
        "fields": fields,
        "ops": {kind: list(ops) for kind, ops in OPS_BY_TYPE.items()},
        "opLabels": {op: str(label) for op, label in OP_LABELS.items()},
        "comparisons": list(COMPARISONS),
        "momentOps": list(MOMENT_OPS),
        "propertyOps": list(PROPERTY_OPS),
        "tagGroups": list(tag_groups.values()),
        "stages": [{"value": str(value), "label": str(label)} for value, label in Stage.choices],
        "members": [
            {
                "id": str(m.id),
                "name": m.display_name
                if m.is_active
                else _("%(name)s (inactive)") % {"name": m.display_name},
            }
            for m in member_list(active_only=False)
        ],
        "teams": [{"id": str(t.id), "name": t.name} for t in team_list().order_by("name")],
        "channels": [{"id": str(c.id), "name": c.name} for c in channel_list()],
        "identityTypes": [
            {"value": str(value), "label": str(label)} for value, label in IdentityType.choices
        ],
        "segments": [
            {"id": str(s.id), "name": s.name} for s in segment_list() if segment is None or s.id != segment.id
        ],
        "eventTypes": [{"value": kind, "label": str(EVENT_TYPE_LABELS[kind])} for kind in EVENT_TYPES],
        "eventNames": [
            {"type": kind, "name": name, "count": count}
            for kind, name, count in event_names_recent()[:EVENT_NAMES_SHOWN]
            if name
        ],
        "aggregates": [{"value": key, "label": str(label)} for key, label in AGGREGATE_LABELS.items()],
        "purchaseMeasures": [{"value": key, "label": str(label)} for key, label in PURCHASE_LABELS.items()],
        "touches": [{"value": key, "label": str(label)} for key, label in TOUCH_LABELS.items()],
        "rfmGroups": [{"value": key, "label": str(label)} for key, label in GROUP_LABELS.items()],
        "kinds": [{"value": key, "label": str(label)} for key, label in CONDITION_KINDS.items()],
    }


def builder_labels() -> dict[str, str]:
    """The few sentences the builder's script writes itself."""
    return {
        "choose": _("Choose…"),
        "add": _("Add…"),
        "remove": _("Remove"),
        "deleted": _("(deleted)"),
        "previewFailed": _("The preview could not be loaded. Check the connection; your rule is kept."),
        "whereFilter": _("Property filter %(number)s"),
        "window": _("Time range"),
        "property": _("Property"),
        "badJson": _("This is not a rule document (JSON with “version” and “root”)."),
    }


def initial_document(rules: Any) -> dict[str, Any]:
    return rule_document_of(rules) if isinstance(rules, dict) else rule_document_of(None)


def _segment_or_none(raw: str) -> Segment | None:
    try:
        return segment_get(segment_id=UUID(raw)) if raw else None
    except ValueError:
        return None


def posted_rules(request: Request) -> Any:
    """The builder's rule document as posted (even when invalid, to show it again with its problems),
    NUL replaced (`siyu.core.text`); None when it is not JSON."""
    try:
        return storable_text(orjson.loads(request.POST.get("rules", "") or "null"))
    except orjson.JSONDecodeError:
        return None


@require_POST
@actor_required(Permission.SEGMENTS_READ)
def preview(request: Request) -> HttpResponse:
    """The live count, a sample the actor may see and the rule's problems by path."""
    segment = _segment_or_none(request.POST.get("segment", ""))
    document = posted_rules(request)
    if document is None:
        context: dict[str, Any] = {
            "count": None,
            "sample": [],
            "errors": {},
            "message": _("The rules could not be read."),
        }
    else:
        result = rule_preview(
            actor=request.actor,
            rules=document,
            segment_id=segment.id if segment else None,
            sample_size=PREVIEW_SAMPLE,
        )
        context = {
            "count": None if result.errors else result.count,
            "sample": result.sample,
            "errors": result.errors,
            "message": result.message,
        }
    return render(request, "segments/partials/preview.html", context)


@require_GET
@actor_required(Permission.SEGMENTS_READ)
def event_properties(request: Request) -> JsonResponse:
    """Property keys seen on recent events of a type and name, for the property pickers."""
    kind = request.GET.get("type", "track")
    if kind not in EVENT_TYPES:
        return JsonResponse({"properties": []})
    name = request.GET.get("name", "").strip()[:200]
    keys = event_property_keys(type=kind, name=name)
    return JsonResponse({"properties": [{"key": key, "type": value_type} for key, value_type in keys]})
