"""Analytics pages: channel quality, cohort retention, the lifecycle funnel, segments, content joined to
orders, and spend entry. Every chart has its table on the page and a CSV export of the same figures.

Views are thin: they read the filters from the query string, call one selector and hand its result
to the template, the chart data (json_script) and the CSV writer (siyu/analytics/tables.py).
"""

from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from siyu.analytics import tables
from siyu.analytics.filters import channel_choice_parse, window_parse
from siyu.analytics.forms import SpendForm
from siyu.analytics.periods import (
    DEFAULT_PRESET,
    PRESETS,
    Period,
    month_parse,
    months_back,
    period_last,
    period_parse,
)
from siyu.analytics.selectors import (
    ATTRIBUTION_WINDOWS,
    ChannelChoice,
    Grain,
    channel_quality,
    channel_spend_get,
    cohort_retention,
    content_to_orders,
    lifecycle_funnel,
    segment_sizes,
    segments_overlap,
    spend_overview,
)
from siyu.analytics.services import SPEND_PERMISSION, channel_spend_delete, channel_spend_set
from siyu.analytics.templatetags.analytics_format import yuan
from siyu.contacts.models import Channel
from siyu.contacts.reporting import RETENTION_DAYS, report_channels
from siyu.core.errors import DomainError, NotFound, ValidationError
from siyu.core.ids import uuid_or_none
from siyu.core.time import today
from siyu.core.web import ActorRequest, actor_required, form_add_domain_errors
from siyu.segments.models import Segment
from siyu.segments.selectors.stats import segment_for_stats, segments_for_stats
from siyu.tenancy.actor import Actor
from siyu.tenancy.roles import Permission

Request = ActorRequest[Actor]
SPEND_MONTHS = 12


# Filters shared by the pages ------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    period: Period
    choice: ChannelChoice
    picked: frozenset[str]  # the channel ids (and "none") as sent, to re-check the boxes
    error: str = ""


def _filters(request: Request) -> Filters:
    """The period (preset or two dates) and the channels to compare (`channel` repeated, "none" for
    contacts without one). A bad period or channel is reported on the page and the report drawn for
    the default period or every channel."""
    errors = []
    try:
        period = period_parse(
            preset=request.GET.get("preset"), start=request.GET.get("start"), end=request.GET.get("end")
        )
    except ValidationError as exc:
        period = period_last(DEFAULT_PRESET)
        errors.append(exc.message)
    picked = request.GET.getlist("channel")
    try:
        choice = channel_choice_parse(picked)
    except ValidationError as exc:
        choice = ChannelChoice()
        errors.append(exc.message)
    return Filters(
        period=period,
        choice=choice,
        picked=frozenset(value for value in picked if value),
        error=" ".join(errors),
    )


def _context(request: Request, filters: Filters, **extra: Any) -> dict[str, Any]:
    channels = list(report_channels())
    return {
        "filters": filters,
        "period": filters.period,
        "presets": PRESETS,
        "channels": channels,
        "channel_picked": filters.picked,
        "channels_label": _channels_label(filters, channels),
        "query": request.GET.urlencode(),
        "may_enter_spend": request.actor.can(SPEND_PERMISSION),
        **extra,
    }


def _channels_label(filters: Filters, channels: list[Channel]) -> str:
    if filters.choice.is_all:
        return _("All channels")
    names = [c.name for c in channels if str(c.id) in filters.picked]
    if filters.choice.include_no_channel:
        names.append(_("No channel"))
    if not names:
        return _("No channel chosen")
    return names[0] if len(names) == 1 else _("%(count)d channels") % {"count": len(names)}


def _render(request: Request, template: str, context: dict[str, Any]) -> HttpResponse:
    if context["filters"].error:
        context.setdefault("error", context["filters"].error)
    return render(request, template, context, status=422 if context.get("error") else 200)


# Channel quality ----------------------------------------------------------------------------------------


@require_GET
@actor_required(Permission.ANALYTICS_READ)
def channels(request: Request) -> HttpResponse:
    filters = _filters(request)
    report = channel_quality(actor=request.actor, period=filters.period, choice=filters.choice)
    return _render(
        request,
        "analytics/channels.html",
        _context(
            request,
            filters,
            report=report,
            retention_days=RETENTION_DAYS,
            chart_data=tables.channel_chart(report),
            section="channels",
        ),
    )


