"""Import wizard (upload → mapping + preview → progress → results) and exports (progress → download).

Thin: reads through selectors, writes through services, background work through tasks. Files are
built by the tasks and served finished; nothing streams rows from the database inside a response.
"""

from typing import IO, Any, cast

from django import forms
from django.core.exceptions import PermissionDenied as HttpPermissionDenied
from django.http import FileResponse, Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from siyu.contacts.filters import filters_from_query
from siyu.contacts.models import IdentityType, JobStatus
from siyu.contacts.selectors import export_job_get, export_job_list, import_job_get, import_job_list
from siyu.contacts.services import (
    export_column_choices,
    export_job_create,
    import_job_configure,
    import_job_confirm,
    import_job_create,
    import_preview,
    import_target_choices,
)
from siyu.contacts.services.exporting import DEFAULT_COLUMNS, export_download_name, export_file_path
from siyu.contacts.services.importing import import_error_report_path
from siyu.contacts.tasks import export_enqueue, import_enqueue
from siyu.core.errors import DomainError
from siyu.core.text import query_storable
from siyu.core.web import ActorRequest, actor_required, domain_error_message, form_add_domain_errors, is_htmx
from siyu.tenancy.actor import Actor
from siyu.tenancy.roles import Permission

LIST_COLUMN_PREFIX = "cf."  # the contact list's custom-column prefix


def _file_response(handle: IO[bytes], **kwargs: Any) -> HttpResponse:
    """A finished file, streamed from disk (the guard's view type says HttpResponse; FileResponse streams)."""
    return cast(HttpResponse, FileResponse(handle, **kwargs))


class UploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Spreadsheet"),
        help_text=gettext_lazy(".xlsx or .csv (UTF-8 or GBK), up to 50 MB, with a header row."),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.csv,.txt"}),
    )


@actor_required()
@require_GET
def import_list(request: ActorRequest[Actor]) -> HttpResponse:
    actor = request.actor
    if not (actor.can(Permission.CONTACTS_IMPORT) or actor.can(Permission.CONTACTS_EXPORT)):
        raise HttpPermissionDenied(_("Your role does not allow this page."))
    return render(
        request,
        "contacts/import/list.html",
        {
            "imports": import_job_list(actor=actor),
            "exports": export_job_list(actor=actor),
            "may_import": actor.can(Permission.CONTACTS_IMPORT),
        },
    )


@actor_required(Permission.CONTACTS_IMPORT)
@require_http_methods(["GET", "POST"])
def import_new(request: ActorRequest[Actor]) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = import_job_create(actor=request.actor, upload=upload, file_name=upload.name)
        except DomainError as exc:
            form_add_domain_errors(form, exc)
        else:
            return redirect("imports:detail", job_id=job.id)
    status = 400 if form.errors else 200
    return render(request, "contacts/import/new.html", {"form": form}, status=status)


def _mapping_from(post: QueryDict, column_count: int) -> dict[str, str]:
    return {str(i): post.get(f"column_{i}", "") for i in range(column_count) if post.get(f"column_{i}")}


