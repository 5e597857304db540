"""The periodic work that keeps every workspace's segments honest: stale builds reconciled, RFM refreshed."""

from datetime import datetime, timedelta

from django.db.models import Q

from siyu.core.tenancy import workspace_scope
from siyu.core.time import now as clock_now
from siyu.segments.models import BuildKind, RfmMethod, Segment, SegmentBuild, SegmentKind
from siyu.segments.selectors.rfm import rfm_settings
from siyu.segments.services.evaluation import in_dependency_order, segment_build
from siyu.segments.services.rfm import rfm_refresh
from siyu.tenancy.selectors import workspace_ids

RECONCILE_EVERY = timedelta(hours=24)
RFM_EVERY = timedelta(hours=24)


def segments_maintain(*, at: datetime | None = None) -> list[SegmentBuild]:
    """Build segments that never were, reconcile those not fully built for a day, refresh quintiles."""
    moment = at or clock_now()
    builds: list[SegmentBuild] = []
    for workspace_id in workspace_ids():
        with workspace_scope(workspace_id):
            settings = rfm_settings()
            # No settings yet means quintiles, the default the settings page and the API show.
            if settings is None or (
                settings.method == RfmMethod.QUINTILES
                and (settings.computed_at is None or settings.computed_at <= moment - RFM_EVERY)
            ):
                rfm_refresh(at=moment)
            due = Segment.objects.filter(kind=SegmentKind.DYNAMIC).filter(
                Q(is_ready=False)
                | Q(last_built_at__isnull=True)
                | Q(last_built_at__lte=moment - RECONCILE_EVERY)
            )
            for segment in in_dependency_order(list(due)):
                kind = BuildKind.RECONCILE if segment.is_ready else BuildKind.FULL
                build = segment_build(segment=segment, kind=kind, at=moment)
                if build is not None:
                    builds.append(build)
    return builds
