"""Segment pages: the list, create and edit (with the visual builder), the detail page with its
chart and tabs, rebuild, snapshot, delete, and adding or removing a static list's members.

Thin: reads through selectors, writes through services. A dynamic segment of a small workspace is
built inside the request; a large one is built by the task queue while the page polls its status.
"""

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from siyu.contacts.selectors import contact_rows
from siyu.core.csv_download import csv_response
from siyu.core.errors import DomainError, ValidationError
from siyu.core.time import now, today
from siyu.core.web import ActorRequest, actor_required, domain_error_message, form_add_domain_errors, is_htmx
from siyu.segments.describe import rule_describe
from siyu.segments.forms import ListMembersForm, SegmentForm, SnapshotForm
from siyu.segments.models import MembershipChangeKind, Segment, SegmentKind
from siyu.segments.rfm import GROUP_LABELS
from siyu.segments.rules.spec import RULES_VERSION, RuleError
from siyu.segments.selectors.pages import segment_lookup
from siyu.segments.selectors.segments import (
    members_entered_at,
    segment_builds,
    segment_changes_visible,
    segment_get_for,
    segment_list,
    segment_members_page,
    segments_using,
)
from siyu.segments.selectors.stats import segment_size_series
from siyu.segments.services.segments import (
    RowResult,
    segment_create,
    segment_delete,
    segment_members_add,
    segment_members_remove,
    segment_rebuild,
    segment_snapshot,
    segment_update,
)
from siyu.segments.views.builder import builder_catalog, builder_labels, initial_document, posted_rules
from siyu.tenancy.actor import Actor
from siyu.tenancy.roles import Permission

Request = ActorRequest[Actor]
# Up to this many contacts in the workspace, a build runs inside the request (well under a second);
# above it the task queue builds and the page polls.
INLINE_BUILD_MAX_CONTACTS = 20_000
MEMBERS_PAGE = 50
HISTORY_PAGE = 50
CHART_DAYS = 90
CHART_MIN_DAYS = 30
TABS = ("members", "history", "builds")


def _build_inline() -> bool:
    return contact_rows().count() <= INLINE_BUILD_MAX_CONTACTS


def _status(segment: Segment) -> str:
    if not segment.is_dynamic:
        return "ready"
    if segment.problem:
        return "problem"
    return "ready" if segment.is_ready else "building"


# -- list -------------------------------------------------------------------------------------------


@require_GET
@actor_required(Permission.SEGMENTS_READ)
def segment_list_view(request: Request) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:100]
    rows = [{"segment": s, "status": _status(s)} for s in segment_list(q=query)]
    context = {"rows": rows, "q": query, "can_manage": request.actor.can(Permission.SEGMENTS_MANAGE)}
    if is_htmx(request):
        return render(request, "segments/partials/list_table.html", context)
    return render(request, "segments/list.html", context)


# -- create / edit ----------------------------------------------------------------------------------


def _form_page(
    request: Request,
    *,
    form: SegmentForm,
    segment: Segment | None,
    kind: str,
    document: Any,
    errors: dict[str, str] | None = None,
) -> HttpResponse:
    context = {
        "form": form,
        "segment": segment,
        "kind": kind,
        "is_dynamic": kind == SegmentKind.DYNAMIC,
        "document": initial_document(document),
        "rule_errors": errors or {},
        "catalog": builder_catalog(segment=segment) if kind == SegmentKind.DYNAMIC else None,
        "labels": builder_labels(),
    }
    return render(request, "segments/form.html", context)


def _refused(form: SegmentForm, exc: DomainError) -> dict[str, str]:
    """Put a refusal on the form; a rule's problems go back to the builder, keyed by their paths."""
    if isinstance(exc, RuleError):
        form.add_error(None, _("The rule has problems; they are marked beside the conditions below."))
        return {str(path): str(text) for path, text in exc.fields.items()}
    form_add_domain_errors(form, exc)
    return {}


