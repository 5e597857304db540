"""Web forms for contacts. They shape input; the services judge it (and their errors come back here)."""

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from django import forms
from django.utils.translation import gettext_lazy as _

from siyu.contacts.models import (
    Channel,
    Contact,
    CustomField,
    FieldType,
    FollowUpKind,
    Gender,
    IdentityType,
    Stage,
    Tag,
)
from siyu.tenancy.models import Member

CUSTOM_PREFIX = "cf_"
POOL = "pool"
DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def custom_form_field(definition: CustomField) -> forms.Field:
    """The input that fits a custom field's type; values are checked again by the service."""
    common: dict[str, Any] = {"label": definition.label, "required": definition.is_required}
    options = [(str(o), str(o)) for o in definition.options or []]
    if definition.type == FieldType.NUMBER:
        return forms.DecimalField(**common, widget=forms.NumberInput(attrs={"step": "any"}))
    if definition.type == FieldType.DATE:
        return forms.DateField(**common, widget=DATE_INPUT)
    if definition.type == FieldType.SELECT:
        return forms.ChoiceField(**common, choices=[("", "—"), *options])
    if definition.type == FieldType.MULTI_SELECT:
        return forms.MultipleChoiceField(**common, choices=options, widget=forms.CheckboxSelectMultiple)
    if definition.type == FieldType.BOOLEAN:
        return forms.ChoiceField(**common, choices=[("", "—"), ("true", _("Yes")), ("false", _("No"))])
    return forms.CharField(**common, max_length=500)


def custom_initial(definition: CustomField, value: Any) -> Any:
    if value is None:
        return None
    if definition.type == FieldType.BOOLEAN:
        return "true" if value else "false"
    return value


def _choice_field(form: forms.Form, name: str) -> forms.ChoiceField:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)  # noqa: S101 - a programming error, not input
    return field


def member_choices(members: Sequence[Member], *, pool_label: str) -> list[tuple[str, str]]:
    return [(POOL, pool_label), *((str(m.id), m.display_name) for m in members)]


class ContactForm(forms.Form):
    """Profile of a contact (create and edit), built-in fields plus the workspace's custom fields."""

    name = forms.CharField(label=_("Name"), max_length=100, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    email = forms.CharField(label=_("Email"), max_length=254, required=False)
    gender = forms.ChoiceField(label=_("Gender"), choices=Gender.choices, required=False)
    birthday = forms.DateField(label=_("Birthday"), required=False, widget=DATE_INPUT)
    region = forms.CharField(label=_("Region"), max_length=50, required=False)
    city = forms.CharField(label=_("City"), max_length=50, required=False)
    company = forms.CharField(label=_("Company"), max_length=200, required=False)
    channel = forms.ChoiceField(label=_("Channel"), required=False)
    owner = forms.ChoiceField(label=_("Owner"), required=False)
    stage = forms.ChoiceField(label=_("Lifecycle stage"), choices=Stage.choices, required=False)
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(
        self,
        *args: Any,
        custom_fields: Sequence[CustomField],
        channels: Sequence[Channel],
        owners: Sequence[Member],
        contact: Contact | None = None,
        **kwargs: Any,
    ) -> None:
        self.custom_fields = list(custom_fields)
        self.contact = contact
        if contact is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_for(contact)
        super().__init__(*args, **kwargs)
        _choice_field(self, "channel").choices = [("", "—"), *((str(c.id), c.name) for c in channels)]
        _choice_field(self, "owner").choices = member_choices(owners, pool_label=str(_("Public pool")))
        if contact is not None:
            # Stage and owner have their own forms (with history and audit) on the detail page.
            del self.fields["stage"]
            del self.fields["owner"]
        for definition in self.custom_fields:
            self.fields[f"{CUSTOM_PREFIX}{definition.key}"] = custom_form_field(definition)

    def initial_for(self, contact: Contact) -> dict[str, Any]:
        initial: dict[str, Any] = {
            name: getattr(contact, name)
            for name in ("name", "phone", "email", "gender", "birthday", "region", "city", "company", "notes")
        }
        initial["channel"] = str(contact.channel_id or "")
        for definition in self.custom_fields:
            initial[f"{CUSTOM_PREFIX}{definition.key}"] = custom_initial(
                definition, contact.custom.get(definition.key)
            )
        return initial

    @property
    def builtin_names(self) -> list[str]:
        return [name for name in self.fields if not name.startswith(CUSTOM_PREFIX)]

    def custom_bound_fields(self) -> list[forms.BoundField]:
        return [self[f"{CUSTOM_PREFIX}{d.key}"] for d in self.custom_fields]

    def builtin_bound_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.builtin_names]

    def payload(self) -> dict[str, Any]:
        """Cleaned data in the shape contact_create / contact_update take."""
        data = self.cleaned_data
        payload: dict[str, Any] = {
            name: data.get(name) or ""
            for name in ("name", "phone", "email", "gender", "region", "city", "company", "notes")
        }
        payload["birthday"] = data.get("birthday")
        payload["channel"] = data.get("channel") or ""
        if "owner" in self.fields:
            payload["owner"] = "" if data.get("owner") in ("", POOL) else data["owner"]
        if "stage" in self.fields and data.get("stage"):
            payload["stage"] = data["stage"]
        custom: dict[str, Any] = {}
        for definition in self.custom_fields:
            value = data.get(f"{CUSTOM_PREFIX}{definition.key}")
            if value in ("", None, []):
                value = None
            elif definition.type == FieldType.NUMBER:
                value = str(value)
            elif definition.type == FieldType.DATE:
                value = value.isoformat()
            custom[definition.key] = value
        if custom:
            if self.contact is None:
                custom = {k: v for k, v in custom.items() if v is not None}
            payload["custom"] = custom
        return payload

    @staticmethod
    def error_field_map(custom_fields: Sequence[CustomField]) -> dict[str, str]:
        return {f"custom.{d.key}": f"{CUSTOM_PREFIX}{d.key}" for d in custom_fields}


