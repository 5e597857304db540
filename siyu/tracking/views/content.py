"""Content library pages: the library, add/edit/delete, categories, a content's page with the member's
share link, QR code and poster, and content performance (page and CSV).

Members who may share content see the published library and get personal share links; members who
may manage content also see drafts and edit the library.
"""

import mimetypes
from datetime import timedelta
from typing import Any, cast
from uuid import UUID

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from siyu.contacts.models import Channel
from siyu.contacts.selectors import channel_list
from siyu.core.csv_download import csv_response
from siyu.core.errors import DomainError, ValidationError
from siyu.core.time import now
from siyu.core.web import ActorRequest, actor_required, form_add_domain_errors, is_htmx, page_or_section
from siyu.tenancy.actor import Actor
from siyu.tenancy.roles import Permission
from siyu.tracking.forms_content import BodyPreviewForm, CategoryForm, ContentForm
from siyu.tracking.models import Content, ContentKind, ShareLink
from siyu.tracking.selectors.content import (
    ContentFilters,
    content_category_counts,
    content_category_get,
    content_category_list,
    content_file_info,
    content_get,
    content_kind_counts,
    content_list,
    content_performance,
    content_performance_by_sharer,
    content_performance_one,
    content_performance_totals,
    content_tag_names,
)
from siyu.tracking.services.content import (
    FILE_MAX_BYTES,
    body_sanitise,
    content_category_create,
    content_category_delete,
    content_category_update,
    content_create,
    content_delete,
    content_update,
    poster_compose,
    share_link_get_or_create,
    share_link_qr_png,
    share_link_qr_svg,
    share_url,
)

Request = ActorRequest[Actor]
PAGE_SIZE = 24
# A request body bigger than the largest upload plus the form's own fields is refused unread.
REQUEST_MAX_BYTES = FILE_MAX_BYTES + 2 * 1024 * 1024
KIND_ICONS: dict[str, str] = {
    ContentKind.ARTICLE: "article",
    ContentKind.PRODUCT: "shopping-cart",
    ContentKind.POSTER: "photo",
    ContentKind.FILE: "file",
    ContentKind.LINK: "external-link",
}
PERIODS = {"7": 7, "30": 30, "90": 90, "365": 365}


def _stream(response: FileResponse) -> HttpResponse:
    """A streamed file (the views' declared type is HttpResponse; FileResponse streams)."""
    return cast(HttpResponse, response)


def _may_manage(request: Request) -> bool:
    return request.actor.can(Permission.CONTENT_MANAGE)


def _base_url(request: Request) -> str:
    return request.build_absolute_uri("/").rstrip("/")


def _kind(raw: str | None) -> str:
    return raw if raw in ContentKind.values else ContentKind.ARTICLE


def _content(request: Request, content_id: UUID, *, published_only: bool | None = None) -> Content:
    if published_only is None:
        published_only = not _may_manage(request)
    return content_get(content_id=content_id, published_only=published_only)


def _channel(request: Request) -> Channel | None:
    """The channel chosen with ?channel=<id> for a channel-specific share link, if it exists."""
    wanted = request.GET.get("channel", "")
    if not wanted:
        return None
    return next((c for c in channel_list() if str(c.id) == wanted), None)


def _share_link(request: Request, content: Content) -> ShareLink:
    """The acting member's link (for the chosen channel); 404 when the content cannot be shared."""
    try:
        return share_link_get_or_create(actor=request.actor, content=content, channel=_channel(request))
    except ValidationError as exc:
        raise Http404(exc.message) from exc


def _too_large(request: Request) -> bool:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > REQUEST_MAX_BYTES
    except ValueError:
        return False


def _stored_file_response(content: Content, *, field: str, attachment: bool) -> HttpResponse:
    stored = content.cover if field == "cover" else content.file
    if not stored.name:
        raise Http404
    try:
        handle = stored.storage.open(stored.name, "rb")
    except OSError as exc:
        raise Http404 from exc
    guessed = mimetypes.guess_type(stored.name)[0] or "application/octet-stream"
    response = FileResponse(
        handle,
        as_attachment=attachment,
        filename=stored.name.rsplit("/", 1)[-1],
        content_type=guessed if not attachment else "application/octet-stream",
    )
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, max-age=300"
    return _stream(response)


