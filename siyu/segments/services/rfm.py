"""RFM cut points: quintiles of the workspace's customers (refreshed daily) or thresholds set by hand.

When the cut points change, segments that use RFM groups are rebuilt.
"""

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _

from siyu.core.errors import ValidationError
from siyu.core.time import now as clock_now
from siyu.segments.models import RfmMethod, RfmSettings
from siyu.segments.rfm import recency_days
from siyu.segments.services.evaluation import segment_build, segments_affected
from siyu.tenancy.actor import Actor
from siyu.tenancy.roles import Permission
from siyu.tracking.selectors.events import activity_rows

QUINTILES = (0.2, 0.4, 0.6, 0.8)


def _ascending(values: Sequence[object], *, name: str, kind: type) -> list[object]:
    if len(values) != 4:
        raise ValidationError(_("Give four cut points."), fields={name: _("Give four cut points.")})
    try:
        parsed = [kind(str(value)) for value in values]
    except (ArithmeticError, ValueError) as error:
        raise ValidationError(
            _("Cut points are numbers."), fields={name: _("Cut points are numbers.")}
        ) from error
    if any(value < 0 for value in parsed) or parsed != sorted(parsed):
        raise ValidationError(
            _("Cut points go up from left to right and are not negative."),
            fields={name: _("Cut points go up from left to right and are not negative.")},
        )
    return parsed


def quintile_cuts(*, at: datetime) -> tuple[list[int], list[int], list[str]] | None:
    """Cut points at the 20/40/60/80th percentiles of the workspace's customers, or None with none."""
    customers = activity_rows().filter(orders__gt=0, last_order_at__isnull=False)
    total = customers.count()
    if total == 0:
        return None
    positions = [min(total - 1, int(total * share)) for share in QUINTILES]

    def at_positions(column: str) -> list[object]:
        ordered = customers.order_by(column).values_list(column.lstrip("-"), flat=True)
        return [ordered[position] for position in positions]

    recency = [recency_days(last_order_at=moment, now=at) for moment in at_positions("-last_order_at")]  # type: ignore[arg-type]
    frequency = [int(value) for value in at_positions("orders")]  # type: ignore[call-overload]
    monetary = [str(Decimal(str(value))) for value in at_positions("revenue")]
    return recency, frequency, monetary


def _rebuild_rfm_segments(*, at: datetime) -> None:
    for segment in segments_affected(keys=["rfm"]):
        segment_build(segment=segment, at=at)


@transaction.atomic
def rfm_refresh(*, at: datetime | None = None) -> RfmSettings:
    """Recompute quintile cut points (workspaces on thresholds keep theirs); rebuild RFM segments if they moved."""
    moment = at or clock_now()
    settings, _created = RfmSettings.objects.get_or_create()
    if settings.method == RfmMethod.QUINTILES:
        cuts = quintile_cuts(at=moment)
        if cuts is not None:
            recency, frequency, monetary = cuts
            changed = (recency, frequency, monetary) != (
                settings.recency_cuts,
                settings.frequency_cuts,
                [str(Decimal(str(v))) for v in settings.monetary_cuts],
            )
            settings.recency_cuts, settings.frequency_cuts, settings.monetary_cuts = (
                recency,
                frequency,
                monetary,
            )
            settings.computed_at = moment
            settings.save()
            if changed:
                _rebuild_rfm_segments(at=moment)
    return settings


@transaction.atomic
def rfm_settings_update(
    *,
    actor: Actor,
    method: str,
    recency_cuts: Sequence[object] = (),
    frequency_cuts: Sequence[object] = (),
    monetary_cuts: Sequence[object] = (),
) -> RfmSettings:
    actor.require(Permission.SEGMENTS_MANAGE)
    if method not in RfmMethod.values:
        raise ValidationError(
            _("Choose quintiles or thresholds."), fields={"method": _("Unknown scoring method.")}
        )
    settings, _created = RfmSettings.objects.get_or_create()
    settings.method = method
    if method == RfmMethod.THRESHOLDS:
        settings.recency_cuts = _ascending(recency_cuts, name="recency_cuts", kind=int)
        settings.frequency_cuts = _ascending(frequency_cuts, name="frequency_cuts", kind=int)
        settings.monetary_cuts = [
            str(v) for v in _ascending(monetary_cuts, name="monetary_cuts", kind=Decimal)
        ]
        settings.computed_at = clock_now()
        settings.save()
        _rebuild_rfm_segments(at=settings.computed_at)
        return settings
    settings.save()
    return rfm_refresh()
