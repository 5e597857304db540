"""Template helpers for every page: icons from the vendored sprite, message levels, query strings."""

from typing import Any

from django import forms, template
from django.contrib.messages import constants as message_levels
from django.http import HttpRequest
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()

_ALERT_CLASSES = {
    message_levels.DEBUG: "secondary",
    message_levels.INFO: "info",
    message_levels.SUCCESS: "success",
    message_levels.WARNING: "warning",
    message_levels.ERROR: "danger",
}


@register.simple_tag
def icon(name: str, css_class: str = "icon") -> SafeString:
    """<svg> using a symbol of the vendored Tabler icon sprite (see static/vendor/README.md)."""
    href = f"{static('vendor/tabler-icons/tabler-sprite.svg')}#tabler-{name}"
    return format_html('<svg class="{}" aria-hidden="true"><use href="{}"></use></svg>', css_class, href)


@register.filter
def alert_class(level: int) -> str:
    return _ALERT_CLASSES.get(level, "info")


@register.simple_tag(takes_context=True)
def query_replace(context: dict[str, Any], **changes: Any) -> str:
    """The current query string with some keys replaced (None or "" removes them)."""
    request: HttpRequest = context["request"]
    query = request.GET.copy()
    for key, value in changes.items():
        query.pop(key, None)
        if value not in (None, ""):
            query[key] = str(value)
    return query.urlencode()


@register.filter
def form_control(bound_field: forms.BoundField) -> SafeString:
    """Render a field's widget with Tabler's classes, marked invalid when it has errors."""
    widget = bound_field.field.widget
    if isinstance(widget, forms.CheckboxSelectMultiple | forms.RadioSelect):
        css = "form-selectgroup"
    elif isinstance(widget, forms.Select):
        css = "form-select"
    elif isinstance(widget, forms.CheckboxInput):
        css = "form-check-input"
    else:
        css = "form-control"
    existing = widget.attrs.get("class", "")
    classes = " ".join(c for c in (existing, css, "is-invalid" if bound_field.errors else "") if c)
    return bound_field.as_widget(attrs={"class": classes})