# Library -------------------------------------------------------------------------------------------


@require_GET
@actor_required(Permission.CONTENT_SHARE)
def content_library(request: Request) -> HttpResponse:
    manage = _may_manage(request)
    filters = ContentFilters(
        kind=request.GET.get("kind", ""),
        category=request.GET.get("category", ""),
        tag=request.GET.get("tag", ""),
        search=request.GET.get("q", ""),
        published_only=not manage,
    )
    page = Paginator(content_list(filters=filters), PAGE_SIZE).get_page(request.GET.get("page"))
    counts = content_kind_counts(published_only=not manage)
    kinds = [
        {"value": value, "label": label, "icon": KIND_ICONS[value], "count": counts.get(value, 0)}
        for value, label in ContentKind.choices
    ]
    context = {
        "page": page,
        "items": [{"content": c, "icon": KIND_ICONS.get(c.kind, "file")} for c in page.object_list],
        "filters": filters,
        "kinds": kinds,
        "total": sum(counts.values()),
        "categories": list(content_category_list()),
        "tags": content_tag_names(published_only=not manage),
        "may_manage": manage,
    }
    return page_or_section(
        request,
        page="tracking/content/list.html",
        section="tracking/content/partials/library.html",
        context=context,
    )


# Add, edit, delete ---------------------------------------------------------------------------------


def _form_values(form: ContentForm) -> dict[str, Any]:
    data = form.cleaned_data
    return {
        "title": data["title"],
        "summary": data.get("summary", ""),
        "body": data.get("body", ""),
        "url": data.get("url", ""),
        "price": data.get("price"),
        "file": data.get("file") or None,
        "cover": data.get("cover") or None,
        "category": data.get("category"),
        "tags": data.get("tags", ""),
        "is_published": bool(data.get("is_published")),
    }


def _form_page(
    request: Request, *, form: ContentForm, content: Content | None, status: int = 200, error: str = ""
) -> HttpResponse:
    kinds = [
        {"value": value, "label": label, "icon": KIND_ICONS[value]} for value, label in ContentKind.choices
    ]
    context = {
        "form": form,
        "content": content,
        "kind": form.kind,
        "kind_label": ContentKind(form.kind).label,
        "kinds": kinds,
        "file_info": content_file_info(content) if content else None,
        "error": error,
    }
    return render(request, "tracking/content/form.html", context, status=status)


def _refuse_too_large(request: Request, form: ContentForm, content: Content | None) -> HttpResponse:
    error = _("The upload is larger than %(max)d MB; choose a smaller file.") % {
        "max": FILE_MAX_BYTES // (1024 * 1024)
    }
    return _form_page(request, form=form, content=content, status=413, error=error)


@require_http_methods(["GET", "POST"])
@actor_required(Permission.CONTENT_MANAGE)
def content_add(request: Request) -> HttpResponse:
    kind = _kind(request.GET.get("kind"))
    if request.method != "POST":
        return _form_page(request, form=ContentForm(kind=kind), content=None)
    if _too_large(request):
        return _refuse_too_large(request, ContentForm(kind=kind), None)
    form = ContentForm(request.POST, request.FILES, kind=kind)
    if form.is_valid():
        try:
            content = content_create(actor=request.actor, kind=kind, **_form_values(form))
        except DomainError as exc:
            form_add_domain_errors(form, exc)
        else:
            messages.success(request, _("“%(title)s” was added to the library.") % {"title": content.title})
            return HttpResponseRedirect(reverse("content:detail", args=[content.id]))
    return _form_page(request, form=form, content=None, status=422)