@require_http_methods(["GET", "POST"])
@actor_required(Permission.SEGMENTS_MANAGE)
def segment_create_view(request: Request) -> HttpResponse:
    kind = SegmentKind.STATIC if request.GET.get("kind") == SegmentKind.STATIC else SegmentKind.DYNAMIC
    is_dynamic = kind == SegmentKind.DYNAMIC
    if request.method != "POST":
        form, document = SegmentForm(with_rules=is_dynamic), None
        group = request.GET.get("rfm", "")
        if is_dynamic and group in GROUP_LABELS:  # “new segment of this RFM group”, from the RFM page
            form = SegmentForm(initial={"name": str(GROUP_LABELS[group])})
            document = {"version": RULES_VERSION, "root": {"all": [{"kind": "rfm", "groups": [group]}]}}
        return _form_page(request, form=form, segment=None, kind=kind, document=document)
    form = SegmentForm(request.POST, with_rules=is_dynamic)
    document = posted_rules(request)
    if form.is_valid():
        try:
            segment = segment_create(
                actor=request.actor,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                kind=kind,
                rules=form.cleaned_data.get("rules"),
                build_now=is_dynamic and _build_inline(),
            )
        except DomainError as exc:
            return _form_page(
                request, form=form, segment=None, kind=kind, document=document, errors=_refused(form, exc)
            )
        messages.success(request, _("Created the segment “%(name)s”.") % {"name": segment.name})
        return redirect("segments:detail", segment_id=segment.id)
    return _form_page(request, form=form, segment=None, kind=kind, document=document)


@require_http_methods(["GET", "POST"])
@actor_required(Permission.SEGMENTS_MANAGE)
def segment_edit_view(request: Request, segment_id: UUID) -> HttpResponse:
    segment = segment_get_for(request.actor, segment_id)
    kind = segment.kind
    is_dynamic = segment.is_dynamic
    if request.method != "POST":
        form = SegmentForm(
            initial={"name": segment.name, "description": segment.description}, with_rules=is_dynamic
        )
        return _form_page(request, form=form, segment=segment, kind=kind, document=segment.rules)
    form = SegmentForm(request.POST, with_rules=is_dynamic)
    document = posted_rules(request)
    if form.is_valid():
        try:
            segment_update(
                actor=request.actor,
                segment=segment,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                rules=form.cleaned_data.get("rules") if is_dynamic else None,
                build_now=is_dynamic and _build_inline(),
            )
        except DomainError as exc:
            return _form_page(
                request, form=form, segment=segment, kind=kind, document=document, errors=_refused(form, exc)
            )
        messages.success(request, _("Saved the segment “%(name)s”.") % {"name": segment.name})
        return redirect("segments:detail", segment_id=segment.id)
    return _form_page(request, form=form, segment=segment, kind=kind, document=document)


# -- detail -----------------------------------------------------------------------------------------


def _chart(segment: Segment) -> dict[str, Any]:
    """The last CHART_DAYS days (at least CHART_MIN_DAYS, blank before the segment existed)."""
    end = today()
    created = timezone.localdate(segment.created_at)
    start = max(end - timedelta(days=CHART_DAYS - 1), min(created, end - timedelta(days=CHART_MIN_DAYS - 1)))
    figures = segment_size_series(segment=segment, start=start, end=end, today=end)
    existed = [figure.day >= created for figure in figures]
    return {
        "labels": {"size": _("Size"), "entered": _("Entered"), "exited": _("Exited")},
        "days": [f.day.isoformat() for f in figures],
        "size": [f.size if alive else None for f, alive in zip(figures, existed, strict=True)],
        "entered": [f.entered if alive else None for f, alive in zip(figures, existed, strict=True)],
        "exited": [f.exited if alive else None for f, alive in zip(figures, existed, strict=True)],
    }


def _chart_rows(chart: dict[str, Any]) -> list[tuple[str, int, int, int]]:
    """(day, size, entered, exited) for the days the segment existed, oldest first."""
    rows = zip(chart["days"], chart["size"], chart["entered"], chart["exited"], strict=True)
    return [row for row in rows if row[1] is not None]


def _members_context(request: Request, segment: Segment) -> dict[str, Any]:
    page = segment_members_page(
        actor=request.actor, segment=segment, cursor=request.GET.get("cursor") or None, limit=MEMBERS_PAGE
    )
    entered = members_entered_at(segment=segment, contact_ids=[c.id for c in page.items])
    return {
        "segment": segment,
        "members": [{"contact": c, "entered_at": entered.get(c.id)} for c in page.items],
        "next_cursor": page.next_cursor,
        "is_first_page": not request.GET.get("cursor"),
    }