class StageForm(forms.Form):
    stage = forms.ChoiceField(label=_("Lifecycle stage"), choices=Stage.choices)
    reason = forms.CharField(label=_("Why"), max_length=200, required=False)


class OwnerForm(forms.Form):
    owner = forms.ChoiceField(label=_("Owner"))

    def __init__(self, *args: Any, owners: Sequence[Member], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choice_field(self, "owner").choices = member_choices(
            owners, pool_label=str(_("Release to the public pool"))
        )


class IdentityForm(forms.Form):
    type = forms.ChoiceField(label=_("Type"), choices=IdentityType.choices)
    namespace = forms.CharField(
        label=_("Namespace"),
        max_length=64,
        required=False,
        help_text=_("The WeCom corp id or the WeChat app id, when the type needs one."),
    )
    value = forms.CharField(label=_("Value"), max_length=200)


def tag_choices(tags: Sequence[Tag]) -> list[tuple[str, list[tuple[str, str]]]]:
    """Tags grouped by tag group for a <select> with <optgroup>s; single-choice groups are marked."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for tag in tags:
        label = str(tag.group.name)
        if tag.group.is_exclusive:
            label = str(_("%(group)s (single choice)") % {"group": tag.group.name})
        groups.setdefault(label, []).append((str(tag.id), tag.name))
    return list(groups.items())


class TagAddForm(forms.Form):
    tag = forms.ChoiceField(label=_("Tag"))

    def __init__(self, *args: Any, tags: Sequence[Tag], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choice_field(self, "tag").choices = [("", "—"), *tag_choices(tags)]


class FollowUpForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=FollowUpKind.choices, initial=FollowUpKind.CALL)
    content = forms.CharField(
        label=_("What happened"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )
    next_follow_up_on = forms.DateField(label=_("Next follow-up on"), required=False, widget=DATE_INPUT)


class SavedViewForm(forms.Form):
    name = forms.CharField(label=_("View name"), max_length=100)
    is_shared = forms.BooleanField(label=_("Share with the whole workspace"), required=False)


class UuidListField(forms.Field):
    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[UUID]:
        try:
            return [UUID(str(v)) for v in value or []]
        except ValueError as exc:
            raise forms.ValidationError(
                _("The selection is not valid; reload the page and try again.")
            ) from exc


class BulkAction(forms.Form):
    """One action on the selected rows, or on every contact the current filters match."""

    ACTIONS = (
        ("tag", _("Add a tag")),
        ("untag", _("Remove a tag")),
        ("assign", _("Assign an owner")),
        ("stage", _("Change the stage")),
        ("delete", _("Delete")),
    )
    action = forms.ChoiceField(label=_("Action"), choices=ACTIONS)
    target = forms.ChoiceField(
        choices=(("selected", _("Selected contacts")), ("all", _("All contacts matching the filters")))
    )
    ids = UuidListField(required=False)  # which of these the actor may touch is the selector's call
    tag = forms.ChoiceField(label=_("Tag"), required=False)
    owner = forms.ChoiceField(label=_("Owner"), required=False)
    stage = forms.ChoiceField(label=_("Lifecycle stage"), choices=[("", "—"), *Stage.choices], required=False)
    query = forms.CharField(required=False)

    def __init__(self, *args: Any, tags: Sequence[Tag], owners: Sequence[Member], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choice_field(self, "tag").choices = [("", "—"), *tag_choices(tags)]
        _choice_field(self, "owner").choices = [
            ("", "—"),
            *member_choices(owners, pool_label=str(_("Release to the public pool"))),
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        action = data.get("action")
        if action in ("tag", "untag") and not data.get("tag"):
            self.add_error("tag", _("Choose the tag to add or remove."))
        if action == "assign" and not data.get("owner"):
            self.add_error("owner", _("Choose the new owner, or the public pool."))
        if action == "stage" and not data.get("stage"):
            self.add_error("stage", _("Choose the new stage."))
        if data.get("target") == "selected" and not data.get("ids"):
            self.add_error(
                None, _("Select at least one contact, or apply the action to all matching contacts.")
            )
        return data
