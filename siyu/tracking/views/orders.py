"""Orders: the list of purchases (filters, a chart, CSV) and the order import wizard
(upload → columns + preview → progress → row report).

Thin: reads through selectors, writes through services, the run through a background task.
"""

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import IO, Any, cast
from uuid import UUID

from django import forms
from django.http import FileResponse, Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from siyu.contacts.selectors import channel_list, contact_briefs
from siyu.core.csv_download import csv_streaming_response
from siyu.core.errors import DomainError
from siyu.core.time import now, today
from siyu.core.web import ActorRequest, actor_required, domain_error_message, form_add_domain_errors, is_htmx
from siyu.tenancy.actor import Actor
from siyu.tenancy.roles import Permission
from siyu.tracking.models import Purchase, PurchaseOrigin
from siyu.tracking.selectors.purchases import (
    PurchaseFilters,
    channel_names,
    order_import_job_get,
    order_import_job_list,
    purchase_list,
    purchase_page,
    purchase_series,
    purchase_totals,
)
from siyu.tracking.services.orders import (
    order_import_job_configure,
    order_import_job_confirm,
    order_import_job_create,
    order_import_preview,
    order_import_report_path,
    order_target_choices,
)
from siyu.tracking.tasks import order_import_enqueue

Request = ActorRequest[Actor]
PAGE_SIZE = 50
CSV_MAX_ROWS = 100_000
CSV_CHUNK = 2000
CENTS = Decimal("0.01")
PERIODS = (("30", 30), ("90", 90), ("365", 365))


def _file_response(handle: IO[bytes], **kwargs: Any) -> HttpResponse:
    """A finished file, streamed from disk (views are typed to return HttpResponse; FileResponse streams)."""
    return cast(HttpResponse, FileResponse(handle, **kwargs))


# The list -----------------------------------------------------------------------------------------------


def _day(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def _uuid(raw: str | None) -> UUID | None:
    try:
        return UUID(raw) if raw else None
    except ValueError:
        return None


def _filters(query: QueryDict) -> tuple[PurchaseFilters, str]:
    """The list's filters from the query string, and the chosen period ("30", "90", "365", "" or "custom")."""
    period = query.get("period", "")
    placed_from, placed_to = _day(query.get("from")), _day(query.get("to"))
    days = dict(PERIODS).get(period)
    if days is not None:
        placed_from, placed_to = today() - timedelta(days=days - 1), today()
    elif placed_from or placed_to:
        period = "custom"
    else:
        period = ""
    channels = [c for c in (_uuid(v) for v in query.getlist("channel")) if c is not None]
    origin = query.get("origin", "")
    return (
        PurchaseFilters(
            placed_from=placed_from,
            placed_to=placed_to,
            channel_ids=channels,
            origin=origin if origin in PurchaseOrigin.values else "",
        ),
        period,
    )


def _rows(purchases: list[Purchase]) -> list[dict[str, Any]]:
    briefs = contact_briefs(contact_ids=[p.contact_id for p in purchases])
    channels = channel_names(purchases)
    origins = dict(PurchaseOrigin.choices)
    return [
        {
            "purchase": p,
            "contact": briefs.get(p.contact_id),
            "channel": channels.get(p.channel_id, "") if p.channel_id else "",
            "origin": origins.get(p.origin, p.origin),
            "items": _items_text(p.items),
        }
        for p in purchases
    ]


def _items_text(items: Any) -> str:
    if not isinstance(items, list):
        return ""
    parts = []
    for item in items:
        if not isinstance(item, dict):
            continue
        name = str(item.get("name") or item.get("title") or item.get("sku") or item.get("product_id") or "")
        if not name:
            continue
        quantity = item.get("quantity")
        parts.append(f"{name}×{quantity}" if isinstance(quantity, int) and quantity != 1 else name)
    return "；".join(parts)


def _chart(unit: str, periods: list[Any]) -> dict[str, Any]:
    return {
        "unit": unit,
        "labels": {"orders": _("Orders"), "revenue": _("Revenue (¥)")},
        "periods": [p.start.isoformat()[: 7 if unit == "month" else 10] for p in periods],
        "orders": [p.orders for p in periods],
        "revenue": [float(p.revenue) for p in periods],
    }


def _csv(request: Request, filters: PurchaseFilters) -> HttpResponse:
    """The filtered orders as CSV (UTF-8 with BOM for Excel), newest first, at most CSV_MAX_ROWS."""
    purchases = purchase_list(actor=request.actor, filters=filters).order_by("-placed_at", "-id")
    origins = dict(PurchaseOrigin.choices)
    names = dict(channel_list().values_list("id", "name"))

    def rows() -> Iterator[list[object]]:
        for start in range(0, CSV_MAX_ROWS, CSV_CHUNK):
            chunk = list(purchases[start : start + CSV_CHUNK])
            if not chunk:
                return
            briefs = contact_briefs(contact_ids=[p.contact_id for p in chunk])
            for p in chunk:
                brief = briefs.get(p.contact_id)
                yield [
                    p.order_no,
                    brief.label if brief else "",
                    timezone.localtime(p.placed_at).strftime("%Y-%m-%d %H:%M:%S"),
                    p.amount.quantize(CENTS),  # a Decimal, so a refund's minus sign is not escaped
                    names.get(p.channel_id, "") if p.channel_id else "",
                    origins.get(p.origin, p.origin),
                    _items_text(p.items),
                ]

    header = [
        _("Order no."),
        _("Customer"),
        _("Ordered at"),
        _("Amount (¥)"),
        _("Channel"),
        _("Recorded from"),
        _("Items"),
    ]
    return cast(HttpResponse, csv_streaming_response(f"orders-{now():%Y%m%d}.csv", header, rows()))


@require_GET
@actor_required(Permission.CONTACTS_READ)
def order_list(request: Request) -> HttpResponse:
    """Orders newest first with their totals and a chart; htmx asks for the next rows only."""
    filters, period = _filters(request.GET)
    if request.GET.get("format") == "csv":
        return _csv(request, filters)
    page = purchase_page(
        actor=request.actor, filters=filters, cursor=request.GET.get("cursor"), limit=PAGE_SIZE
    )
    context: dict[str, Any] = {"rows": _rows(page.items), "page": page}
    if is_htmx(request):
        return render(request, "tracking/orders/partials/rows.html", context)
    totals = purchase_totals(actor=request.actor, filters=filters)
    chart: dict[str, Any] | None = None
    series: list[Any] = []
    first = filters.placed_from or (timezone.localdate(totals.first_at) if totals.first_at else None)
    last = filters.placed_to or (timezone.localdate(totals.last_at) if totals.last_at else None)
    if totals.orders and first and last and first <= last:
        unit, series = purchase_series(actor=request.actor, filters=filters, first=first, last=last)
        chart = _chart(unit, series)
    context.update(
        {
            "totals": totals,
            "chart_data": chart,
            "series": list(reversed(series)),
            "period": period,
            "periods": [("", _("All time")), *((v, _("Last %(n)d days") % {"n": n}) for v, n in PERIODS)],
            "filters": filters,
            "channels": list(channel_list()),
            "chosen_channels": {str(c) for c in filters.channel_ids},
            "origins": PurchaseOrigin.choices,
            "may_import": request.actor.can(Permission.ORDERS_IMPORT),
        }
    )
    return render(request, "tracking/orders/list.html", context)


# The import ---------------------------------------------------------------------------------------------


class UploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Order file"),
        help_text=gettext_lazy(".xlsx or .csv (UTF-8 or GBK), up to 50 MB, with a header row."),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.csv,.txt"}),
    )