def _history_context(request: Request, segment: Segment) -> dict[str, Any]:
    kind = request.GET.get("kind", "")
    kind = kind if kind in MembershipChangeKind.values else ""
    try:
        page_number = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page_number = 1
    offset = (page_number - 1) * HISTORY_PAGE
    found = list(
        segment_changes_visible(actor=request.actor, segment=segment, kind=kind)[
            offset : offset + HISTORY_PAGE + 1
        ]
    )
    rows, has_more = found[:HISTORY_PAGE], len(found) > HISTORY_PAGE
    return {
        "segment": segment,
        "changes": rows,
        "kind": kind,
        "page_number": page_number,
        "next_page": page_number + 1 if has_more else None,
        "previous_page": page_number - 1 if page_number > 1 else None,
    }


def _builds_context(segment: Segment) -> dict[str, Any]:
    return {"segment": segment, "builds": segment_builds(segment=segment, limit=30)}


def _polling_since(request: Request) -> datetime | None:
    raw = request.GET.get("rebuilding", "")
    moment = parse_datetime(raw) if raw else None
    return moment if moment is not None and timezone.is_aware(moment) else None


def _status_context(request: Request, segment: Segment) -> dict[str, Any]:
    since = _polling_since(request)
    rebuilding = since is not None and (segment.last_built_at is None or segment.last_built_at < since)
    return {
        "segment": segment,
        "status": _status(segment),
        "polling": segment.is_dynamic and (not segment.is_ready or rebuilding),
        "rebuilding": since.isoformat() if rebuilding and since else "",
    }


@require_GET
@actor_required(Permission.SEGMENTS_READ)
def segment_detail_view(request: Request, segment_id: UUID) -> HttpResponse:
    segment = segment_get_for(request.actor, segment_id)
    if request.GET.get("format") == "csv":
        return _days_csv(segment)
    tab = request.GET.get("tab", "members")
    tab = tab if tab in TABS else "members"
    chart = _chart(segment)
    context: dict[str, Any] = {
        "segment": segment,
        "tab": tab,
        "rules": rule_describe(segment.rules) if segment.is_dynamic else None,
        "used_by": segments_using(segment=segment),
        "chart_data": chart,
        "chart_days": list(reversed(_chart_rows(chart))),
        "can_manage": request.actor.can(Permission.SEGMENTS_MANAGE),
        "snapshot_name": _("%(name)s · %(day)s") % {"name": segment.name, "day": today().isoformat()},
        **_status_context(request, segment),
    }
    if tab == "members":
        context.update(_members_context(request, segment))
    elif tab == "history":
        context.update(_history_context(request, segment))
    else:
        context.update(_builds_context(segment))
    return render(request, "segments/detail.html", context)


def _days_csv(segment: Segment) -> HttpResponse:
    return csv_response(
        f"segment-{segment.id}-{today():%Y%m%d}.csv",
        [_("Day"), _("Size"), _("Entered"), _("Exited")],
        _chart_rows(_chart(segment)),
    )


@require_GET
@actor_required(Permission.SEGMENTS_READ)
def segment_status_view(request: Request, segment_id: UUID) -> HttpResponse:
    """The status badge; while a build runs it polls itself, and reloads the page when it is done."""
    segment = segment_get_for(request.actor, segment_id)
    context = _status_context(request, segment)
    response = render(request, "segments/partials/status.html", context)
    if is_htmx(request) and not context["polling"] and request.GET.get("polling"):
        response.headers["HX-Refresh"] = "true"
    return response


@require_GET
@actor_required(Permission.SEGMENTS_READ)
def segment_members_view(request: Request, segment_id: UUID) -> HttpResponse:
    segment = segment_get_for(request.actor, segment_id)
    return render(request, "segments/partials/members.html", _members_context(request, segment))


@require_GET
@actor_required(Permission.SEGMENTS_READ)
def segment_history_view(request: Request, segment_id: UUID) -> HttpResponse:
    segment = segment_get_for(request.actor, segment_id)
    return render(request, "segments/partials/history.html", _history_context(request, segment))


@require_GET
@actor_required(Permission.SEGMENTS_READ)
def segment_builds_view(request: Request, segment_id: UUID) -> HttpResponse:
    segment = segment_get_for(request.actor, segment_id)
    return render(request, "segments/partials/builds.html", _builds_context(segment))


