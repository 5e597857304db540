"""Forms of the content library pages. They check shape only; the services check the rules."""

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from siyu.tracking.models import ContentCategory, ContentKind
from siyu.tracking.selectors.content import content_category_list

# Which fields each kind of content shows (besides title, summary, cover, category, tags, published).
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    ContentKind.ARTICLE: ("body",),
    ContentKind.PRODUCT: ("price", "body"),
    ContentKind.POSTER: ("file",),
    ContentKind.FILE: ("file",),
    ContentKind.LINK: ("url",),
}
KIND_ONLY_FIELDS = ("body", "price", "file", "url")


class ContentForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    summary = forms.CharField(
        label=_("Summary"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Shown on cards and as the description when the link is shared in WeChat."),
    )
    url = forms.CharField(
        label=_("Web address"),
        max_length=1000,
        required=False,
        widget=forms.URLInput(attrs={"placeholder": "https://"}),
    )
    price = forms.DecimalField(
        label=_("Price (¥)"), max_digits=12, decimal_places=2, min_value=0, required=False
    )
    body = forms.CharField(label=_("Body"), required=False, widget=forms.Textarea(attrs={"rows": 14}))
    file = forms.FileField(label=_("File"), required=False)
    cover = forms.FileField(
        label=_("Cover image"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/gif,image/webp"}),
        help_text=_("JPEG, PNG, GIF or WebP, at most 10 MB."),
    )
    cover_remove = forms.BooleanField(label=_("Remove the cover image"), required=False)
    category = forms.ModelChoiceField(
        label=_("Category"),
        queryset=ContentCategory.all_workspaces.none(),
        required=False,
        empty_label=_("No category"),
    )
    tags = forms.CharField(
        label=_("Tags"),
        max_length=700,
        required=False,
        help_text=_("Separate tags with commas, e.g. skincare, autumn."),
    )
    is_published = forms.BooleanField(
        label=_("Published: members may share it and its links open"), required=False, initial=True
    )

    def __init__(self, *args: Any, kind: str, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind
        category = cast(forms.ModelChoiceField, self.fields["category"])  # type: ignore[type-arg]
        category.queryset = content_category_list()
        wanted = KIND_FIELDS.get(kind, ())
        for name in KIND_ONLY_FIELDS:
            if name not in wanted:
                del self.fields[name]
        if not editing:
            del self.fields["cover_remove"]
        file_field = self.fields.get("file")
        if file_field is not None:
            if kind == ContentKind.POSTER:
                file_field.label = _("Poster image")
                file_field.help_text = _(
                    "JPEG, PNG, GIF or WebP, at most 10 MB and 40 megapixels. "
                    "Each member's QR code is added in its bottom-right corner."
                )
                file_field.widget.attrs["accept"] = "image/jpeg,image/png,image/gif,image/webp"
            else:
                file_field.help_text = _("Any file of at most 50 MB.")
            file_field.required = not editing
        if "body" in self.fields:
            self.fields["body"].required = kind == ContentKind.ARTICLE
        if "price" in self.fields:
            self.fields["price"].required = True
        if "url" in self.fields:
            self.fields["url"].required = True


class CategoryForm(forms.Form):
    name = forms.CharField(label=pgettext_lazy("name of a thing", "Name"), max_length=50)
    sort_order = forms.IntegerField(label=_("Order"), min_value=0, max_value=10_000, required=False)


class BodyPreviewForm(forms.Form):
    body = forms.CharField(required=False)
