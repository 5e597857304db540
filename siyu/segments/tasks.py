"""Background entry points; each calls a service inside the workspace it names."""

from uuid import UUID

from django_tasks import task

from siyu.core.tenancy import workspace_scope
from siyu.segments.models import Segment
from siyu.segments.services.evaluation import segment_build


@task()
def segment_build_task(*, workspace_id: str, segment_id: str, revision: int) -> None:
    with workspace_scope(UUID(workspace_id)):
        segment = Segment.objects.filter(id=segment_id).first()
        if segment is None or segment.revision != revision:
            return  # deleted, or changed again (a newer build is queued)
        segment_build(segment=segment)
