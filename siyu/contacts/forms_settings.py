"""Forms of the contact settings pages (tags, custom fields, channels). Services check the rules."""

from typing import Any

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from siyu.contacts.models import Channel, ChannelKind, CostUnit, CustomField, FieldType, Tag, TagGroup

# Tabler's palette: each name has a `bg-<name>-lt` badge style.
TAG_COLORS: list[tuple[str, Any]] = [
    ("blue", _("Blue")),
    ("azure", _("Azure")),
    ("indigo", _("Indigo")),
    ("purple", _("Purple")),
    ("pink", _("Pink")),
    ("red", _("Red")),
    ("orange", _("Orange")),
    ("yellow", _("Yellow")),
    ("lime", _("Lime")),
    ("green", _("Green")),
    ("teal", _("Teal")),
    ("cyan", _("Cyan")),
]
SELECT_TYPES = (FieldType.SELECT, FieldType.MULTI_SELECT)
KEY_VALIDATOR = RegexValidator(
    r"^[a-z][a-z0-9_]*\Z", _("Use lower-case letters, digits and underscores, starting with a letter.")
)


class TagGroupForm(forms.Form):
    name = forms.CharField(
        label=_("Group name"), max_length=50, error_messages={"required": _("Give the group a name.")}
    )
    is_exclusive = forms.BooleanField(
        label=_("Single choice"),
        required=False,
        help_text=_("A contact can carry at most one tag of this group."),
    )

    def __init__(self, *args: Any, group: TagGroup | None = None, **kwargs: Any):
        if group is not None:
            kwargs.setdefault("initial", {"name": group.name, "is_exclusive": group.is_exclusive})
        super().__init__(*args, **kwargs)


class TagForm(forms.Form):
    name = forms.CharField(
        label=_("Tag name"),
        max_length=50,
        error_messages={"required": _("Give the tag a name.")},
        widget=forms.TextInput(attrs={"placeholder": _("New tag")}),
    )
    color = forms.ChoiceField(label=_("Colour"), choices=TAG_COLORS, initial="blue")

    def __init__(self, *args: Any, tag: Tag | None = None, **kwargs: Any):
        if tag is not None:
            kwargs.setdefault("initial", {"name": tag.name, "color": tag.color})
        super().__init__(*args, **kwargs)
        if tag is not None and tag.color not in dict(TAG_COLORS):
            # A colour set through the API stays choosable, so editing the name does not lose it.
            color_field = self.fields["color"]
            assert isinstance(color_field, forms.ChoiceField)  # noqa: S101
            color_field.choices = [*TAG_COLORS, (tag.color, tag.color)]


def _options_from_text(text: str) -> list[str]:
    return list(dict.fromkeys(line.strip() for line in text.splitlines() if line.strip()))


class _FieldOptionsMixin:
    cleaned_data: dict[str, Any]

    def clean_options(self) -> list[str]:
        return _options_from_text(str(self.cleaned_data.get("options") or ""))


OPTIONS_HELP = _("One option per line; only for single- and multi-select fields.")