@require_http_methods(["GET", "POST"])
@actor_required(Permission.CONTENT_MANAGE)
def content_edit(request: Request, content_id: UUID) -> HttpResponse:
    content = _content(request, content_id)
    if request.method != "POST":
        initial = {
            "title": content.title,
            "summary": content.summary,
            "body": content.body,
            "url": content.url,
            "price": content.price,
            "category": content.category_id,
            "tags": ", ".join(content.tags or []),
            "is_published": content.is_published,
        }
        form = ContentForm(initial=initial, kind=content.kind, editing=True)
        return _form_page(request, form=form, content=content)
    if _too_large(request):
        return _refuse_too_large(request, ContentForm(kind=content.kind, editing=True), content)
    form = ContentForm(request.POST, request.FILES, kind=content.kind, editing=True)
    if form.is_valid():
        try:
            content = content_update(
                actor=request.actor,
                content=content,
                cover_remove=bool(form.cleaned_data.get("cover_remove")),
                **_form_values(form),
            )
        except DomainError as exc:
            form_add_domain_errors(form, exc)
        else:
            messages.success(request, _("Your changes were saved."))
            return HttpResponseRedirect(reverse("content:detail", args=[content.id]))
    content.refresh_from_db()
    return _form_page(request, form=form, content=content, status=422)


@require_http_methods(["GET", "POST"])
@actor_required(Permission.CONTENT_MANAGE)
def content_delete_view(request: Request, content_id: UUID) -> HttpResponse:
    content = _content(request, content_id)
    if request.method == "POST":
        title = content.title
        content_delete(actor=request.actor, content=content)
        messages.success(request, _("“%(title)s” was deleted.") % {"title": title})
        return HttpResponseRedirect(reverse("content:list"))
    performance = content_performance_one(content=content)
    return render(request, "tracking/content/delete.html", {"content": content, "performance": performance})


@require_POST
@actor_required(Permission.CONTENT_MANAGE)
def body_preview(request: Request) -> HttpResponse:
    """The body as it will be stored and shown (sanitised), for the editor's live preview."""
    form = BodyPreviewForm(request.POST)
    body = body_sanitise(form.data.get("body", "")) if form.is_valid() else ""
    return render(request, "tracking/content/partials/preview.html", {"body": body})


# One content: preview, share link, QR code, poster, performance -------------------------------------


def _sharer_chart(rows: list[Any], *, direct_label: str) -> dict[str, Any]:
    return {
        "labels": {
            "views": _("Views"),
            "viewers": _("Unique viewers"),
        },
        "names": [row.sharer_name or direct_label for row in rows],
        "views": [row.views for row in rows],
        "viewers": [row.viewers for row in rows],
    }


@require_GET
@actor_required(Permission.CONTENT_SHARE)
def content_detail(request: Request, content_id: UUID) -> HttpResponse:
    content = _content(request, content_id)
    link = None
    url = ""
    channel = _channel(request)
    if content.is_published and request.actor.member is not None:
        link = share_link_get_or_create(actor=request.actor, content=content, channel=channel)
        url = share_url(share_link=link, base_url=_base_url(request))
    performance = content_performance_one(content=content)
    sharers = content_performance_by_sharer(content=content)
    direct = _("No share link")
    context = {
        "content": content,
        "body_html": body_sanitise(content.body),  # sanitised when saved, and again in case of other writers
        "icon": KIND_ICONS.get(content.kind, "file"),
        "link": link,
        "share_url": url,
        "channel": channel,
        "channels": list(channel_list()),
        "performance": performance,
        "sharers": sharers,
        "direct_label": direct,
        "chart_data": _sharer_chart(sharers, direct_label=direct),
        "file_info": content_file_info(content),
        "may_manage": _may_manage(request),
        "channel_query": f"?channel={channel.id}" if channel else "",
    }
    return render(request, "tracking/content/detail.html", context)