@require_http_methods(["GET", "POST"])
@actor_required(Permission.ORDERS_IMPORT)
def order_import(request: Request) -> HttpResponse:
    """Upload an order file (it is checked before anything is imported), and the recent imports."""
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = order_import_job_create(actor=request.actor, upload=upload, file_name=upload.name)
        except DomainError as exc:
            form_add_domain_errors(form, exc)
        else:
            return redirect("orders:import_detail", job_id=job.id)
    return render(
        request,
        "tracking/orders/import.html",
        {"form": form, "jobs": order_import_job_list(actor=request.actor)},
        status=400 if form.errors else 200,
    )


def _mapping_from(post: QueryDict, column_count: int) -> dict[str, str]:
    return {str(i): post.get(f"column_{i}", "") for i in range(column_count) if post.get(f"column_{i}")}


@require_http_methods(["GET", "POST"])
@actor_required(Permission.ORDERS_IMPORT)
def order_import_detail(request: Request, job_id: UUID) -> HttpResponse:
    """Before the start: match columns and preview; after: the progress (polled by htmx) and results."""
    actor = request.actor
    job = order_import_job_get(actor=actor, job_id=job_id)
    if job.confirmed_at is not None:
        context: dict[str, Any] = {"job": job, "has_report": bool(order_import_report_path(job))}
        template = (
            "tracking/orders/partials/progress.html"
            if is_htmx(request)
            else "tracking/orders/import_detail.html"
        )
        return render(request, template, context)
    errors: dict[str, str] = {}
    message = ""
    if request.method == "POST":
        try:
            order_import_job_configure(
                actor=actor, job=job, mapping=_mapping_from(request.POST, len(job.headers))
            )
            if request.POST.get("action") == "start":
                order_import_job_confirm(actor=actor, job=job)
                order_import_enqueue(job)
                return redirect("orders:import_detail", job_id=job.id)
        except DomainError as exc:
            errors = {str(k): str(v) for k, v in exc.fields.items()}
            message = domain_error_message(exc)
    try:
        preview = order_import_preview(actor=actor, job=job)
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
    return render(
        request,
        "tracking/orders/import_detail.html",
        {
            "job": job,
            "columns": columns,
            "targets": order_target_choices(),
            "preview": preview,
            "preview_errors": sum(1 for row in preview if row.error),
            "message": message,
        },
        status=400 if message else 200,
    )


@require_GET
@actor_required(Permission.ORDERS_IMPORT)
def order_import_report(request: Request, job_id: UUID) -> HttpResponse:
    job = order_import_job_get(actor=request.actor, job_id=job_id)
    path = order_import_report_path(job)
    if path is None or not path.exists():
        raise Http404(_("This import has no row report."))
    stem = job.file_name.rsplit(".", 1)[0]
    return _file_response(
        path.open("rb"),
        as_attachment=True,
        filename=f"{stem}-report.csv",
        content_type="text/csv; charset=utf-8",
    )