@require_GET
@actor_required(Permission.ANALYTICS_READ)
def channels_csv(request: Request) -> HttpResponse:
    filters = _filters(request)
    report = channel_quality(actor=request.actor, period=filters.period, choice=filters.choice)
    return tables.csv_response("channel-quality", filters.period, *tables.channel_table(report))


# Cohorts ------------------------------------------------------------------------------------------------


def _grain(request: Request) -> Grain:
    return "month" if request.GET.get("grain") == "month" else "week"


def _segment(request: Request, name: str = "segment") -> Segment | None:
    """The segment chosen in `?segment=<id>`; 404 for an id of another workspace or a deleted one."""
    value = request.GET.get(name, "")
    return segment_for_stats(actor=request.actor, segment_id=value) if value else None


def _cohort_report(request: Request) -> tuple[Filters, Any]:
    filters = _filters(request)
    report = cohort_retention(
        actor=request.actor,
        period=filters.period,
        grain=_grain(request),
        choice=filters.choice,
        segment=_segment(request),
    )
    return filters, report


@require_GET
@actor_required(Permission.ANALYTICS_READ)
def cohorts(request: Request) -> HttpResponse:
    filters, report = _cohort_report(request)
    return _render(
        request,
        "analytics/cohorts.html",
        _context(
            request,
            filters,
            report=report,
            segments=list(segments_for_stats(actor=request.actor)),
            chart_data=tables.cohort_chart(report),
            section="cohorts",
        ),
    )


@require_GET
@actor_required(Permission.ANALYTICS_READ)
def cohorts_csv(request: Request) -> HttpResponse:
    filters, report = _cohort_report(request)
    return tables.csv_response(f"cohorts-{report.grain}", filters.period, *tables.cohort_table(report))


# Funnel -------------------------------------------------------------------------------------------------


@require_GET
@actor_required(Permission.ANALYTICS_READ)
def funnel(request: Request) -> HttpResponse:
    filters = _filters(request)
    report = lifecycle_funnel(actor=request.actor, period=filters.period, choice=filters.choice)
    return _render(
        request,
        "analytics/funnel.html",
        _context(request, filters, report=report, chart_data=tables.funnel_chart(report), section="funnel"),
    )


@require_GET
@actor_required(Permission.ANALYTICS_READ)
def funnel_csv(request: Request) -> HttpResponse:
    filters = _filters(request)
    report = lifecycle_funnel(actor=request.actor, period=filters.period, choice=filters.choice)
    return tables.csv_response("lifecycle-funnel", filters.period, *tables.funnel_table(report))


# Segments -----------------------------------------------------------------------------------------------


def _segment_reports(request: Request, filters: Filters) -> dict[str, Any]:
    choices = list(segments_for_stats(actor=request.actor))
    first = _segment(request) or (choices[0] if choices else None)
    second = _segment(request, "compare")
    report = segment_sizes(actor=request.actor, segment=first, period=filters.period) if first else None
    overlap = (
        segments_overlap(actor=request.actor, first=first, second=second)
        if first is not None and second is not None
        else None
    )
    return {"segments": choices, "segment": first, "compare": second, "report": report, "overlap": overlap}


@require_GET
@actor_required(Permission.ANALYTICS_READ)
def segments(request: Request) -> HttpResponse:
    filters = _filters(request)
    found = _segment_reports(request, filters)
    chart = tables.segment_chart(found["report"], found["overlap"]) if found["report"] else {}
    return _render(
        request,
        "analytics/segments.html",
        _context(request, filters, chart_data=chart, section="segments", **found),
    )


@require_GET
@actor_required(Permission.ANALYTICS_READ)
def segments_csv(request: Request) -> HttpResponse:
    """The sizes per day, or with ?table=overlap the overlap of the two segments chosen."""
    filters = _filters(request)
    found = _segment_reports(request, filters)
    if found["report"] is None:
        raise NotFound(_("There is no segment yet."))
    if request.GET.get("table") == "overlap":
        if found["overlap"] is None:
            raise NotFound(_("Choose a second segment to compare."))
        return tables.csv_response("segment-overlap", filters.period, *tables.overlap_table(found["overlap"]))
    return tables.csv_response("segment-sizes", filters.period, *tables.segment_table(found["report"]))


# Content ------------------------------------------------------------------------------------------------


