"""Custom field definitions."""

from typing import Any

from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _
from pypinyin import lazy_pinyin

from siyu.contacts.models import CustomField, FieldType
from siyu.contacts.services.values import CONTACT_FIELDS
from siyu.core.errors import Conflict, ValidationError
from siyu.tenancy.actor import Actor
from siyu.tenancy.roles import Permission

SELECT_TYPES = (FieldType.SELECT, FieldType.MULTI_SELECT)


def _clean_definition(*, label: str, type: str, options: list[Any] | None) -> tuple[str, str, list[str]]:
    errors: dict[str, str] = {}
    label = (label or "").strip()
    if not label or len(label) > 100:
        errors["label"] = _("A label of 1 to 100 characters is required.")
    if type not in FieldType.values:
        errors["type"] = _("Choose a type from: %(types)s.") % {"types": ", ".join(FieldType.values)}
    cleaned_options = list(dict.fromkeys(str(o).strip() for o in options or [] if str(o).strip()))
    if type in SELECT_TYPES and not cleaned_options:
        errors["options"] = _("A select field needs at least one option.")
    if errors:
        raise ValidationError(_("The custom field is not valid."), fields=errors)
    return label, type, cleaned_options if type in SELECT_TYPES else []


@transaction.atomic
def custom_field_create(
    *,
    actor: Actor,
    label: str,
    type: str,
    key: str = "",
    options: list[Any] | None = None,
    is_required: bool = False,
) -> CustomField:
    actor.require(Permission.FIELDS_MANAGE)
    label, type, cleaned_options = _clean_definition(label=label, type=type, options=options)
    key = slugify(key or "_".join(lazy_pinyin(label))).replace("-", "_")[:50]
    if not key:
        key = f"field_{CustomField.objects.count() + 1}"
    if key in CONTACT_FIELDS:
        raise ValidationError(_("“%(key)s” is a built-in field name.") % {"key": key}, fields={"key": ""})
    if CustomField.objects.filter(key=key).exists():
        raise Conflict(_("A custom field with the key “%(key)s” exists.") % {"key": key}, fields={"key": ""})
    return CustomField.objects.create(
        key=key,
        label=label,
        type=type,
        options=cleaned_options,
        is_required=is_required,
        sort_order=CustomField.objects.count(),
    )


@transaction.atomic
def custom_field_update(
    *, actor: Actor, field: CustomField, label: str, options: list[Any] | None, is_required: bool
) -> CustomField:
    """The key and type are fixed once created (stored values depend on them)."""
    actor.require(Permission.FIELDS_MANAGE)
    label, _type, cleaned_options = _clean_definition(label=label, type=field.type, options=options)
    field.label, field.options, field.is_required = label, cleaned_options, is_required
    field.save(update_fields=["label", "options", "is_required"])
    return field


@transaction.atomic
def custom_field_delete(*, actor: Actor, field: CustomField) -> None:
    """Removes the definition; stored values stay in the contacts' JSON until overwritten."""
    actor.require(Permission.FIELDS_MANAGE)
    field.delete()
