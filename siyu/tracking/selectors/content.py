"""Reads of the content library, share links and content performance.

Performance figures come from `ContentViewer` (one row per content and contact, kept by the event
processor) through aggregate queries: views, unique viewers, average active dwell per viewer and
completion (viewers who scrolled at least `COMPLETION_DEPTH` percent), by content and by sharer.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from django.db import connection
from django.db.models import (
    Avg,
    BooleanField,
    Count,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, Coalesce, NullIf
from django.utils.translation import gettext as _

from siyu.core.errors import NotFound
from siyu.core.ids import uuid_or_none
from siyu.tracking.describe import duration_text
from siyu.tracking.models import Content, ContentCategory, ContentKind, ContentViewer, ShareLink

COMPLETION_DEPTH = 90


# Library -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContentFilters:
    kind: str = ""
    category: str = ""  # a category id, or "none" for uncategorised content
    tag: str = ""
    search: str = ""
    published_only: bool = False


def _with_tag(rows: QuerySet[Content], tag: str) -> QuerySet[Content]:
    """Content whose tag list holds exactly `tag` (JSON containment; SQLite has no such lookup)."""
    if connection.vendor == "postgresql":
        return rows.filter(tags__contains=[tag])
    table = Content._meta.db_table
    has_tag = RawSQL(  # noqa: S611 - the tag is a parameter, the table name the model's own
        f'EXISTS (SELECT 1 FROM json_each("{table}"."tags") WHERE json_each.value = %s)',  # noqa: S608
        (tag,),
        output_field=BooleanField(),
    )
    return rows.alias(has_tag=has_tag).filter(has_tag=True)


def content_list(*, filters: ContentFilters | None = None) -> QuerySet[Content]:
    """The library, newest first, narrowed by kind, category, tag and a title/summary search."""
    filters = filters or ContentFilters()
    rows = Content.objects.select_related("category")
    if filters.published_only:
        rows = rows.filter(is_published=True)
    if filters.kind in ContentKind.values:
        rows = rows.filter(kind=filters.kind)
    if filters.category == "none":
        rows = rows.filter(category__isnull=True)
    elif filters.category:
        category_id = uuid_or_none(filters.category)
        rows = rows.filter(category_id=category_id) if category_id else rows.none()
    if filters.tag.strip():
        rows = _with_tag(rows, filters.tag.strip())
    search = " ".join(filters.search.split())
    if search:
        rows = rows.filter(Q(title__icontains=search) | Q(summary__icontains=search))
    return rows.order_by("-created_at", "-id")


def content_kind_counts(*, published_only: bool = False) -> dict[str, int]:
    rows = Content.objects.all()
    if published_only:
        rows = rows.filter(is_published=True)
    counts = dict.fromkeys(ContentKind.values, 0)
    counts.update({row["kind"]: row["n"] for row in rows.values("kind").annotate(n=Count("id")).order_by()})
    return counts


def content_tag_names(*, published_only: bool = False) -> list[str]:
    """Every tag used in the library, in first-seen order of the newest content."""
    rows = Content.objects.all()
    if published_only:
        rows = rows.filter(is_published=True)
    seen: dict[str, None] = {}
    for tags in rows.order_by("-created_at").values_list("tags", flat=True):
        for tag in tags or ():
            seen.setdefault(str(tag), None)
    return list(seen)


def content_get(*, content_id: object, published_only: bool = False) -> Content:
    """One piece of content of the active workspace; NotFound for another workspace's id."""
    key = uuid_or_none(content_id)
    rows = Content.objects.select_related("category", "created_by")
    if published_only:
        rows = rows.filter(is_published=True)
    content = rows.filter(id=key).first() if key else None
    if content is None:
        raise NotFound(_("This content does not exist or was deleted."))
    return content


def content_category_list() -> QuerySet[ContentCategory]:
    return ContentCategory.objects.order_by("sort_order", "name")


def content_category_counts() -> dict[UUID, int]:
    rows = Content.objects.filter(category__isnull=False).values("category_id").annotate(n=Count("id"))
    return {row["category_id"]: row["n"] for row in rows.order_by()}


def content_category_get(*, category_id: object) -> ContentCategory:
    key = uuid_or_none(category_id)
    category = ContentCategory.objects.filter(id=key).first() if key else None
    if category is None:
        raise NotFound(_("This category does not exist."))
    return category


@dataclass(frozen=True)
class StoredFile:
    name: str
    size: int | None


def content_file_info(content: Content) -> StoredFile | None:
    """Name and size of a content's stored file (a file or a poster), None when it has none."""
    if not content.file.name:
        return None
    try:
        size: int | None = content.file.size
    except OSError:
        size = None
    return StoredFile(name=Path(content.file.name).name, size=size)


# Share links ---------------------------------------------------------------------------------------


def share_link_for_token(*, token: str) -> ShareLink | None:
    """The share link behind a public URL, in whichever workspace it lives, if its content is published.

    Public pages have no active workspace yet: this is the one read that crosses workspaces, and the
    caller activates the link's workspace before reading anything else.
    """
    if not token or len(token) > 16 or not token.isascii() or not token.isalnum():
        return None
    return (
        ShareLink.all_workspaces.select_related("content", "member", "channel")
        .filter(token=token, content__is_published=True)
        .first()
    )


def share_link_find(
    *, content: Content, member_id: UUID | None, channel_id: UUID | None = None
) -> ShareLink | None:
    if member_id is None:
        return None
    rows = ShareLink.objects.filter(content=content, member_id=member_id)
    rows = rows.filter(channel_id=channel_id) if channel_id else rows.filter(channel__isnull=True)
    return rows.first()


