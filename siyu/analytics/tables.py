"""The reports as tables (header + rows, for CSV export) and as chart data (for ECharts, via json_script).

Both are built from the same report objects the pages show, so a chart, its table and its CSV always
hold the same figures. CSV cells are plain numbers (percentages with one decimal, money with two)
and empty where a figure has no value (nothing to divide by), never 0.
"""

from collections.abc import Iterable, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.http import HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from siyu.analytics.periods import Period
from siyu.analytics.selectors import (
    ChannelQuality,
    ChannelReport,
    CohortReport,
    ContentOutcome,
    FunnelReport,
    Overlap,
    SegmentReport,
    SpendMonth,
)
from siyu.analytics.stats import Rate
from siyu.contacts.models import STAGE_ORDER, Channel
from siyu.contacts.reporting import RETENTION_DAYS
from siyu.core import csv_download

Table = tuple[list[str], list[list[Any]]]

SPEND_SOURCES = {
    "entered": gettext_lazy("Entered by hand"),
    "unit_cost": gettext_lazy("From unit cost"),
    "mixed": gettext_lazy("Entered + unit cost"),
    "none": gettext_lazy("Not known"),
}


def percent(rate: Rate) -> float | None:
    return rate.percent


def money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def days(value: timedelta | None) -> float | None:
    """A duration in days, to one decimal (None stays None)."""
    return None if value is None else round(value.total_seconds() / 86400, 1)