def _content_report(request: Request) -> tuple[Filters, int | None, Any]:
    """The content report; a window not on offer is reported on the page and any time later shown."""
    filters = _filters(request)
    try:
        window = window_parse(request.GET.get("window"))
    except ValidationError as exc:
        window = None
        filters = replace(filters, error=" ".join(filter(None, [filters.error, exc.message])))
    outcomes = content_to_orders(
        actor=request.actor,
        period=filters.period,
        window_days=window,
        published_only=not request.actor.can(Permission.CONTENT_MANAGE),
    )
    return filters, window, outcomes


@require_GET
@actor_required(Permission.ANALYTICS_READ)
def content(request: Request) -> HttpResponse:
    filters, window, outcomes = _content_report(request)
    return _render(
        request,
        "analytics/content.html",
        _context(
            request,
            filters,
            outcomes=outcomes,
            window=window,
            windows=ATTRIBUTION_WINDOWS,
            totals=tables.content_totals(outcomes),
            chart_data=tables.content_chart(outcomes),
            section="content",
        ),
    )


@require_GET
@actor_required(Permission.ANALYTICS_READ)
def content_csv(request: Request) -> HttpResponse:
    filters, window, outcomes = _content_report(request)
    return tables.csv_response("content-orders", filters.period, *tables.content_table(outcomes, window))


# Spend --------------------------------------------------------------------------------------------------


def _spend_initial(request: Request, channels: list[Channel]) -> dict[str, Any]:
    """The form's starting values: the cell clicked in the table (?channel=&month=), else this month."""
    wanted = uuid_or_none(request.GET.get("channel"))
    initial: dict[str, Any] = {"month": month_parse(request.GET.get("month", "")) or today().replace(day=1)}
    if any(c.id == wanted for c in channels):
        initial["channel"] = wanted
    return initial


def _spend_render(request: Request, *, form: SpendForm | None = None, status: int = 200) -> HttpResponse:
    channels, months = spend_overview(actor=request.actor, months=months_back(SPEND_MONTHS))
    choosable = report_channels()
    editing = None
    if form is None:
        initial = _spend_initial(request, channels)
        for month in months:
            for cell in month.cells:
                if (
                    cell.entry
                    and cell.channel.id == initial.get("channel")
                    and cell.month == initial["month"]
                ):
                    editing = cell.entry
        if editing is not None:
            initial.update({"amount": editing.amount, "note": editing.note})
        form = SpendForm(initial=initial, channels=choosable)
    context = {
        "channels": channels,
        "months": months,
        "form": form,
        "editing": editing,
        "may_enter_spend": request.actor.can(SPEND_PERMISSION),
        "section": "spend",
        "chart_data": tables.spend_chart(channels, months),
    }
    return render(request, "analytics/spend.html", context, status=status)


@require_http_methods(["GET", "POST"])
@actor_required(Permission.ANALYTICS_READ)
def spend(request: Request) -> HttpResponse:
    if request.method != "POST":
        return _spend_render(request)
    request.actor.require(
        SPEND_PERMISSION
    )  # before the form is checked: no field errors for those who may not
    form = SpendForm(request.POST, channels=report_channels())
    if form.is_valid():
        try:
            entry = channel_spend_set(
                actor=request.actor,
                channel=form.cleaned_data["channel"],
                month=form.cleaned_data["month"],
                amount=form.cleaned_data["amount"],
                note=form.cleaned_data["note"],
            )
        except DomainError as exc:
            form_add_domain_errors(form, exc)
        else:
            messages.success(
                request,
                _("Spend for %(channel)s in %(month)s saved: %(amount)s.")
                % {
                    "channel": entry.channel.name,
                    "month": f"{entry.month:%Y-%m}",
                    "amount": yuan(entry.amount),
                },
            )
            return HttpResponseRedirect(reverse("analytics:spend"))
    return _spend_render(request, form=form, status=422)


@require_POST
@actor_required(SPEND_PERMISSION)
def spend_delete(request: Request, spend_id: UUID) -> HttpResponse:
    entry = channel_spend_get(actor=request.actor, spend_id=spend_id)
    name, month = entry.channel.name, entry.month
    channel_spend_delete(actor=request.actor, spend=entry)
    messages.success(
        request,
        _("The spend entered for %(channel)s in %(month)s was removed; the month uses the unit cost again.")
        % {"channel": name, "month": f"{month:%Y-%m}"},
    )
    return HttpResponseRedirect(
        f"{reverse('analytics:spend')}?{urlencode({'channel': str(entry.channel_id)})}"
    )
