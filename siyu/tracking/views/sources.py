"""Tracking settings pages: sources (list, install page, settings, key rotation, warnings) and the
workspace's tracking settings. A full page, or its section for htmx, like the other settings pages."""

from dataclasses import dataclass
from uuid import UUID

from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from siyu.contacts.selectors import channel_list
from siyu.core.errors import DomainError
from siyu.core.web import (
    ActorRequest,
    actor_required,
    form_add_domain_errors,
    is_htmx,
    page_or_section,
    write_succeeded,
)
from siyu.tenancy.actor import Actor
from siyu.tenancy.roles import Permission
from siyu.tracking.forms_settings import (
    SourceForm,
    StageRuleFormSetBase,
    TrackingSettingsForm,
    stage_rule_formset,
)
from siyu.tracking.models import Source, SourceKind
from siyu.tracking.selectors.sources import (
    source_get,
    source_list,
    warning_counts_by_code,
    warning_counts_by_source,
    warning_list,
)
from siyu.tracking.services.settings import tracking_settings_get, tracking_settings_update
from siyu.tracking.services.sources import (
    source_activate,
    source_create,
    source_deactivate,
    source_key_rotate,
    source_update,
)
from siyu.tracking.snippet import loader_snippet

Request = ActorRequest[Actor]
TABS = ("install", "settings", "warnings")
BROWSER_KINDS = frozenset({SourceKind.WEBSITE, SourceKind.WECHAT_H5})
RECENT_WARNINGS = 50


def _invalid_status(request: Request) -> int:
    """htmx swaps only 2xx answers, so a form with errors is 200 there and 422 for a plain browser."""
    return 200 if is_htmx(request) else 422


def _siyu_host(request: Request) -> str:
    """Siyu's origin as this member reaches it; the snippet and server examples point there."""
    return request.build_absolute_uri("/").rstrip("/")


# Sources -------------------------------------------------------------------------------------------


@dataclass
class SourceRow:
    source: Source
    warnings: int


def _sources_render(
    request: Request, *, form: SourceForm | None = None, notice: str = "", error: str = "", status: int = 200
) -> HttpResponse:
    counts = warning_counts_by_source()
    context = {
        "rows": [SourceRow(source=source, warnings=counts.get(source.id, 0)) for source in source_list()],
        "form": form or SourceForm(channels=channel_list()),
        "notice": notice,
        "error": error,
    }
    return page_or_section(
        request,
        page="tracking/settings/sources.html",
        section="tracking/settings/partials/sources_section.html",
        context=context,
        status=status,
    )


@actor_required(Permission.SOURCES_MANAGE)
@require_GET
def sources(request: Request) -> HttpResponse:
    return _sources_render(request)


@actor_required(Permission.SOURCES_MANAGE)
@require_POST
def source_add(request: Request) -> HttpResponse:
    form = SourceForm(request.POST, channels=channel_list())
    if form.is_valid():
        try:
            source = source_create(
                actor=request.actor,
                name=form.cleaned_data["name"],
                kind=form.cleaned_data["kind"],
                allowed_origins=form.cleaned_data["allowed_origins"],
                channel=form.cleaned_data["channel"],
            )
        except DomainError as exc:
            form_add_domain_errors(form, exc)
        else:
            messages.success(
                request,
                _("Source “%(name)s” was created. Install the snippet below on its pages.")
                % {"name": source.name},
            )
            url = reverse("tracking_settings:source_detail", args=[source.id])
            if is_htmx(request):
                response = HttpResponse(status=204)
                response.headers["HX-Redirect"] = url
                return response
            return HttpResponseRedirect(url)
    return _sources_render(request, form=form, status=_invalid_status(request))


# One source ----------------------------------------------------------------------------------------