@require_GET
@actor_required(Permission.CONTENT_SHARE)
def content_qr(request: Request, content_id: UUID) -> HttpResponse:
    """The acting member's share link as a QR code: PNG (default) or SVG (?format=svg)."""
    content = _content(request, content_id, published_only=True)
    link = _share_link(request, content)
    try:
        scale = max(1, min(int(request.GET.get("scale", "8")), 40))
    except ValueError:
        scale = 8
    base_url = _base_url(request)
    if request.GET.get("format") == "svg":
        response = HttpResponse(
            share_link_qr_svg(share_link=link, base_url=base_url, scale=scale), content_type="image/svg+xml"
        )
        extension = "svg"
    else:
        response = HttpResponse(
            share_link_qr_png(share_link=link, base_url=base_url, scale=scale), content_type="image/png"
        )
        extension = "png"
    if request.GET.get("download"):
        response.headers["Content-Disposition"] = content_disposition_header(
            as_attachment=True, filename=f"{content.title}-QR.{extension}"
        )
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


@require_GET
@actor_required(Permission.CONTENT_SHARE)
def content_poster(request: Request, content_id: UUID) -> HttpResponse:
    """The poster with the acting member's QR code and name composed in (?download=1 to save it)."""
    content = _content(request, content_id, published_only=True)
    if content.kind != ContentKind.POSTER:
        raise Http404
    link = _share_link(request, content)
    path = poster_compose(share_link=link, base_url=_base_url(request))
    response = FileResponse(
        path.open("rb"),
        as_attachment=bool(request.GET.get("download")),
        filename=f"{content.title}-{link.member.display_name}.png",
        content_type="image/png",
    )
    response.headers["Cache-Control"] = "private, max-age=3600"
    return _stream(response)


@require_GET
@actor_required(Permission.CONTENT_SHARE)
def content_file(request: Request, content_id: UUID) -> HttpResponse:
    """A content's stored file: a poster's image inline, any other file as a download."""
    content = _content(request, content_id)
    return _stored_file_response(content, field="file", attachment=content.kind != ContentKind.POSTER)


@require_GET
@actor_required(Permission.CONTENT_SHARE)
def content_cover(request: Request, content_id: UUID) -> HttpResponse:
    content = _content(request, content_id)
    return _stored_file_response(content, field="cover", attachment=False)


# Categories ----------------------------------------------------------------------------------------