def csv_response(
    name: str, period: Period, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> HttpResponse:
    """A UTF-8 CSV with a byte-order mark (so Excel reads Chinese), named after the report and period."""
    return csv_download.csv_response(f"{name}-{period.start:%Y%m%d}-{period.end:%Y%m%d}.csv", header, rows)


# Channel quality --------------------------------------------------------------------------------------


def spend_source_label(row: ChannelQuality) -> str:
    return str(SPEND_SOURCES[row.spend.source])


def channel_table(report: ChannelReport) -> Table:
    header = [_("Channel"), _("New contacts"), _("Customers"), _("Conversion rate (%)")]
    for n in RETENTION_DAYS:
        header += [
            _("Active in the %(days)d-day window") % {"days": n},
            _("Acquired at least %(days)d days ago") % {"days": n + 1},
            _("%(days)d-day retention (%%)") % {"days": n},
        ]
    header += [
        _("Buyers"),
        _("Repeat buyers"),
        _("Repurchase rate (%)"),
        _("Orders"),
        _("Revenue (¥)"),
        _("Average order value (¥)"),
        _("LTV (¥)"),
        _("Spend (¥)"),
        _("Spend from"),
        _("Months without spend"),
        _("CAC (¥)"),
        _("Cost per new contact (¥)"),
        _("Cost per order (¥)"),
        _("ROI (LTV / CAC)"),
    ]
    rows = []
    for row in [*report.rows, report.total]:
        line: list[Any] = [row.name, row.new_contacts, row.customers, percent(row.conversion)]
        for n in RETENTION_DAYS:
            rate = row.retention.get(n, Rate(0, 0))
            line += [rate.count, rate.base, percent(rate)]
        line += [
            row.buyers,
            row.repeat_buyers,
            percent(row.repurchase),
            row.orders,
            money(row.revenue),
            money(row.aov),
            money(row.ltv),
            money(row.spend.amount),
            spend_source_label(row),
            " ".join(f"{m:%Y-%m}" for m in row.spend.missing_months),
            money(row.cac),
            money(row.cost_per_contact),
            money(row.cost_per_order),
            money(row.roi),
        ]
        rows.append(line)
    return header, rows


def _number(value: Decimal | float | int | None) -> float | None:
    return None if value is None else float(value)


def channel_chart(report: ChannelReport) -> dict[str, Any]:
    rows = report.rows
    metrics = [
        ("new_contacts", _("New contacts"), "count", [r.new_contacts for r in rows]),
        ("conversion", _("Conversion rate"), "percent", [r.conversion.percent for r in rows]),
        *[
            (
                f"retention_{n}",
                _("%(days)d-day retention") % {"days": n},
                "percent",
                [r.retention[n].percent for r in rows],
            )
            for n in RETENTION_DAYS
        ],
        ("repurchase", _("Repurchase rate"), "percent", [r.repurchase.percent for r in rows]),
        ("aov", _("Average order value"), "money", [_number(r.aov) for r in rows]),
        ("revenue", _("Revenue"), "money", [_number(r.revenue) for r in rows]),
        ("ltv", _("LTV"), "money", [_number(r.ltv) for r in rows]),
        ("cac", _("CAC"), "money", [_number(r.cac) for r in rows]),
        ("cost_per_order", _("Cost per order"), "money", [_number(r.cost_per_order) for r in rows]),
        ("roi", _("ROI (LTV / CAC)"), "ratio", [_number(r.roi) for r in rows]),
    ]
    months = report.months
    return {
        "kind": "channels",
        "channels": [r.name for r in rows],
        "metrics": [{"key": k, "label": label, "format": f, "values": v} for k, label, f, v in metrics],
        "months": [f"{m:%Y-%m}" for m in months],
        "monthly": [
            {"name": r.name, "values": [report.new_by_month.get(r.channel_id, {}).get(m, 0) for m in months]}
            for r in rows
        ],
        "labels": {"new_contacts": _("New contacts"), "none": _("No value")},
    }


# Cohorts ----------------------------------------------------------------------------------------------


def cohort_column_label(report: CohortReport, k: int) -> str:
    if report.grain == "month":
        return _("Month %(n)d") % {"n": k}
    return _("Week %(n)d") % {"n": k}


def cohort_row_label(report: CohortReport, start: Any) -> str:
    if report.grain == "month":
        return f"{start:%Y-%m}"
    return f"{start:%Y-%m-%d}"


def cohort_table(report: CohortReport) -> Table:
    header = [_("Cohort"), _("Acquired")]
    for k in range(report.columns):
        label = cohort_column_label(report, k)
        header += [
            _("%(period)s active") % {"period": label},
            _("%(period)s base") % {"period": label},
            _("%(period)s retention (%%)") % {"period": label},
        ]
    rows = []
    for row in report.rows:
        line: list[Any] = [cohort_row_label(report, row.start), row.size]
        for cell in row.cells:
            line += [cell.count, cell.base, cell.percent]
        rows.append(line)
    return header, rows


def heat_scale(report: CohortReport) -> int:
    """The top of the colour scale: the smallest of 10/25/50/100 % at or above the highest cell."""
    top = max((cell.percent or 0.0 for row in report.rows for cell in row.cells), default=0.0)
    return next(step for step in (10, 25, 50, 100) if top <= step)


def cohort_chart(report: CohortReport) -> dict[str, Any]:
    return {
        "kind": "cohorts",
        "columns": [cohort_column_label(report, k) for k in range(report.columns)],
        "cohorts": [cohort_row_label(report, row.start) for row in report.rows],
        "sizes": [row.size for row in report.rows],
        "cells": [
            [k, y, cell.percent, cell.count, cell.base]
            for y, row in enumerate(report.rows)
            for k, cell in enumerate(row.cells)
            if cell.base
        ],
        "scale_max": heat_scale(report),
        "labels": {"retention": _("Retention")},
    }


# Funnel -----------------------------------------------------------------------------------------------


def funnel_table(report: FunnelReport) -> Table:
    header = [
        _("Channel"),
        _("Stage"),
        _("Reached"),
        _("Conversion from the previous stage (%)"),
        _("Conversion from acquisition (%)"),
        _("Median days from the previous stage"),
    ]
    rows = []
    for row in [report.total, *report.rows]:
        for step in row.steps:
            first = step.stage == STAGE_ORDER[0]
            rows.append(
                [
                    row.name,
                    step.stage.label,
                    step.reached,
                    None if first else step.from_previous.percent,
                    step.from_start.percent,
                    None if first else days(step.median_time),
                ]
            )
    return header, rows


def funnel_chart(report: FunnelReport) -> dict[str, Any]:
    return {
        "kind": "funnel",
        "stages": [str(stage.label) for stage in STAGE_ORDER],
        "stage_values": [stage.value for stage in STAGE_ORDER],
        "total": [step.reached for step in report.total.steps],
        "channels": [
            {"name": row.name, "values": [step.from_start.percent for step in row.steps]}
            for row in report.rows
        ],
        "labels": {"reached": _("Reached"), "from_start": _("Conversion from acquisition (%)")},
    }


# Segments ---------------------------------------------------------------------------------------------


def segment_table(report: SegmentReport) -> Table:
    header = [_("Day"), _("Size"), _("Entered"), _("Exited")]
    rows: list[list[Any]] = [[f"{d.day:%Y-%m-%d}", d.size, d.entered, d.exited] for d in report.days]
    return header, rows


def overlap_table(overlap: Overlap) -> Table:
    header = [_("Segment"), _("Size"), _("In both"), _("Share also in the other (%)")]
    rows: list[list[Any]] = [
        [overlap.first.name, overlap.first_size, overlap.both, overlap.share_of_first.percent],
        [overlap.second.name, overlap.second_size, overlap.both, overlap.share_of_second.percent],
        [_("In either"), overlap.either, overlap.both, overlap.jaccard.percent],
    ]
    return header, rows


def segment_chart(report: SegmentReport, overlap: Overlap | None) -> dict[str, Any]:
    chart: dict[str, Any] = {
        "kind": "segment",
        "days": [f"{d.day:%m-%d}" for d in report.days],
        "sizes": [d.size for d in report.days],
        "entered": [d.entered for d in report.days],
        "exited": [-d.exited for d in report.days],
        "labels": {"size": _("Size"), "entered": _("Entered"), "exited": _("Exited")},
    }
    if overlap is not None:
        chart["overlap"] = {
            "names": [overlap.first.name, overlap.second.name],
            "values": [overlap.only_first, overlap.both, overlap.only_second],
            "labels": [
                _("Only in %(segment)s") % {"segment": overlap.first.name},
                _("In both"),
                _("Only in %(segment)s") % {"segment": overlap.second.name},
            ],
        }
    return chart


# Content ----------------------------------------------------------------------------------------------


def content_table(outcomes: list[ContentOutcome], window: int | None) -> Table:
    later = _("within %(days)d days") % {"days": window} if window else _("any time later")
    header = [
        _("Title"),
        _("Type"),
        _("Viewers"),
        _("Viewers who ordered later (%(when)s)") % {"when": later},
        _("Share of viewers who ordered (%)"),
        _("Orders after viewing"),
        _("Revenue after viewing (¥)"),
        _("Revenue per viewer (¥)"),
    ]
    rows = [
        [
            o.content.title,
            o.content.get_kind_display(),
            o.viewers,
            o.buyers,
            o.buyer_rate.percent,
            o.orders,
            money(o.revenue),
            money(o.revenue_per_viewer),
        ]
        for o in outcomes
    ]
    return header, rows


def content_totals(outcomes: list[ContentOutcome]) -> dict[str, Any]:
    return {
        "pieces": sum(1 for o in outcomes if o.viewers),
        "viewers": sum(o.viewers for o in outcomes),
        "buyers": sum(o.buyers for o in outcomes),
        "revenue": sum((o.revenue for o in outcomes), Decimal(0)),
    }


def content_chart(outcomes: list[ContentOutcome]) -> dict[str, Any]:
    top = [o for o in outcomes if o.viewers][:10]
    return {
        "kind": "content",
        "titles": [o.content.title for o in top],
        "viewers": [o.viewers for o in top],
        "buyers": [o.buyers for o in top],
        "labels": {"viewers": _("Viewers"), "buyers": _("Viewers who ordered later")},
    }


# Spend ------------------------------------------------------------------------------------------------


def spend_chart(channels: list[Channel], months: list[SpendMonth]) -> dict[str, Any]:
    """Spend per month (oldest first), one stacked series per channel; derived months included."""
    ordered = list(reversed(months))
    return {
        "kind": "spend",
        "months": [f"{m.month:%Y-%m}" for m in ordered],
        "series": [
            {"name": channel.name, "values": [_number(m.cells[i].amount) for m in ordered]}
            for i, channel in enumerate(channels)
        ],
    }
