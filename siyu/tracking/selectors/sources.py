"""Reads of sources and their ingestion warnings."""

from dataclasses import dataclass
from uuid import UUID

from django.db.models import Count, QuerySet
from django.utils.translation import gettext as _

from siyu.core.errors import NotFound
from siyu.tracking.models import IngestWarning, Source, WarningCode


def source_list() -> QuerySet[Source]:
    """The active workspace's sources, by name, with their channel."""
    return Source.objects.select_related("channel")


def source_get(*, source_id: UUID | str) -> Source:
    """One source of the active workspace; NotFound for another workspace's id or a malformed one."""
    try:
        wanted = source_id if isinstance(source_id, UUID) else UUID(str(source_id))
    except ValueError:
        raise NotFound(_("Source not found.")) from None
    found = source_list().filter(id=wanted).first()
    if found is None:
        raise NotFound(_("Source not found."))
    return found


def source_for_write_key(write_key: str) -> Source | None:
    """The active source holding this write key, in whatever workspace: the ingestion gateway's lookup
    (which keeps answers for a few seconds per process, `siyu.tracking.ingest.keys`)."""
    if not write_key:
        return None
    return Source.all_workspaces.filter(write_key=write_key, is_active=True).first()


def warning_list(*, source: Source, limit: int = 50) -> list[IngestWarning]:
    """A source's most recent ingestion warnings, newest first."""
    return list(IngestWarning.objects.filter(source=source).order_by("-created_at")[:limit])


def warning_counts_by_source() -> dict[UUID, int]:
    """How many ingestion warnings each source of the active workspace has recorded."""
    rows = (
        IngestWarning.objects.filter(source__isnull=False)
        .values_list("source_id")
        .annotate(count=Count("id"))
        .order_by()
    )
    return dict(rows)


@dataclass(frozen=True)
class WarningCount:
    code: str
    label: str
    count: int


def warning_counts_by_code(*, source: Source) -> list[WarningCount]:
    """A source's warnings per code, most frequent first."""
    rows = (
        IngestWarning.objects.filter(source=source)
        .values_list("code")
        .annotate(count=Count("id"))
        .order_by("-count", "code")
    )
    labels = dict(WarningCode.choices)
    return [WarningCount(code=code, label=str(labels.get(code, code)), count=count) for code, count in rows]