@actor_required(Permission.CONTACTS_IMPORT)
@require_http_methods(["GET", "POST"])
def import_detail(request: ActorRequest[Actor], job_id: str) -> HttpResponse:
    actor = request.actor
    job = import_job_get(actor=actor, job_id=job_id)
    if job.confirmed_at is not None:
        context: dict[str, Any] = {"job": job, "has_report": bool(import_error_report_path(job))}
        template = (
            "contacts/import/partials/progress.html" if is_htmx(request) else "contacts/import/detail.html"
        )
        return render(request, template, context)
    errors: dict[str, str] = {}
    message = ""
    if request.method == "POST":
        try:
            import_job_configure(
                actor=actor,
                job=job,
                mapping=_mapping_from(request.POST, len(job.headers)),
                dedupe_by=request.POST.get("dedupe_by", job.dedupe_by),
                on_duplicate=request.POST.get("on_duplicate", job.on_duplicate),
            )
            if request.POST.get("action") == "start":
                import_job_confirm(actor=actor, job=job)
                import_enqueue(job)
                return redirect("imports:detail", job_id=job.id)
        except DomainError as exc:
            errors = {str(k): str(v) for k, v in exc.fields.items()}
            message = domain_error_message(exc)
    try:
        preview = import_preview(actor=actor, job=job)
    except DomainError as exc:
        preview, message = [], domain_error_message(exc)
    columns = [
        {
            "index": i,
            "header": header,
            "target": job.mapping.get(str(i), ""),
            "error": errors.get(f"mapping.{i}", ""),
        }
        for i, header in enumerate(job.headers)
    ]
    dedupe_choices = [(k.value, k.label) for k in IdentityType]
    return render(
        request,
        "contacts/import/detail.html",
        {
            "job": job,
            "columns": columns,
            "targets": import_target_choices(),
            "dedupe_choices": dedupe_choices,
            "preview": preview,
            "preview_errors": sum(1 for row in preview if row.error),
            "errors": errors,
            "message": message,
        },
        status=400 if message else 200,
    )


@actor_required(Permission.CONTACTS_IMPORT)
@require_GET
def import_error_report(request: ActorRequest[Actor], job_id: str) -> HttpResponse:
    job = import_job_get(actor=request.actor, job_id=job_id)
    path = import_error_report_path(job)
    if path is None or not path.exists():
        raise Http404(_("This import has no error report."))
    stem = job.file_name.rsplit(".", 1)[0]
    return _file_response(
        path.open("rb"),
        as_attachment=True,
        filename=f"{stem}-errors.csv",
        content_type="text/csv; charset=utf-8",
    )


def _export_columns(query: QueryDict, available: set[str]) -> list[str]:
    wanted = query.getlist("column") or [
        f"custom.{c[len(LIST_COLUMN_PREFIX) :]}" if c.startswith(LIST_COLUMN_PREFIX) else c
        for c in query.getlist("col")
    ]
    chosen = [c for c in wanted if c in available]
    return chosen or list(DEFAULT_COLUMNS)


@actor_required(Permission.CONTACTS_EXPORT)
@require_POST
def export_create(request: ActorRequest[Actor]) -> HttpResponse:
    """The contact list's filters arrive as the query string or as a `query` field; the file is built in the background."""
    query = request.GET.copy()
    query.update(query_storable(QueryDict(request.POST.get("query", ""))))
    for key in ("column", "col"):
        for value in request.POST.getlist(key):
            query.appendlist(key, value)
    available = {column for column, _label in export_column_choices()}
    try:
        job = export_job_create(
            actor=request.actor,
            filters=filters_from_query(query),
            columns=_export_columns(query, available),
            file_format=request.POST.get("format") or query.get("format") or "xlsx",
        )
    except DomainError as exc:
        return HttpResponse(domain_error_message(exc), status=400)
    export_enqueue(job)
    return redirect("imports:export_detail", job_id=job.id)


@actor_required(Permission.CONTACTS_EXPORT)
@require_GET
def export_detail(request: ActorRequest[Actor], job_id: str) -> HttpResponse:
    job = export_job_get(actor=request.actor, job_id=job_id)
    template = "contacts/export/partials/progress.html" if is_htmx(request) else "contacts/export/detail.html"
    labels = dict(export_column_choices())
    return render(request, template, {"job": job, "column_labels": [labels.get(c, c) for c in job.columns]})


@actor_required(Permission.CONTACTS_EXPORT)
@require_GET
def export_download(request: ActorRequest[Actor], job_id: str) -> HttpResponse:
    job = export_job_get(actor=request.actor, job_id=job_id)
    path = export_file_path(job)
    if job.status != JobStatus.DONE or path is None or not path.exists():
        raise Http404(_("This export is not ready."))
    content_type = (
        "text/csv; charset=utf-8"
        if job.file_format == "csv"
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    return _file_response(
        path.open("rb"), as_attachment=True, filename=export_download_name(job), content_type=content_type
    )
