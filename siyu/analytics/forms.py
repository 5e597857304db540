"""The spend entry form. Shape only; the service checks the rules."""

from datetime import date
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from siyu.analytics.periods import month_parse
from siyu.contacts.models import Channel


class MonthField(forms.CharField):
    """A calendar month typed as YYYY-MM (an <input type="month">), cleaned to its first day."""

    widget = forms.TextInput(attrs={"type": "month", "placeholder": "2026-05"})

    def to_python(self, value: Any) -> date | None:  # type: ignore[override]
        text = super().to_python(value)
        if not text:
            return None
        month = month_parse(text)
        if month is None:
            raise forms.ValidationError(_("Write the month as YYYY-MM, e.g. 2026-05."))
        return month

    def prepare_value(self, value: Any) -> Any:
        return f"{value:%Y-%m}" if isinstance(value, date) else value


class SpendForm(forms.Form):
    channel = forms.ModelChoiceField(
        label=_("Channel"),
        queryset=Channel.all_workspaces.none(),
        empty_label=None,
        error_messages={"invalid_choice": _("Choose one of the channels.")},
    )
    month = MonthField(label=_("Month"), error_messages={"required": _("Choose the month.")})
    amount = forms.DecimalField(
        label=_("Spend (¥)"),
        min_value=0,
        max_digits=14,
        decimal_places=2,
        error_messages={"required": _("Enter what the channel cost that month.")},
    )
    note = forms.CharField(
        label=_("Note"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. agency invoice 2026-05")}),
    )

    def __init__(self, *args: Any, channels: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        field = self.fields["channel"]
        if isinstance(field, forms.ModelChoiceField):
            field.queryset = channels