def _detail_render(
    request: Request,
    source: Source,
    *,
    form: SourceForm | None = None,
    tab: str = "",
    notice: str = "",
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    host = _siyu_host(request)
    warning_counts = warning_counts_by_code(source=source)
    if tab not in TABS:
        tab = request.GET.get("tab", "") if request.GET.get("tab", "") in TABS else "install"
    context = {
        "source": source,
        "host": host,
        "snippet": loader_snippet(write_key=source.write_key, host=host),
        "needs_origin": source.kind in BROWSER_KINDS and not source.allowed_origins,
        "form": form or SourceForm(channels=channel_list(), source=source),
        "tab": tab,
        "warning_counts": warning_counts,
        "warning_total": sum(row.count for row in warning_counts),
        "warnings": warning_list(source=source, limit=RECENT_WARNINGS),
        "recent_limit": RECENT_WARNINGS,
        "notice": notice,
        "error": error,
    }
    response = page_or_section(
        request,
        page="tracking/settings/source_detail.html",
        section="tracking/settings/partials/source_section.html",
        context=context,
        status=status,
    )
    response.headers["Cache-Control"] = "no-store"  # the page shows the write key
    return response


def _source_done(request: Request, source: Source, *, notice: str, tab: str) -> HttpResponse:
    if is_htmx(request):
        return _detail_render(request, source, notice=notice, tab=tab)
    messages.success(request, notice)
    return HttpResponseRedirect(f"{reverse('tracking_settings:source_detail', args=[source.id])}?tab={tab}")


@actor_required(Permission.SOURCES_MANAGE)
@require_GET
def source_detail(request: Request, source_id: UUID) -> HttpResponse:
    return _detail_render(request, source_get(source_id=source_id))


@actor_required(Permission.SOURCES_MANAGE)
@require_POST
def source_edit(request: Request, source_id: UUID) -> HttpResponse:
    source = source_get(source_id=source_id)
    form = SourceForm(request.POST, channels=channel_list(), source=source)
    if form.is_valid():
        try:
            source_update(
                actor=request.actor,
                source=source,
                name=form.cleaned_data["name"],
                kind=form.cleaned_data["kind"],
                allowed_origins=form.cleaned_data["allowed_origins"],
                channel=form.cleaned_data["channel"],
            )
        except DomainError as exc:
            source.refresh_from_db()
            form_add_domain_errors(form, exc)
        else:
            notice = _("Source “%(name)s” was saved.") % {"name": source.name}
            return _source_done(request, source, notice=notice, tab="settings")
    return _detail_render(request, source, form=form, tab="settings", status=_invalid_status(request))


@actor_required(Permission.SOURCES_MANAGE)
@require_POST
def source_rotate(request: Request, source_id: UUID) -> HttpResponse:
    source = source_key_rotate(actor=request.actor, source=source_get(source_id=source_id))
    notice = _("A new write key was made. The old key no longer works: update the snippet and every sender.")
    return _source_done(request, source, notice=notice, tab="install")


@actor_required(Permission.SOURCES_MANAGE)
@require_POST
def source_deactivate_view(request: Request, source_id: UUID) -> HttpResponse:
    source = source_deactivate(actor=request.actor, source=source_get(source_id=source_id))
    notice = _("Source “%(name)s” was deactivated: events sent with its key are refused.") % {
        "name": source.name
    }
    return _source_done(request, source, notice=notice, tab="settings")


@actor_required(Permission.SOURCES_MANAGE)
@require_POST
def source_activate_view(request: Request, source_id: UUID) -> HttpResponse:
    source = source_activate(actor=request.actor, source=source_get(source_id=source_id))
    notice = _("Source “%(name)s” was activated: its key works again.") % {"name": source.name}
    return _source_done(request, source, notice=notice, tab="settings")


# Tracking settings ---------------------------------------------------------------------------------


def _settings_render(
    request: Request,
    *,
    form: TrackingSettingsForm | None = None,
    rules: StageRuleFormSetBase | None = None,
    notice: str = "",
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    current = tracking_settings_get()
    context = {
        "form": form or TrackingSettingsForm(settings=current),
        "rules": rules or stage_rule_formset(settings=current),
        "notice": notice,
        "error": error,
    }
    return page_or_section(
        request,
        page="tracking/settings/settings.html",
        section="tracking/settings/partials/settings_section.html",
        context=context,
        status=status,
    )


@actor_required(Permission.SOURCES_MANAGE)
@require_http_methods(["GET", "POST"])
def settings(request: Request) -> HttpResponse:
    if request.method == "GET":
        return _settings_render(request)
    form = TrackingSettingsForm(request.POST)
    rules = stage_rule_formset(data=request.POST)
    if form.is_valid() and rules.is_valid():
        try:
            tracking_settings_update(
                actor=request.actor,
                stage_rules=rules.rules(),
                radar_paths=form.cleaned_data["radar_paths"],
                retention_days=form.cleaned_data["retention_days"],
                session_timeout_minutes=form.cleaned_data["session_timeout_minutes"],
            )
        except DomainError as exc:
            form_add_domain_errors(form, exc)
        else:
            return write_succeeded(
                request,
                url_name="tracking_settings:settings",
                notice=_("Tracking settings were saved."),
                render_section=_settings_render,
            )
    return _settings_render(request, form=form, rules=rules, status=_invalid_status(request))
