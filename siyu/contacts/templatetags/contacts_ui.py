"""Template helpers for contact pages: list cells, stage badges, timeline sentences."""

from html import escape
from typing import Any

from django import template
from django.template.loader import select_template
from django.urls import reverse_lazy
from django.utils import formats
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from siyu.contacts.models import (
    Contact,
    FieldType,
    FollowUpKind,
    IdentityType,
    Stage,
    Strength,
    Tag,
    mask_phone,
)

register = template.Library()

DETAIL_URL_PREFIX = reverse_lazy("contacts:list")

STRENGTH_CLASSES = {
    Strength.WEAK: "bg-secondary-lt",
    Strength.MEDIUM: "bg-azure-lt",
    Strength.STRONG: "bg-green-lt",
}


@register.filter
def stage_label(value: str) -> str:
    try:
        return str(Stage(value).label)
    except ValueError:
        return value or "—"


@register.simple_tag
def stage_badge(value: str) -> SafeString:
    return format_html('<span class="badge badge-stage stage-{}">{}</span>', value, stage_label(value))


@register.simple_tag
def strength_badge(contact: Contact) -> SafeString:
    strength = contact.strength
    return format_html('<span class="badge {}">{}</span>', STRENGTH_CLASSES[strength], strength.label)


@register.filter
def follow_up_kind_label(value: str) -> str:
    try:
        return str(FollowUpKind(value).label)
    except ValueError:
        return value


@register.filter
def identity_type_label(value: str) -> str:
    try:
        return str(IdentityType(value).label)
    except ValueError:
        return value


def _tag_badges(tags: list[Tag]) -> SafeString:
    return format_html_join(
        " ", '<span class="badge bg-{}-lt">{}</span>', ((tag.color or "blue", tag.name) for tag in tags)
    )


def custom_display(field_type: str, value: Any) -> str:
    if value in (None, "", []):
        return ""
    if field_type == FieldType.BOOLEAN:
        return _("Yes") if value else _("No")
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return str(value)


@register.simple_tag
def custom_value(field: Any, value: Any) -> str:
    return custom_display(field.type, value)


@register.simple_tag
def contact_cell(column: Any, row: dict[str, Any]) -> SafeString | str:
    """One list cell. Phones are always masked here; revealing happens on the detail page, audited."""
    contact: Contact = row["contact"]
    key = column.key
    if column.custom_field is not None:
        return custom_display(column.custom_field.type, contact.custom.get(column.custom_field.key))
    if key == "phone":
        return contact.masked_phone
    if key == "stage":
        return stage_badge(contact.stage)
    if key == "strength":
        return strength_badge(contact)
    if key == "owner":
        if contact.owner is None:
            return format_html('<span class="text-secondary">{}</span>', _("Public pool"))
        return contact.owner.display_name
    if key == "channel":
        return contact.channel.name if contact.channel else ""
    if key == "tags":
        return _tag_badges(row["tags"])
    if key in ("created_at", "updated_at"):
        return formats.date_format(getattr(contact, key), "SHORT_DATE_FORMAT")
    return str(getattr(contact, key, "") or "")


@register.simple_tag
def contact_row_cells(columns: list[Any], row: dict[str, Any]) -> SafeString:
    """All cells of one list row in a single call: a 50-row page renders 50 tags, not 400.

    This is the hottest markup of the product, so it escapes with the standard library directly
    instead of going through format_html for every cell.
    """
    contact: Contact = row["contact"]
    prefix = str(DETAIL_URL_PREFIX)
    cells = []
    for column in columns:
        if column.key == "name":
            value = f'<a href="{prefix}{contact.id}/">{escape(str(contact))}</a>'
        else:
            value = conditional_escape(contact_cell(column, row))
        cells.append(f'<td data-label="{escape(column.label)}">{value}</td>')
    return mark_safe("".join(cells))  # noqa: S308 - every piece above is escaped


@register.simple_tag
def timeline_template(kind: str) -> Any:
    """contacts/timeline/<kind>.html, or the generic sentence for kinds added by later features."""
    return select_template([f"contacts/timeline/{kind}.html", "contacts/timeline/_other.html"])


@register.filter
def get_item(mapping: dict[str, Any], key: str) -> Any:
    return mapping.get(key, "") if mapping else ""


FIELD_LABELS = {
    "name": _lazy("name"),
    "phone": _lazy("phone"),
    "email": _lazy("email"),
    "gender": _lazy("gender"),
    "birthday": _lazy("birthday"),
    "region": _lazy("region"),
    "city": _lazy("city"),
    "company": _lazy("company"),
    "notes": _lazy("notes"),
    "channel": _lazy("channel"),
}


@register.filter
def field_label(name: str) -> str:
    if name.startswith("custom."):
        return name.removeprefix("custom.")
    return str(FIELD_LABELS.get(name, name))


@register.filter
def field_change_value(value: Any, name: str) -> str:
    """A changed value as the timeline shows it: phones masked, empties as a dash."""
    if value in (None, "", []):
        return "—"
    if name == "phone":
        return mask_phone(str(value))
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return str(value)


TIMELINE_ICONS = {
    "created": "user-plus",
    "imported": "file-import",
    "updated": "edit",
    "stage_changed": "progress",
    "follow_up": "message",
    "tags_added": "tag",
    "tags_removed": "tag-off",
    "owner_changed": "user-check",
    "identity_added": "fingerprint",
    "merged": "git-merge",
}


@register.filter
def timeline_icon(kind: str) -> str:
    return TIMELINE_ICONS.get(kind, "timeline-event")