@require_GET
@actor_required(Permission.SEGMENTS_READ)
def segment_lookup_view(request: Request, segment_id: UUID) -> HttpResponse:
    """“Is this contact in?”: the actor's contacts matching a search, each in or out."""
    segment = segment_get_for(request.actor, segment_id)
    query = request.GET.get("q", "").strip()[:100]
    rows = segment_lookup(actor=request.actor, segment=segment, query=query)
    return render(request, "segments/partials/lookup.html", {"segment": segment, "rows": rows, "q": query})


# -- actions ----------------------------------------------------------------------------------------


def _back(segment: Segment) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("segments:detail", kwargs={"segment_id": segment.id}))


@require_POST
@actor_required(Permission.SEGMENTS_MANAGE)
def segment_rebuild_view(request: Request, segment_id: UUID) -> HttpResponse:
    segment = segment_get_for(request.actor, segment_id)
    inline = _build_inline()
    moment = now()
    try:
        build = segment_rebuild(actor=request.actor, segment=segment, now=inline)
    except ValidationError as error:
        messages.error(request, error.message)
        return _back(segment)
    if not inline:
        messages.info(request, _("The rebuild is queued; this page updates when it is done."))
        url = reverse("segments:detail", kwargs={"segment_id": segment.id})
        return HttpResponseRedirect(f"{url}?{urlencode({'rebuilding': moment.isoformat()})}")
    if build is None:
        segment.refresh_from_db()
        messages.error(request, segment.problem or _("The segment could not be built."))
    else:
        messages.success(
            request,
            _("Rebuilt: %(added)s entered, %(removed)s left, %(size)s members now.")
            % {"added": build.added, "removed": build.removed, "size": build.size},
        )
    return _back(segment)


@require_POST
@actor_required(Permission.SEGMENTS_MANAGE)
def segment_snapshot_view(request: Request, segment_id: UUID) -> HttpResponse:
    segment = segment_get_for(request.actor, segment_id)
    form = SnapshotForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the static list a name of 1 to 100 characters."))
        return _back(segment)
    try:
        snapshot = segment_snapshot(actor=request.actor, segment=segment, name=form.cleaned_data["name"])
    except DomainError as exc:
        messages.error(request, domain_error_message(exc))
        return _back(segment)
    messages.success(
        request,
        _("Saved %(count)s members as the static list “%(name)s”.")
        % {"count": snapshot.member_count, "name": snapshot.name},
    )
    return redirect("segments:detail", segment_id=snapshot.id)


@require_POST
@actor_required(Permission.SEGMENTS_MANAGE)
def segment_delete_view(request: Request, segment_id: UUID) -> HttpResponse:
    segment = segment_get_for(request.actor, segment_id)
    name = segment.name
    try:
        segment_delete(actor=request.actor, segment=segment)
    except DomainError as exc:
        messages.error(request, domain_error_message(exc))
        return _back(segment)
    messages.success(request, _("Deleted the segment “%(name)s”.") % {"name": name})
    return redirect("segments:list")


# -- static lists -----------------------------------------------------------------------------------


def _report_summary(results: list[RowResult]) -> dict[str, int]:
    summary = {"added": 0, "removed": 0, "unchanged": 0, "not_found": 0, "invalid": 0}
    for result in results:
        summary[result.status] = summary.get(result.status, 0) + 1
    return summary


@require_http_methods(["GET", "POST"])
@actor_required(Permission.SEGMENTS_MANAGE)
def list_members_view(request: Request, segment_id: UUID) -> HttpResponse:
    """Add or remove a static list's members by phone or contact id; a report row for every line."""
    segment = segment_get_for(request.actor, segment_id)
    if segment.is_dynamic:
        messages.error(
            request, _("Members of a dynamic segment follow its rules; add them to a static list instead.")
        )
        return _back(segment)
    results: list[RowResult] | None = None
    if request.method == "POST":
        form = ListMembersForm(request.POST, request.FILES)
        if form.is_valid():
            change = segment_members_add if form.cleaned_data["action"] == "add" else segment_members_remove
            try:
                results = change(actor=request.actor, segment=segment, values=form.cleaned_data["lines"])
            except DomainError as exc:
                form_add_domain_errors(form, exc)
            else:
                form = ListMembersForm(initial={"action": form.cleaned_data["action"]})
    else:
        form = ListMembersForm()
    context = {
        "segment": segment,
        "form": form,
        "results": results,
        "summary": _report_summary(results) if results is not None else None,
    }
    return render(request, "segments/list_members.html", context)
