"""Forms of the segment pages: shape only (the services judge the rules and the business sense)."""

import re
import tempfile
from pathlib import Path
from typing import Any

import orjson
from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from siyu.contacts.spreadsheets import inspect_file, read_rows
from siyu.core.errors import ValidationError as DomainValidationError
from siyu.core.text import storable_text
from siyu.segments.models import RfmMethod
from siyu.segments.rules.spec import MAX_RULE_BYTES
from siyu.segments.services.segments import MAX_BULK

UPLOAD_MAX_BYTES = 5 * 1024 * 1024
_DIGIT = re.compile(r"\d")


class SegmentForm(forms.Form):
    """Name, description and — for a dynamic segment — the builder's rule document (JSON)."""

    name = forms.CharField(label=gettext_lazy("Segment name"), max_length=100)
    description = forms.CharField(
        label=gettext_lazy("Description"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    rules = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, with_rules: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not with_rules:
            del self.fields["rules"]

    def clean_rules(self) -> Any:
        raw = self.cleaned_data.get("rules") or ""
        if not raw.strip():
            return None
        if len(raw.encode()) > MAX_RULE_BYTES * 2:
            raise forms.ValidationError(_("The rule is too large."))
        try:
            return storable_text(orjson.loads(raw))  # `siyu.core.text`
        except orjson.JSONDecodeError as error:
            raise forms.ValidationError(
                _("The rules could not be read. Reload the page and try again.")
            ) from error


class SnapshotForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name of the static list"), max_length=100)


def upload_values(upload: UploadedFile[bytes]) -> list[str]:
    """The first column of a .csv or .xlsx file, one value per row; a first row without a digit is a
    header and is skipped. Refusals are one human sentence."""
    if upload.size is not None and upload.size > UPLOAD_MAX_BYTES:
        raise forms.ValidationError(_("The file is larger than 5 MB; split it or paste the values."))
    name = upload.name or "upload.csv"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"upload{Path(name).suffix.lower()}"
        with path.open("wb") as handle:
            for chunk in upload.chunks():
                handle.write(chunk)
        try:
            info = inspect_file(path, file_name=name)
            values: list[str] = []
            for index, (_line, cells) in enumerate(read_rows(path, info)):
                first = cells[0] if cells else None
                text = "" if first is None else str(first).strip()
                if index == 0 and not _DIGIT.search(text):
                    continue  # a header such as “手机号”
                if text:
                    values.append(text)
                if len(values) > MAX_BULK:
                    break
        except DomainValidationError as error:
            raise forms.ValidationError(error.message) from error
    return values


class ListMembersForm(forms.Form):
    """Contacts to add to or remove from a static list: pasted (one per line) or a one-column file."""

    action = forms.ChoiceField(
        choices=[("add", gettext_lazy("Add to the list")), ("remove", gettext_lazy("Remove from the list"))],
        initial="add",
        widget=forms.RadioSelect,
    )
    values = forms.CharField(
        label=gettext_lazy("Phone numbers or contact ids, one per line"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
    )
    file = forms.FileField(label=gettext_lazy("Or a one-column .csv / .xlsx file"), required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        pasted = [line.strip() for line in (data.get("values") or "").splitlines() if line.strip()]
        upload = data.get("file")
        from_file = upload_values(upload) if upload else []
        lines = pasted + from_file
        if not lines and not self.errors:
            raise forms.ValidationError(_("Paste at least one phone number or contact id, or choose a file."))
        if len(lines) > MAX_BULK:
            raise forms.ValidationError(_("At most %(count)s rows at a time.") % {"count": MAX_BULK})
        data["lines"] = lines
        return data


class RfmSettingsForm(forms.Form):
    """The scoring method and, for thresholds, four ascending cut points per dimension."""

    method = forms.ChoiceField(choices=RfmMethod.choices, widget=forms.RadioSelect)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for index in range(1, 5):
            self.fields[f"recency_{index}"] = forms.IntegerField(min_value=0, max_value=3650, required=False)
            self.fields[f"frequency_{index}"] = forms.IntegerField(
                min_value=0, max_value=1_000_000, required=False
            )
            self.fields[f"monetary_{index}"] = forms.DecimalField(
                min_value=0, max_digits=14, decimal_places=2, required=False
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("method") == RfmMethod.THRESHOLDS:
            for name in ("recency", "frequency", "monetary"):
                if any(data.get(f"{name}_{index}") is None for index in range(1, 5)):
                    self.add_error(None, _("With thresholds, fill in all twelve cut points."))
                    break
        return data

    def cuts(self, name: str) -> list[Any]:
        return [self.cleaned_data.get(f"{name}_{index}") for index in range(1, 5)]
