"""Forms of the tracking settings pages (sources, tracking settings). Services check the rules."""

import re
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from siyu.contacts.models import Channel, Stage
from siyu.tracking.models import Source, SourceKind, TrackingSettings
from siyu.tracking.services.settings import (
    MAX_EVENT_NAME_LENGTH,
    RETENTION_DAYS,
    SESSION_TIMEOUT_MINUTES,
)

EXTRA_RULE_ROWS = 3


def _lines(text: str, *, commas: bool = False) -> list[str]:
    parts = re.split(r"[\n,]" if commas else r"\n", text or "")
    return list(dict.fromkeys(part.strip() for part in parts if part.strip()))


class SourceForm(forms.Form):
    name = forms.CharField(
        label=_("Source name"), max_length=100, error_messages={"required": _("Give the source a name.")}
    )
    kind = forms.ChoiceField(label=_("Type"), choices=SourceKind.choices, initial=SourceKind.WEBSITE)
    allowed_origins = forms.CharField(
        label=_("Allowed origins"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "https://shop.example.com"}),
        help_text=_(
            "Sites whose pages may send events with this key, one per line: scheme://host[:port]. "
            "* allows any site. Server-side sources need none."
        ),
    )
    channel = forms.ModelChoiceField(
        label=_("Channel"),
        queryset=Channel.all_workspaces.none(),
        required=False,
        empty_label=_("No channel"),
        help_text=_(
            "Contacts first seen through this source are attributed to it when nothing more specific is."
        ),
    )

    def __init__(self, *args: Any, channels: QuerySet[Channel], source: Source | None = None, **kwargs: Any):
        if source is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": source.name,
                    "kind": source.kind,
                    "allowed_origins": "\n".join(source.allowed_origins),
                    "channel": source.channel_id,
                },
            )
        super().__init__(*args, **kwargs)
        channel_field = self.fields["channel"]
        assert isinstance(channel_field, forms.ModelChoiceField)  # noqa: S101
        channel_field.queryset = channels

    def clean_allowed_origins(self) -> list[str]:
        return _lines(str(self.cleaned_data.get("allowed_origins") or ""), commas=True)


class StageRuleForm(forms.Form):
    event = forms.CharField(
        label=_("Event name"),
        max_length=MAX_EVENT_NAME_LENGTH,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. Order Completed")}),
    )
    stage = forms.ChoiceField(
        label=_("Moves the contact up to"), choices=[("", "—"), *Stage.choices], required=False
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("event") and not cleaned.get("stage") and not cleaned.get("DELETE"):
            self.add_error("stage", _("Choose the stage this event moves a contact up to."))
        return cleaned


class StageRuleFormSetBase(forms.BaseFormSet[StageRuleForm]):
    def rules(self) -> dict[str, str]:
        """Event name → stage, in the order of the rows (call after is_valid)."""
        rules: dict[str, str] = {}
        for form in self.forms:
            data = getattr(form, "cleaned_data", {})
            if data and data.get("event") and not data.get("DELETE"):
                rules[data["event"].strip()] = data["stage"]
        return rules

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        names = [
            form.cleaned_data["event"].strip()
            for form in self.forms
            if form.cleaned_data.get("event") and not form.cleaned_data.get("DELETE")
        ]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise forms.ValidationError(
                _("Each event may have one rule; these appear twice: %(names)s.")
                % {"names": ", ".join(repeated)}
            )


StageRuleFormSet = forms.formset_factory(
    StageRuleForm, formset=StageRuleFormSetBase, extra=EXTRA_RULE_ROWS, can_delete=True, max_num=100
)


def stage_rule_formset(*, data: Any = None, settings: TrackingSettings | None = None) -> StageRuleFormSetBase:
    initial = None
    if settings is not None:
        initial = [{"event": event, "stage": stage} for event, stage in settings.stage_rules.items()]
    formset = StageRuleFormSet(data, initial=initial, prefix="rules")
    assert isinstance(formset, StageRuleFormSetBase)  # noqa: S101
    return formset


class TrackingSettingsForm(forms.Form):
    radar_paths = forms.CharField(
        label=_("Key pages"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "/pricing"}),
        help_text=_(
            "Path prefixes, one per line, e.g. /pricing. A visit to a key page alerts the contact's owner on "
            "the customer radar, as every content view does."
        ),
    )
    retention_days = forms.IntegerField(
        label=_("Keep raw events for (days)"),
        min_value=RETENTION_DAYS[0],
        max_value=RETENTION_DAYS[1],
        help_text=_("Older events are deleted; counters, reading statistics and charts are kept."),
    )
    session_timeout_minutes = forms.IntegerField(
        label=_("Session timeout (minutes)"),
        min_value=SESSION_TIMEOUT_MINUTES[0],
        max_value=SESSION_TIMEOUT_MINUTES[1],
        help_text=_("A visit after this long without events starts a new session."),
    )

    def __init__(self, *args: Any, settings: TrackingSettings | None = None, **kwargs: Any):
        if settings is not None:
            kwargs.setdefault(
                "initial",
                {
                    "radar_paths": "\n".join(settings.radar_paths),
                    "retention_days": settings.retention_days,
                    "session_timeout_minutes": settings.session_timeout_minutes,
                },
            )
        super().__init__(*args, **kwargs)

    def clean_radar_paths(self) -> list[str]:
        return _lines(str(self.cleaned_data.get("radar_paths") or ""))