class CustomFieldCreateForm(_FieldOptionsMixin, forms.Form):
    label = forms.CharField(
        label=_("Label"), max_length=100, error_messages={"required": _("Give the field a label.")}
    )
    key = forms.CharField(
        label=_("Key"),
        max_length=50,
        required=False,
        validators=[KEY_VALIDATOR],
        help_text=_("Used in imports, exports and the API. Left empty, it is made from the label."),
    )
    type = forms.ChoiceField(label=_("Type"), choices=FieldType.choices, initial=FieldType.TEXT)
    options = forms.CharField(label=_("Options"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    is_required = forms.BooleanField(label=_("Required"), required=False)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["options"].help_text = OPTIONS_HELP

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if (
            cleaned.get("type") in SELECT_TYPES
            and not cleaned.get("options")
            and "options" not in self.errors
        ):
            self.add_error("options", _("A select field needs at least one option."))
        return cleaned


class CustomFieldUpdateForm(_FieldOptionsMixin, forms.Form):
    """Label, options and "required" may change; the key and type are fixed once created."""

    label = forms.CharField(
        label=_("Label"), max_length=100, error_messages={"required": _("Give the field a label.")}
    )
    options = forms.CharField(label=_("Options"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    is_required = forms.BooleanField(label=_("Required"), required=False)

    def __init__(self, *args: Any, field: CustomField, **kwargs: Any):
        kwargs.setdefault(
            "initial",
            {"label": field.label, "options": "\n".join(field.options), "is_required": field.is_required},
        )
        super().__init__(*args, **kwargs)
        self.definition = field
        self.fields["options"].help_text = OPTIONS_HELP
        if field.type not in SELECT_TYPES:
            del self.fields["options"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if (
            self.definition.type in SELECT_TYPES
            and not cleaned.get("options")
            and "options" not in self.errors
        ):
            self.add_error("options", _("A select field needs at least one option."))
        return cleaned


class ChannelForm(forms.Form):
    name = forms.CharField(
        label=_("Channel name"), max_length=100, error_messages={"required": _("Give the channel a name.")}
    )
    kind = forms.ChoiceField(label=_("Type"), choices=ChannelKind.choices, initial=ChannelKind.OTHER)
    code = forms.SlugField(
        label=_("Code"),
        max_length=50,
        required=False,
        help_text=_("A short id for links and imports. Left empty, it is made from the name."),
    )


def _comma_list(text: str) -> list[str]:
    return list(
        dict.fromkeys(part.strip() for part in (text or "").replace("，", ",").split(",") if part.strip())
    )


class ChannelEditForm(forms.Form):
    """Everything about a channel: how visits are attributed to it and what it costs."""

    name = forms.CharField(
        label=_("Channel name"), max_length=100, error_messages={"required": _("Give the channel a name.")}
    )
    kind = forms.ChoiceField(label=_("Type"), choices=ChannelKind.choices)
    code = forms.SlugField(
        label=_("Code"),
        max_length=50,
        error_messages={"required": _("Give the channel a code.")},
        help_text=_("Links with ?channel=<code> (or utm_source=<code>) are attributed to this channel."),
    )
    utm_sources = forms.CharField(
        label=_("utm_source values"),
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "wechat, moments"}),
        help_text=_("Comma-separated. Visits whose utm_source is one of these come from this channel."),
    )
    referrer_domains = forms.CharField(
        label=_("Referrer domains"),
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "mp.weixin.qq.com, baidu.com"}),
        help_text=_(
            "Comma-separated. Visits referred by these sites (or their subdomains) come from this channel."
        ),
    )
    cost_unit = forms.ChoiceField(label=_("Cost unit"), choices=CostUnit.choices, required=False)
    unit_cost = forms.DecimalField(
        label=_("Unit cost (¥)"), min_value=0, max_digits=12, decimal_places=2, required=False, initial=0
    )

    def __init__(self, *args: Any, channel: Channel, **kwargs: Any):
        kwargs.setdefault(
            "initial",
            {
                "name": channel.name,
                "kind": channel.kind,
                "code": channel.code,
                "utm_sources": ", ".join(channel.utm_sources or []),
                "referrer_domains": ", ".join(channel.referrer_domains or []),
                "cost_unit": channel.cost_unit,
                "unit_cost": channel.unit_cost,
            },
        )
        super().__init__(*args, **kwargs)

    def clean_utm_sources(self) -> list[str]:
        return _comma_list(str(self.cleaned_data.get("utm_sources") or ""))

    def clean_referrer_domains(self) -> list[str]:
        return _comma_list(str(self.cleaned_data.get("referrer_domains") or ""))

    def clean_unit_cost(self) -> Any:
        value = self.cleaned_data.get("unit_cost")
        return 0 if value is None else value
