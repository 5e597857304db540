"""RFM settings: quintiles or thresholds, the cut points in use, and the eight groups' sizes now."""

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from siyu.core.csv_download import csv_response
from siyu.core.errors import DomainError
from siyu.core.time import today
from siyu.core.web import ActorRequest, actor_required, form_add_domain_errors
from siyu.segments.forms import RfmSettingsForm
from siyu.segments.models import RfmMethod, RfmSettings
from siyu.segments.rfm import RfmCuts
from siyu.segments.selectors.rfm import cuts_of, rfm_settings
from siyu.segments.selectors.rfm_groups import RfmGroupSizes, rfm_group_sizes
from siyu.segments.services.rfm import rfm_refresh, rfm_settings_update
from siyu.tenancy.actor import Actor
from siyu.tenancy.roles import Permission

Request = ActorRequest[Actor]
FIELD_MAP = {"recency_cuts": "recency_1", "frequency_cuts": "frequency_1", "monetary_cuts": "monetary_1"}


def _initial(settings: RfmSettings | None) -> dict[str, Any]:
    initial: dict[str, Any] = {"method": settings.method if settings else RfmMethod.QUINTILES}
    if settings is not None:
        for name, values in (
            ("recency", settings.recency_cuts),
            ("frequency", settings.frequency_cuts),
            ("monetary", settings.monetary_cuts),
        ):
            for index, value in enumerate(values or [], start=1):
                initial[f"{name}_{index}"] = value
    return initial


def _score_bands(cuts: RfmCuts | None) -> list[dict[str, Any]]:
    """What each score means under these cut points, as sentences for the cut point table."""
    if cuts is None:
        return []
    r, f, m = cuts.recency, cuts.frequency, cuts.monetary
    return [
        {
            "score": 5,
            "recency": _("≤ %(days)s days") % {"days": r[0]},
            "frequency": _("≥ %(count)s orders") % {"count": f[3]},
            "monetary": f"≥ ¥{m[3]}",
        },
        {
            "score": 4,
            "recency": _("≤ %(days)s days") % {"days": r[1]},
            "frequency": _("≥ %(count)s orders") % {"count": f[2]},
            "monetary": f"≥ ¥{m[2]}",
        },
        {
            "score": 3,
            "recency": _("≤ %(days)s days") % {"days": r[2]},
            "frequency": _("≥ %(count)s orders") % {"count": f[1]},
            "monetary": f"≥ ¥{m[1]}",
        },
        {
            "score": 2,
            "recency": _("≤ %(days)s days") % {"days": r[3]},
            "frequency": _("≥ %(count)s orders") % {"count": f[0]},
            "monetary": f"≥ ¥{m[0]}",
        },
        {
            "score": 1,
            "recency": _("> %(days)s days") % {"days": r[3]},
            "frequency": _("< %(count)s orders") % {"count": f[0]},
            "monetary": f"< ¥{m[0]}",
        },
    ]


def _share(count: int, total: int) -> float:
    return round(100 * count / total, 1) if total else 0.0


def _groups_csv(sizes: RfmGroupSizes | None) -> HttpResponse:
    header = [_("RFM group"), _("Recency"), _("Frequency"), _("Monetary"), _("Customers"), _("Share (%)")]
    high, low = _("high"), _("low")
    rows = [
        [
            group.label,
            high if group.recency_high else low,
            high if group.frequency_high else low,
            high if group.monetary_high else low,
            group.count,
            _share(group.count, sizes.customers if sizes else 0),
        ]
        for group in (sizes.groups if sizes else [])
    ]
    return csv_response(f"rfm-groups-{today():%Y%m%d}.csv", header, rows)


@require_http_methods(["GET", "POST"])
@actor_required(Permission.SEGMENTS_READ)
def rfm_view(request: Request) -> HttpResponse:
    settings = rfm_settings()
    cuts = cuts_of(settings)
    if request.method == "GET" and request.GET.get("format") == "csv":
        return _groups_csv(rfm_group_sizes(cuts=cuts))
    can_manage = request.actor.can(Permission.SEGMENTS_MANAGE)
    if request.method == "POST":
        request.actor.require(Permission.SEGMENTS_MANAGE)
        form = RfmSettingsForm(request.POST)
        if form.is_valid():
            try:
                rfm_settings_update(
                    actor=request.actor,
                    method=form.cleaned_data["method"],
                    recency_cuts=form.cuts("recency"),
                    frequency_cuts=form.cuts("frequency"),
                    monetary_cuts=form.cuts("monetary"),
                )
            except DomainError as exc:
                form_add_domain_errors(form, exc, field_map=FIELD_MAP)
            else:
                messages.success(request, _("Saved the RFM scoring."))
                return redirect("segment_settings:rfm")
    else:
        form = RfmSettingsForm(initial=_initial(settings))
    sizes = rfm_group_sizes(cuts=cuts)
    groups = sizes.groups if sizes else []
    customers = sizes.customers if sizes else 0
    rows = [{"group": group, "share": _share(group.count, customers)} for group in groups]
    context = {
        "form": form,
        "settings": settings,
        "cuts": cuts,
        "bands": _score_bands(cuts),
        "sizes": sizes,
        "rows": rows,
        "can_manage": can_manage,
        "chart_data": {
            "label": _("Customers"),
            "groups": [
                {"name": group.label, "value": group.count} for group in (sizes.groups if sizes else [])
            ],
        },
        "cut_rows": [
            (label, step, [form[f"{name}_{index}"] for index in range(1, 5)])
            for name, label, step in (
                ("recency", _("Recency: days since the last order (at most)"), "1"),
                ("frequency", _("Frequency: orders (at least)"), "1"),
                ("monetary", _("Monetary: total spent in ¥ (at least)"), "0.01"),
            )
        ],
    }
    return render(request, "segments/settings/rfm.html", context)


@require_POST
@actor_required(Permission.SEGMENTS_MANAGE)
def rfm_refresh_view(request: Request) -> HttpResponse:
    settings = rfm_refresh()
    if settings.method != RfmMethod.QUINTILES:
        messages.info(request, _("This workspace uses thresholds; they stay as you set them."))
    elif settings.computed_at is None or not settings.recency_cuts:
        messages.info(request, _("No customer has ordered yet, so there are no quintiles to compute."))
    else:
        messages.success(request, _("Recomputed the quintiles from this workspace's customers."))
    return redirect("segment_settings:rfm")