def _categories_render(
    request: Request,
    *,
    form: CategoryForm | None = None,
    editing: tuple[UUID, CategoryForm] | None = None,
    notice: str = "",
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    counts = content_category_counts()
    rows = [
        {
            "category": category,
            "count": counts.get(category.id, 0),
            "form": editing[1]
            if editing is not None and editing[0] == category.id
            else CategoryForm(
                initial={"name": category.name, "sort_order": category.sort_order},
                auto_id=f"id_category_{category.id}_%s",
            ),
            "is_editing": editing is not None and editing[0] == category.id,
        }
        for category in content_category_list()
    ]
    context = {"rows": rows, "form": form or CategoryForm(), "notice": notice, "error": error}
    return page_or_section(
        request,
        page="tracking/content/categories.html",
        section="tracking/content/partials/categories_section.html",
        context=context,
        status=status,
    )


def _invalid_status(request: Request) -> int:
    """htmx swaps only 2xx answers, so a form with errors is 200 there and 422 for a plain browser."""
    return 200 if is_htmx(request) else 422


def _categories_done(request: Request, notice: str) -> HttpResponse:
    if is_htmx(request):
        return _categories_render(request, notice=notice)
    messages.success(request, notice)
    return HttpResponseRedirect(reverse("content:categories"))


@require_http_methods(["GET", "POST"])
@actor_required(Permission.CONTENT_MANAGE)
def categories(request: Request) -> HttpResponse:
    """The category list; POST with action=create|update|delete changes it."""
    if request.method != "POST":
        return _categories_render(request)
    category_id = request.POST.get("category_id")
    action = request.POST.get("action") or ("update" if category_id else "create")
    if action == "create":
        form = CategoryForm(request.POST)
        if form.is_valid():
            try:
                category = content_category_create(actor=request.actor, name=form.cleaned_data["name"])
            except DomainError as exc:
                form_add_domain_errors(form, exc)
            else:
                return _categories_done(request, _("Category “%(name)s” added.") % {"name": category.name})
        return _categories_render(request, form=form, status=_invalid_status(request))
    category = content_category_get(category_id=category_id)
    if action == "delete":
        name = category.name
        content_category_delete(actor=request.actor, category=category)
        return _categories_done(request, _("Category “%(name)s” deleted.") % {"name": name})
    form = CategoryForm(request.POST, auto_id=f"id_category_{category.id}_%s")
    if form.is_valid():
        try:
            content_category_update(
                actor=request.actor,
                category=category,
                name=form.cleaned_data["name"],
                sort_order=form.cleaned_data.get("sort_order"),
            )
        except DomainError as exc:
            form_add_domain_errors(form, exc)
        else:
            return _categories_done(request, _("Category saved."))
    return _categories_render(request, editing=(category.id, form), status=_invalid_status(request))


# Performance ---------------------------------------------------------------------------------------


def _period(request: Request) -> tuple[str, Any]:
    period = request.GET.get("period", "")
    if period in PERIODS:
        return period, now() - timedelta(days=PERIODS[period])
    return "", None


def _performance_csv(rows: list[Any]) -> HttpResponse:
    header = [
        _("Title"),
        _("Type"),
        _("Views"),
        _("Unique viewers"),
        _("Average active dwell (seconds)"),
        _("Completion rate (%)"),
        _("Published"),
    ]
    cells = [
        [
            row.content.title,
            row.content.get_kind_display(),
            row.views,
            row.viewers,
            row.avg_dwell_seconds,
            row.completion_percent,
            _("Yes") if row.content.is_published else _("No"),
        ]
        for row in rows
    ]
    return csv_response(f"content-performance-{now():%Y%m%d}.csv", header, cells)


SORT_COLUMNS = ("title", "kind", "views", "viewers", "dwell", "completion")


@require_GET
@actor_required(Permission.CONTENT_SHARE)
def performance(request: Request) -> HttpResponse:
    manage = _may_manage(request)
    sort = request.GET.get("sort", "-views")
    if sort.lstrip("-") not in SORT_COLUMNS:
        sort = "-views"
    period, since = _period(request)
    rows = content_performance(sort=sort, since=since, published_only=not manage)
    if request.GET.get("format") == "csv":
        return _performance_csv(rows)
    sharers = content_performance_by_sharer(since=since)
    direct = _("No share link")
    top = sorted((r for r in rows if r.views), key=lambda r: (r.views, r.viewers), reverse=True)[:10]
    chart = {
        "labels": {
            "views": _("Views"),
            "viewers": _("Unique viewers"),
            "completion": _("Completion rate (%)"),
        },
        "titles": [r.content.title for r in top],
        "views": [r.views for r in top],
        "viewers": [r.viewers for r in top],
        "sharers": _sharer_chart(sharers, direct_label=direct),
    }
    columns = [
        {
            "key": key,
            "label": label,
            "next_sort": key if sort == f"-{key}" else f"-{key}",
            "active": sort.lstrip("-") == key,
            "descending": sort.startswith("-"),
        }
        for key, label in (
            ("title", _("Title")),
            ("kind", _("Type")),
            ("views", _("Views")),
            ("viewers", _("Unique viewers")),
            ("dwell", _("Average active dwell")),
            ("completion", _("Completion rate")),
        )
    ]
    context = {
        "rows": rows,
        "totals": content_performance_totals(since=since),
        "sharers": sharers,
        "direct_label": direct,
        "chart_data": chart,
        "columns": columns,
        "sort": sort,
        "period": period,
        "periods": [
            ("", _("All time")),
            ("7", _("Last 7 days")),
            ("30", _("Last 30 days")),
            ("90", _("Last 90 days")),
            ("365", _("Last 365 days")),
        ],
    }
    return render(request, "tracking/content/performance.html", context)