# Performance ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Performance:
    views: int
    viewers: int
    avg_dwell_ms: float
    completed: int

    @property
    def completion_rate(self) -> float:
        """Share of viewers who read at least COMPLETION_DEPTH % of the page (0..1)."""
        return self.completed / self.viewers if self.viewers else 0.0

    @property
    def completion_percent(self) -> float:
        return round(self.completion_rate * 100, 1)

    @property
    def avg_dwell_seconds(self) -> float:
        return round(self.avg_dwell_ms / 1000, 1)

    @property
    def avg_dwell_text(self) -> str:
        return duration_text(self.avg_dwell_ms)


@dataclass(frozen=True)
class ContentPerformance(Performance):
    content: Content


@dataclass(frozen=True)
class SharerPerformance(Performance):
    sharer_id: UUID | None
    sharer_name: str  # empty for views that came through no share link


_AGGREGATES: dict[str, Any] = {
    "views_sum": Coalesce(Sum("views"), 0),
    "viewers_count": Count("id"),
    "dwell_avg": Coalesce(Avg("active_dwell_ms", output_field=FloatField()), Value(0.0)),
    "completed_count": Count("id", filter=Q(max_read_depth__gte=COMPLETION_DEPTH)),
}


def _viewers(*, since: datetime | None, until: datetime | None) -> QuerySet[ContentViewer]:
    """Reading records; a period keeps the contacts who last read within it."""
    rows = ContentViewer.objects.all()
    if since is not None:
        rows = rows.filter(last_viewed_at__gte=since)
    if until is not None:
        rows = rows.filter(last_viewed_at__lt=until)
    return rows


def _performance(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "views": int(row["views_sum"] or 0),
        "viewers": int(row["viewers_count"] or 0),
        "avg_dwell_ms": float(row["dwell_avg"] or 0.0),
        "completed": int(row["completed_count"] or 0),
    }


PERFORMANCE_SORTS = {
    "title": "title",
    "kind": "kind",
    "views": "perf_views",
    "viewers": "perf_viewers",
    "dwell": "perf_dwell",
    "completion": "perf_completion",
    "created": "created_at",
}


def content_performance(
    *,
    content_ids: Iterable[UUID] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    sort: str = "-views",
    published_only: bool = False,
) -> list[ContentPerformance]:
    """Per content: views, unique viewers, average active dwell per viewer and completions.

    Content nobody has read yet is listed with zeros. One query: each figure is an aggregate
    subquery over the content's reading records, so the list sorts by any figure in the database.
    """
    viewers = _viewers(since=since, until=until).filter(content_id=OuterRef("pk")).order_by()

    def figure(expression: Any, output: Any) -> Any:
        return Coalesce(
            Subquery(
                viewers.values("content_id").annotate(figure=expression).values("figure")[:1],
                output_field=output,
            ),
            Value(0, output_field=output) if isinstance(output, IntegerField) else Value(0.0),
        )

    rows = Content.objects.all()
    if content_ids is not None:
        rows = rows.filter(id__in=list(content_ids))
    if published_only:
        rows = rows.filter(is_published=True)
    rows = rows.annotate(
        perf_views=figure(Sum("views"), IntegerField()),
        perf_viewers=figure(Count("id"), IntegerField()),
        perf_dwell=figure(Avg("active_dwell_ms", output_field=FloatField()), FloatField()),
        perf_completed=figure(Count("id", filter=Q(max_read_depth__gte=COMPLETION_DEPTH)), IntegerField()),
    ).annotate(
        perf_completion=Coalesce(
            Cast("perf_completed", FloatField()) / NullIf(Cast("perf_viewers", FloatField()), Value(0.0)),
            Value(0.0),
        )
    )
    descending = sort.startswith("-")
    column = PERFORMANCE_SORTS.get(sort.lstrip("-"), "perf_views")
    ordering = F(column).desc() if descending else F(column).asc()
    rows = rows.order_by(ordering, "-created_at", "-id")
    return [
        ContentPerformance(
            content=content,
            views=int(content.perf_views or 0),
            viewers=int(content.perf_viewers or 0),
            avg_dwell_ms=float(content.perf_dwell or 0.0),
            completed=int(content.perf_completed or 0),
        )
        for content in rows
    ]


def content_performance_one(
    *, content: Content, since: datetime | None = None, until: datetime | None = None
) -> Performance:
    row = _viewers(since=since, until=until).filter(content=content).aggregate(**_AGGREGATES)
    return Performance(**_performance(row))


def content_performance_totals(
    *, since: datetime | None = None, until: datetime | None = None
) -> Performance:
    row = _viewers(since=since, until=until).aggregate(**_AGGREGATES)
    return Performance(**_performance(row))


def content_performance_by_sharer(
    *,
    content: Content | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[SharerPerformance]:
    """Per sharer (the member whose link brought each viewer first), for one content or all of it.

    Viewers who came through no share link are one row with `sharer_id` None.
    """
    rows = _viewers(since=since, until=until)
    if content is not None:
        rows = rows.filter(content=content)
    grouped = (
        rows.values("sharer_id", "sharer__display_name")
        .annotate(
            views_sum=Coalesce(Sum("views"), 0),
            viewers_count=Count("id"),
            dwell_avg=Coalesce(Avg("active_dwell_ms", output_field=FloatField()), Value(0.0)),
            completed_count=Count("id", filter=Q(max_read_depth__gte=COMPLETION_DEPTH)),
        )
        .order_by("-views_sum", "sharer__display_name")
    )
    return [
        SharerPerformance(
            sharer_id=row["sharer_id"],
            sharer_name=row["sharer__display_name"] or "",
            **_performance(dict(row)),
        )
        for row in grouped
    ]
