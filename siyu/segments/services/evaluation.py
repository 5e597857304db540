# ruff: noqa: S608 -- the set-difference SQL interpolates only quoted table names; values are bound.
"""Keeping dynamic segments true: full builds, incremental re-evaluation, clock re-checks, reconciliation.

- A full build runs the segment's one compiled query into a temporary table and applies the set
  difference to the members with NOT EXISTS joins — no member list is ever loaded into Python.
- Incremental: a change names what changed (`event:track:Order Completed`, `field:city`, `tags`, …);
  the dependency index finds the segments that read it (and, transitively, segments built on them),
  and only those are evaluated, only for the changed contacts.
- Time-relative rules get a re-check per contact at the moment its answer can next change.
- Reconciliation is a full build that reports what it had to fix (drift).
"""

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import islice
from typing import Any
from uuid import UUID

from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import BooleanField, Exists, ExpressionWrapper, Min, OuterRef, Q, QuerySet
from django.utils import timezone

from siyu.contacts.models import Contact
from siyu.contacts.selectors import contact_rows
from siyu.core.db import heavy_statements_settings, new_uuid_sql, prepared, rows_write, uuid_list
from siyu.core.events import has_subscribers, publish
from siyu.core.ids import uuid7
from siyu.core.tenancy import active_workspace_id, workspace_scope
from siyu.core.time import now as clock_now
from siyu.segments.events import SegmentEntered, SegmentExited
from siyu.segments.models import (
    BuildEventMeasure,
    BuildKind,
    ChangeCause,
    MembershipChange,
    MembershipChangeKind,
    Recheck,
    Segment,
    SegmentBuild,
    SegmentDependency,
    SegmentKind,
    SegmentMember,
)
from siyu.segments.rules.spec import (
    DAY_ROLL,
    Catalog,
    EventCondition,
    Rule,
    RuleError,
    rule_document_of,
    rule_parse,
)
from siyu.segments.rules.sql import (
    Clock,
    event_base,
    event_measure,
    event_number,
    measure_test,
    met_without_events,
    reads_contact_columns,
    reads_numbers,
    rule_q,
    semi_join_of,
)
from siyu.segments.rules.timing import (
    WHO_ALL,
    WHO_MEMBERS,
    WHO_OTHERS,
    date_conditions,
    date_flip_q,
    moment_sources,
    recheck_targets,
)
from siyu.segments.selectors.catalog import catalog_load
from siyu.segments.selectors.rfm import rfm_cuts
from siyu.segments.services.membership import IN_CHUNK, changes_apply, day_record
from siyu.tracking.selectors.events import number_rows, number_window_index

log = logging.getLogger(__name__)

EVERYTHING = "contact:new"  # a key every dynamic segment depends on (new or merged contacts)
TARGET_TABLE = "segment_build_target"
DIFFERENCE_TABLE = "segment_build_difference"
MOMENTS_TABLE = "segment_build_moments"
DUE_TABLE = "segment_build_due"
RECHECK_BATCH = 2000
PUBLISH_CHUNK = 5000  # contacts per segment.entered / segment.exited event of a build
# Incremental evaluation answers many segments in one statement; these keep it within the databases'
# limits (PostgreSQL: 1,664 result columns; SQLite: 500 terms in a UNION ALL). A rule has at most
# 100 conditions, each with at most 2 moment sources.
SEGMENTS_PER_QUERY = 100
SOURCES_PER_STATEMENT = 250


@dataclass(frozen=True)
class Compiled:
    segment: Segment
    rule: Rule
    clock: Clock
    team_subtrees: dict[UUID, frozenset[UUID]]

    def q(self) -> Q:
        return rule_q(self.rule.root, self.clock, team_subtrees=dict(self.team_subtrees))


@dataclass(frozen=True)
class Difference:
    """What a build's comparison found: entries and exits, and whether the members will then be
    exactly the contacts named by the rule's one subquery (none of them left out for not being a
    contact), so that a measured rule's own test tells members from others."""

    added: int
    removed: int
    members_named: bool = False
    size: int | None = None  # the members after applying it, when the comparison counted them


_NOT_LOADED: Any = object()


def segment_compile(
    *, segment: Segment, catalog: Catalog | None = None, at: datetime | None = None, rfm: Any = _NOT_LOADED
) -> Compiled:
    """The segment's stored rule, parsed leniently (ids deleted since match nobody) at `at`."""
    catalog = catalog or catalog_load(lenient=True)
    rule = rule_parse(rule_document_of(segment.rules), catalog=catalog, segment_id=segment.id, lenient=True)
    clock = Clock(now=at or clock_now(), rfm=rfm_cuts() if rfm is _NOT_LOADED else rfm)
    return Compiled(segment=segment, rule=rule, clock=clock, team_subtrees=dict(catalog.team_subtrees))


def _mark_problem(segment: Segment, error: RuleError) -> None:
    segment.problem = error.message[:300]
    Segment.objects.filter(id=segment.id).update(problem=segment.problem)
    log.warning("segment %s cannot be evaluated: %s", segment.id, error.message)


def dependencies_store(*, segment: Segment, rule: Rule) -> None:
    keys = sorted(rule.dependencies)
    segment.dependencies = keys
    segment.is_time_relative = rule.is_time_relative
    Segment.objects.filter(id=segment.id).update(dependencies=keys, is_time_relative=rule.is_time_relative)
    SegmentDependency.objects.filter(segment=segment).delete()
    rows_write(SegmentDependency, [{"id": uuid7(), "segment_id": segment.id, "key": key} for key in keys])


# -- full build --------------------------------------------------------------------------------------


def _execute(sql: str, params: Sequence[Any] = ()) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(int(cursor.rowcount), 0)


def _temporary_table(name: str, columns: str) -> None:
    _execute(f"DROP TABLE IF EXISTS {name}")
    if connection.vendor == "postgresql":
        suffix = " ON COMMIT DROP"
    else:
        # A keyed SQLite table is then one B-tree instead of rows plus an index on the key (a quarter
        # faster to fill with 300,000 contacts).
        suffix = " WITHOUT ROWID" if "PRIMARY KEY" in columns else ""
    _execute(f"CREATE TEMPORARY TABLE {name} ({columns}){suffix}")


def _table_filled(
    name: str,
    columns: dict[str, str],
    select: str | None,
    params: Sequence[Any] = (),
    *,
    key: str = "",
    parallel: bool = True,
) -> int:
    """A temporary table `name` holding the rows of `select` (empty without one), whose columns are
    `columns` (name: SQL type) in order, keyed on SQLite by `key` when given. Returns how many rows.

    `parallel`: PostgreSQL creates the table from the select, which it may then read with parallel
    workers; it never does for INSERT … SELECT (a month of events: 0.9 s against 1.3 s; a rule over
    the contacts' fields at 1M: 0.3 s against 0.6 s)."""
    names = ", ".join(columns)
    if connection.vendor == "postgresql" and select is not None and parallel:
        _execute(f"DROP TABLE IF EXISTS {name}")
        return _execute(f"CREATE TEMPORARY TABLE {name} ({names}) ON COMMIT DROP AS {select}", params)
    declared = ", ".join(f"{column} {sql_type}" for column, sql_type in columns.items())
    _temporary_table(
        name, declared + (f", PRIMARY KEY ({key})" if key and connection.vendor == "sqlite" else "")
    )
    return 0 if select is None else _execute(f"INSERT INTO {name} ({names}) {select}", params)


def _rows_insert(
    table: str,
    columns: str,
    leads: Sequence[Any],
    rows: QuerySet[Any],
    *,
    where: str = "",
    params: Sequence[Any] = (),
) -> int:
    """INSERT INTO table (columns) the constants `leads` followed by each row of the queryset (`s`,
    filtered by `where` with its `params`); nothing when the queryset can match nobody. Returns how
    many rows."""
    try:
        select, select_params = rows.query.sql_with_params()
    except EmptyResultSet:
        return 0
    marks = "".join("%s, " for _ in leads)
    return _execute(
        f"INSERT INTO {table} ({columns}) SELECT {marks}s.* FROM ({select}) s {where}",
        [*leads, *select_params, *params],
    )


def _statistics_refresh(table: str) -> None:
    """PostgreSQL plans the statements that read a fresh temporary table on real numbers."""
    if connection.vendor == "postgresql":
        # From 3,000 sampled rows rather than the default 30,000: what the build's statements are
        # planned on is a table's size (counted in full either way) and that its contacts are
        # distinct, which a small sample shows as well (200k measures: 80 ms → under 10 ms).
        _execute("SET LOCAL default_statistics_target = 10")
        _execute(f"ANALYZE {table}")


def _uuid_type() -> str:
    return "uuid" if connection.vendor == "postgresql" else "char(32)"


def _datetime_type() -> str:
    return "timestamp with time zone" if connection.vendor == "postgresql" else "datetime"


def _difference_columns() -> dict[str, str]:
    return {"contact_id": f"{_uuid_type()} NOT NULL", "kind": "varchar(16) NOT NULL"}


def _measures_fill(compiled: Compiled) -> Compiled:
    """Each windowed event condition's measure per contact, with the oldest event in the window, into
    the build's `BuildEventMeasure` table: the membership test and the re-check moments then read
    that table instead of each reading the window of events again. Returns the compiled rule set to
    use it."""
    conditions = tuple(
        dict.fromkeys(
            c
            for c in compiled.rule.conditions
            if isinstance(c, EventCondition) and c.window.is_relative and c.aggregate not in ("first", "last")
        )
    )
    if not conditions:
        return compiled
    table = BuildEventMeasure._meta.db_table
    selects: list[tuple[str, list[Any]]] = []
    for number, condition in enumerate(conditions):
        rows = (
            event_base(condition, compiled.clock)
            .order_by()
            .values("contact_id")
            .annotate(measure=event_measure(condition, compiled.clock), oldest=Min("timestamp"))
        )
        if condition.aggregate == "sum":
            rows = rows.annotate(floor=Min(event_number(condition, compiled.clock)))
        try:
            select, params = rows.query.sql_with_params()
        except EmptyResultSet:
            continue
        if connection.vendor == "sqlite" and reads_numbers(condition, compiled.clock):
            select = _numbers_indexed_by(select, condition, compiled.clock)
        floor = "s.floor" if condition.aggregate == "sum" else "NULL"
        selects.append(
            (
                "SELECT CAST(%s AS smallint) AS condition, s.contact_id, CAST(s.measure AS double precision) "
                f"AS measure, s.oldest, CAST({floor} AS double precision) AS floor FROM ({select}) s",
                [number, *params],
            )
        )
    columns = {
        "condition": "smallint NOT NULL",
        "contact_id": f"{_uuid_type()} NOT NULL",
        "measure": "double precision",
        "oldest": f"{_datetime_type()} NOT NULL",
        "floor": "double precision",
    }
    _table_filled(
        table,
        columns,
        " UNION ALL ".join(sql for sql, _ in selects) if selects else None,
        [param for _, params in selects for param in params],
        key="condition, contact_id",
    )
    _statistics_refresh(table)
    return replace(compiled, clock=replace(compiled.clock, measured=conditions))


def _numbers_indexed_by(select: str, condition: EventCondition, clock: Clock) -> str:
    """SQLite: the measure's read of `EventNumber` pinned to the index that suits its window (its
    planner cannot tell a window's size and always avoids the sort)."""
    table = connection.ops.quote_name(number_rows().model._meta.db_table)
    if select.count(f"FROM {table}") != 1 or condition.window.last_seconds is None:
        raise AssertionError(f"not one windowed read of {table}: {select}")
    index = number_window_index(
        type=condition.type,
        name=condition.name,
        key=condition.prop,
        since=clock.now - timedelta(seconds=condition.window.last_seconds),
        now=clock.now,
    )
    return select.replace(f"FROM {table}", f"FROM {table} INDEXED BY {index}")


def _difference_fill(compiled: Compiled, *, members: str, workspace: Any, segment_id: Any) -> Difference:
    """The entries and exits into the difference table.

    A rule that is exactly one subquery of contacts (`semi_join_of`: one event, tag, identity,
    purchase, RFM or segment condition) is compared from that subquery's rows; any other, from the
    compiled query over the contacts. PostgreSQL full-joins them with the current members in one
    pass; SQLite, which runs that join as nested loops over the members, fills a keyed table instead.
    """
    exited = MembershipChangeKind.EXITED.value
    current = (
        f"SELECT contact_id FROM {members} WHERE workspace_id = %s AND segment_id = %s",
        [workspace, segment_id],
    )
    q = compiled.q()
    try:
        candidates = semi_join_of(q)
        if candidates is not None:
            select, params = candidates.order_by().query.sql_with_params()
            # The build's measures hold a contact once per condition; other rows (tags, events, …)
            # may name it several times.
            distinct = "" if candidates.model is BuildEventMeasure else "DISTINCT "
            named = f"SELECT {distinct}s.* FROM ({select}) s"
            if connection.vendor == "sqlite":
                return _difference_by_target(
                    named,
                    params,
                    members=members,
                    workspace=workspace,
                    segment_id=segment_id,
                    named_only=True,
                )
            return _difference_by_full_join(
                named, params, current=current, workspace=workspace, named_only=True, parallel=True
            )
        select, params = contact_rows().filter(q).order_by().values("id").query.sql_with_params()
    except EmptyResultSet:  # the rules can match nobody (e.g. "RFM group" before any cut points exist)
        removed = _table_filled(
            DIFFERENCE_TABLE,
            _difference_columns(),
            f"SELECT m.contact_id, %s FROM ({current[0]}) m",
            [exited, *current[1]],
        )
        return Difference(added=0, removed=removed)
    if connection.vendor == "sqlite":
        return _difference_by_target(
            select, params, members=members, workspace=workspace, segment_id=segment_id, named_only=False
        )
    return _difference_by_full_join(
        select,
        params,
        current=current,
        workspace=workspace,
        named_only=False,
        # A rule made only of subqueries (segments, tags, events) is best driven from them in one
        # process: in parallel PostgreSQL scans every contact to meet them (segment of two
        # segments: 0.13 s → 0.45 s at 1M). A rule over the contacts' columns reads them all anyway.
        parallel=reads_contact_columns(compiled.rule.conditions),
    )


def _difference_by_full_join(
    select: str,
    params: Sequence[Any],
    *,
    current: tuple[str, Sequence[Any]],
    workspace: Any,
    named_only: bool,
    parallel: bool,
) -> Difference:
    """PostgreSQL: the selected contacts (`select`: one column of distinct ids) full-joined with the
    `current` members in one pass, each side hashed once, into the difference table.

    `named_only` as for `_difference_by_target`. `parallel` as for `_table_filled`."""
    entered, exited = MembershipChangeKind.ENTERED.value, MembershipChangeKind.EXITED.value
    members, members_params = current
    _table_filled(
        DIFFERENCE_TABLE,
        _difference_columns(),
        "SELECT COALESCE(t.id, m.contact_id), CASE WHEN m.contact_id IS NULL THEN %s ELSE %s END "
        f"FROM ({select}) t (id) FULL OUTER JOIN ({members}) m ON m.contact_id = t.id "
        "WHERE t.id IS NULL OR m.contact_id IS NULL",
        [entered, exited, *params, *members_params],
        parallel=parallel,
    )
    unknown = _unknown_entries_drop(workspace) if named_only else 0
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT kind, COUNT(*) FROM {DIFFERENCE_TABLE} GROUP BY kind")
        counts = dict(cursor.fetchall())
    return Difference(
        added=int(counts.get(entered, 0)),
        removed=int(counts.get(exited, 0)),
        members_named=named_only and not unknown,
    )


def _difference_by_target(
    select: str, params: Sequence[Any], *, members: str, workspace: Any, segment_id: Any, named_only: bool
) -> Difference:
    """SQLite: the selected contacts (`select`: one column of distinct ids) into a keyed table,
    compared by key with the members, into the difference table.

    The exits are found first, from the members (each probes the keyed table). The members that stay
    are all selected, so counting the members tells how many selected contacts are new; the entries
    are looked for only when there are some — never in a steady state, where that pass over the
    selected contacts probing the members' index was the larger half (0.26 s of 0.39 s at 333k).

    `named_only`: the ids are named by events, tags or other rows rather than read from the contacts,
    so a new one must still exist as a contact — looked up for the entries only (`_unknown_entries_drop`).
    Members always exist, so a member stays exactly when it is named.
    """
    entered, exited = MembershipChangeKind.ENTERED.value, MembershipChangeKind.EXITED.value
    selected = _table_filled(
        TARGET_TABLE, {"contact_id": f"{_uuid_type()} NOT NULL"}, select, params, key="contact_id"
    )
    _table_filled(DIFFERENCE_TABLE, _difference_columns(), None)
    removed = _execute(
        f"INSERT INTO {DIFFERENCE_TABLE} (contact_id, kind) SELECT m.contact_id, %s FROM {members} m "
        f"WHERE m.workspace_id = %s AND m.segment_id = %s "
        f"AND NOT EXISTS (SELECT 1 FROM {TARGET_TABLE} t WHERE t.contact_id = m.contact_id)",
        [exited, workspace, segment_id],
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FROM {members} WHERE workspace_id = %s AND segment_id = %s",
            [workspace, segment_id],
        )
        staying = cursor.fetchone()[0] - removed
    added = unknown = 0
    if selected > staying:
        added = _execute(
            f"INSERT INTO {DIFFERENCE_TABLE} (contact_id, kind) SELECT t.contact_id, %s FROM {TARGET_TABLE} t "
            f"WHERE NOT EXISTS (SELECT 1 FROM {members} m WHERE m.workspace_id = %s AND m.segment_id = %s "
            "AND m.contact_id = t.contact_id)",
            [entered, workspace, segment_id],
        )
        if named_only:
            unknown = _unknown_entries_drop(workspace)
            added -= unknown
    _execute(f"DROP TABLE IF EXISTS {TARGET_TABLE}")
    return Difference(
        added=added, removed=removed, members_named=named_only and not unknown, size=staying + added
    )


def _unknown_entries_drop(workspace: Any) -> int:
    """Drop the difference's entries of contacts that do not exist (ids named by events, tags or
    other rows). Returns how many.

    A statement of its own, after the comparison: in a steady state it looks up a handful of
    entries, where reading the named ids through the contacts probes all of them (0.4 s at 1M on
    PostgreSQL) and checking them during the comparison hashed every contact (0.5 s)."""
    return _execute(
        f"DELETE FROM {DIFFERENCE_TABLE} WHERE kind = %s AND NOT EXISTS (SELECT 1 FROM "
        f"{_contacts_by_workspace_and_id()} WHERE c.workspace_id = %s AND c.id = {DIFFERENCE_TABLE}.contact_id)",
        [MembershipChangeKind.ENTERED.value, workspace],
    )


def _contacts_by_workspace_and_id() -> str:
    """The contacts table aliased `c`, for lookups by workspace and id. SQLite probes the unique
    index on the id and then reads each contact's row for its workspace; the (workspace, id) index
    answers both (3x faster for 30,000 look-ups at 1M contacts)."""
    contacts = connection.ops.quote_name(Contact._meta.db_table)
    return f"{contacts} c INDEXED BY contact_ws_id" if connection.vendor == "sqlite" else f"{contacts} c"


def _set_difference_apply(compiled: Compiled, *, cause: str, at: datetime) -> Difference:
    """Members := what the rules select, with a history row for every entry and exit.

    The difference is computed once into a small table; when nothing changed — the usual
    rebuild — nothing is written.
    """
    segment = compiled.segment
    members = connection.ops.quote_name(SegmentMember._meta.db_table)
    changes = connection.ops.quote_name(MembershipChange._meta.db_table)
    workspace = prepared(SegmentMember, "workspace_id", active_workspace_id())
    segment_id = prepared(SegmentMember, "segment_id", segment.id)
    moment = prepared(SegmentMember, "entered_at", at)
    new_id = new_uuid_sql()
    entered, exited = MembershipChangeKind.ENTERED.value, MembershipChangeKind.EXITED.value
    # Only table names (quoted by the backend) and constants are interpolated; every value is bound.
    difference = _difference_fill(compiled, members=members, workspace=workspace, segment_id=segment_id)
    added, removed = difference.added, difference.removed
    if added or removed:
        _execute(
            f"INSERT INTO {changes} (id, workspace_id, segment_id, contact_id, kind, cause, at) "
            f"SELECT {new_id}, %s, %s, d.contact_id, d.kind, %s, %s FROM {DIFFERENCE_TABLE} d",
            [workspace, segment_id, cause, moment],
        )
    if added:
        _execute(
            f"INSERT INTO {members} (id, workspace_id, segment_id, contact_id, entered_at) "
            f"SELECT {new_id}, %s, %s, d.contact_id, %s FROM {DIFFERENCE_TABLE} d WHERE d.kind = %s",
            [workspace, segment_id, moment, entered],
        )
    if removed:
        _execute(
            f"DELETE FROM {members} WHERE workspace_id = %s AND segment_id = %s AND contact_id IN "
            f"(SELECT d.contact_id FROM {DIFFERENCE_TABLE} d WHERE d.kind = %s)",
            [workspace, segment_id, exited],
        )
    _execute(f"DROP TABLE IF EXISTS {DIFFERENCE_TABLE}")
    return difference


def _publish_build_changes(segment: Segment, *, cause: str, at: datetime) -> None:
    """segment.entered / segment.exited for a build, read back from its history rows in chunks."""
    workspace_id = UUID(str(active_workspace_id()))
    for kind, event_type in (
        (MembershipChangeKind.ENTERED, SegmentEntered),
        (MembershipChangeKind.EXITED, SegmentExited),
    ):
        if not has_subscribers(event_type):
            continue
        rows = (
            MembershipChange.objects.filter(segment=segment, kind=kind, cause=cause, at=at)
            .values_list("contact_id", flat=True)
            .iterator(chunk_size=PUBLISH_CHUNK)
        )
        while chunk := tuple(islice(rows, PUBLISH_CHUNK)):
            publish(
                event_type(
                    workspace_id=workspace_id, segment_id=segment.id, contact_ids=chunk, cause=cause, at=at
                )
            )


def _recheck_sources(
    compiled: Compiled, contact_ids: Sequence[UUID] | None
) -> list[tuple[QuerySet[Any], str, str]]:
    """(contact, moment) querysets of the rule's time-relative conditions (limited to `contact_ids`
    when given), each with its contact column and whose re-checks it can matter for
    (`recheck_targets`: members, others or all)."""
    sources = []
    root, clock = compiled.rule.root, compiled.clock
    if contact_ids is not None:
        clock = replace(clock, within=tuple(contact_ids))
    for (condition, who), (_same, who_if_nonnegative) in zip(
        recheck_targets(root), recheck_targets(root, nonnegative=True), strict=True
    ):
        for rows, column in moment_sources(condition, clock):
            if who_if_nonnegative != who and rows.model is BuildEventMeasure:
                # A build measured each contact's smallest summed value: where none is below zero
                # the sum only falls with time, so fewer contacts need its re-checks.
                sources.append((rows.exclude(floor__lt=0), column, who_if_nonnegative))
                rows = rows.filter(floor__lt=0)
            sources.append((rows, column, who))
    return sources


def _kept_for(rows: QuerySet[Any], column: str, who: str, *, segment_id: UUID) -> QuerySet[Any]:
    """The moment rows of the segment's members only (`who` members) or of the others only."""
    # EXISTS, not IN: PostgreSQL plans NOT IN (all of a large segment's members) as a filter on a scan
    # of the whole table instead of probing it for the few contacts (150 ms at 1M).
    member = Exists(SegmentMember.objects.filter(segment_id=segment_id, contact_id=OuterRef(column)))
    return rows.filter(member if who == WHO_MEMBERS else ~member)


def _rechecks_rebuild(compiled: Compiled, *, members_named: bool) -> int:
    """Every contact's next re-check for the segment, applied as a difference to the stored ones:
    computed in SQL, and in a steady state (nothing moved) nothing is written. Returns how many
    re-checks the segment has.

    Runs after the difference is applied, so the members are exactly the contacts the rules select
    (`members_named`: exactly those its one subquery names, as `Difference` says).
    The moments are computed for everyone and only then kept for members or others: restricting
    each moment query to the members instead lets the planner probe every member's events one by
    one, which on a table in arrival order reads a page per event (6 s for 10,000 members and a
    30-day window, against about the compiled query's own time for one pass over the window).
    """
    rechecks = connection.ops.quote_name(Recheck._meta.db_table)
    workspace = prepared(Recheck, "workspace_id", active_workspace_id())
    segment_id = prepared(Recheck, "segment_id", compiled.segment.id)
    sources = _recheck_sources(compiled, None) if compiled.rule.is_time_relative else []
    if not sources:
        Recheck.objects.filter(segment=compiled.segment).delete()
        return 0
    # `known`: the contact is known to exist (it is a member), so the due step need not look it up.
    _temporary_table(
        MOMENTS_TABLE,
        f"contact_id {_uuid_type()} NOT NULL, due_at {_datetime_type()} NOT NULL, who varchar(8) NOT NULL, "
        "known boolean NOT NULL",
    )
    members_moments: list[QuerySet[Any]] = []
    others = 0
    for rows, column, who in sources:
        if rows.model is BuildEventMeasure and who != WHO_ALL:
            # The build's own measures (not the events): keeping only the members, or only the others,
            # is one semi-join while copying, and the steps below handle that many fewer moments, each
            # for whoever it names.
            condition = compiled.clock.measured[0]  # the only one, when the members are named
            if who == WHO_MEMBERS and members_named and not met_without_events(condition):
                # The rule is this one measured condition and the members are the contacts it names:
                # its own test on the measures keeps them, with no look-up of each in the members
                # (30-day dwell, 109k members: 0.35 s → 0.15 s on SQLite, 0.14 s → 0.07 s on PostgreSQL).
                # Not when it is met without events: the rule is then its negation (“not fewer than
                # one view”), whose members are the contacts its test fails.
                rows = rows.filter(measure_test(condition, compiled.clock))
            else:
                rows = _kept_for(rows, column, who, segment_id=compiled.segment.id)
            if who == WHO_MEMBERS:
                members_moments.append(rows)
                continue
            who = WHO_ALL
        others += _rows_insert(MOMENTS_TABLE, "who, known, contact_id, due_at", [who, False], rows)
    key = " PRIMARY KEY" if connection.vendor == "sqlite" else ""
    _temporary_table(
        DUE_TABLE, f"contact_id {_uuid_type()} NOT NULL{key}, due_at {_datetime_type()} NOT NULL"
    )
    ahead = prepared(Recheck, "due_at", compiled.clock.now)
    if len(members_moments) == 1 and not others:
        # The members' moments of one measure alone (a contact's one row each): they are the due
        # re-checks as they stand (dwell over 30 days: 0.13 s less for 109k members on PostgreSQL).
        count = _rows_insert(
            DUE_TABLE,
            "contact_id, due_at",
            [],
            members_moments[0],
            where="WHERE s.moment > %s",
            params=[ahead],
        )
    else:
        for rows in members_moments:
            _rows_insert(MOMENTS_TABLE, "who, known, contact_id, due_at", [WHO_ALL, True], rows)
        count = _due_from_moments(ahead=ahead, workspace=workspace, segment_id=segment_id)
    _execute(
        f"DELETE FROM {rechecks} WHERE workspace_id = %s AND segment_id = %s AND NOT EXISTS "
        f"(SELECT 1 FROM {DUE_TABLE} d WHERE d.contact_id = {rechecks}.contact_id AND d.due_at = {rechecks}.due_at)",
        [workspace, segment_id],
    )
    # The re-checks left are each a due one (a contact has one of each at most): when they are as many,
    # none is missing, and the pass over the due ones probing the stored ones is skipped — in a steady
    # state (109k re-checks of the 30-day dwell: 0.2 s on SQLite).
    if Recheck.objects.filter(segment=compiled.segment).count() < count:
        _execute(
            f"INSERT INTO {rechecks} (id, workspace_id, segment_id, contact_id, due_at) "
            f"SELECT {new_uuid_sql()}, %s, %s, d.contact_id, d.due_at FROM {DUE_TABLE} d WHERE NOT EXISTS "
            f"(SELECT 1 FROM {rechecks} r WHERE r.workspace_id = %s AND r.segment_id = %s "
            "AND r.contact_id = d.contact_id)",
            [workspace, segment_id, workspace, segment_id],
        )
    _execute(f"DROP TABLE IF EXISTS {MOMENTS_TABLE}")
    _execute(f"DROP TABLE IF EXISTS {DUE_TABLE}")
    return count


def _due_from_moments(*, ahead: Any, workspace: Any, segment_id: Any) -> int:
    """Each contact's earliest moment ahead into the due table, for whoever each moment names and
    only for contacts that still exist. Returns how many."""
    _statistics_refresh(MOMENTS_TABLE)
    members = connection.ops.quote_name(SegmentMember._meta.db_table)
    is_member = (
        f"EXISTS (SELECT 1 FROM {members} s WHERE s.workspace_id = %s AND s.segment_id = %s "
        "AND s.contact_id = m.contact_id)"
    )
    # Event rows name contacts without a foreign key: only contacts that still exist get a re-check.
    contacts_aliased = _contacts_by_workspace_and_id()
    # Two branches, not `known OR EXISTS (…)`: PostgreSQL cannot turn an OR into a semi-join and
    # hashes every contact of the workspace instead (0.4 s at 1M).
    return _execute(
        f"INSERT INTO {DUE_TABLE} (contact_id, due_at) SELECT k.contact_id, MIN(k.due_at) FROM ("
        f"SELECT m.contact_id, m.due_at FROM {MOMENTS_TABLE} m WHERE m.due_at > %s AND m.known UNION ALL "
        f"SELECT m.contact_id, m.due_at FROM {MOMENTS_TABLE} m WHERE m.due_at > %s AND NOT m.known "
        f"AND (m.who = %s OR (m.who = %s AND {is_member}) OR (m.who = %s AND NOT {is_member})) "
        f"AND EXISTS (SELECT 1 FROM {contacts_aliased} WHERE c.id = m.contact_id AND c.workspace_id = %s)"
        ") k GROUP BY k.contact_id",
        [
            ahead,
            ahead,
            WHO_ALL,
            WHO_MEMBERS,
            workspace,
            segment_id,
            WHO_OTHERS,
            workspace,
            segment_id,
            workspace,
        ],
    )


def _rechecks_replace(jobs: Sequence[tuple[Compiled, Sequence[UUID]]]) -> None:
    """Re-schedule the clock re-checks of time-relative segments for some of their contacts, after
    evaluating them: a delete per set of contacts, then one insert (per 250 moment sources) of each
    contact's earliest moment ahead."""
    if not jobs:
        return
    by_contacts: dict[tuple[UUID, ...], list[UUID]] = {}
    for compiled, contact_ids in jobs:
        by_contacts.setdefault(tuple(contact_ids), []).append(compiled.segment.id)
    for contact_ids, segment_ids in by_contacts.items():
        # One statement each: PostgreSQL answers an OR of these with a scan of every re-check.
        Recheck.objects.filter(segment_id__in=segment_ids, contact_id__in=uuid_list(contact_ids)).delete()
    statements: list[tuple[list[str], list[Any]]] = []
    selects: list[str] = []
    params: list[Any] = []
    for compiled, contact_ids in jobs:
        segment_id = compiled.segment.id
        sources = _recheck_sources(compiled, contact_ids)
        if selects and len(selects) + len(sources) > SOURCES_PER_STATEMENT:
            statements.append((selects, params))  # a segment's moments stay in one statement
            selects, params = [], []
        for rows, column, who in sources:
            if who != WHO_ALL:
                rows = _kept_for(rows, column, who, segment_id=segment_id)
            try:
                select, select_params = rows.query.sql_with_params()
            except EmptyResultSet:
                continue
            selects.append(
                f"SELECT %s AS segment_id, s.{column} AS contact_id, s.moment AS moment FROM ({select}) s"
            )
            params += [prepared(Recheck, "segment_id", segment_id), *select_params]
    if selects:
        statements.append((selects, params))
    rechecks = connection.ops.quote_name(Recheck._meta.db_table)
    workspace = prepared(Recheck, "workspace_id", active_workspace_id())
    ahead = prepared(Recheck, "due_at", jobs[0][0].clock.now)
    for union, union_params in statements:
        _execute(
            f"INSERT INTO {rechecks} (id, workspace_id, segment_id, contact_id, due_at) "
            f"SELECT {new_uuid_sql()}, %s, m.segment_id, m.contact_id, MIN(m.moment) "
            f"FROM ({' UNION ALL '.join(union)}) m WHERE m.moment > %s GROUP BY m.segment_id, m.contact_id",
            [workspace, *union_params, ahead],
        )


def segment_build(
    *, segment: Segment, kind: str = BuildKind.FULL, at: datetime | None = None
) -> SegmentBuild | None:
    """Evaluate a dynamic segment over the whole workspace and apply the difference.

    Segments built on this one are rebuilt after it when its membership changed.
    """
    if segment.kind != SegmentKind.DYNAMIC:
        return None
    started = time.perf_counter()
    try:
        compiled = segment_compile(segment=segment, at=at)
    except RuleError as error:
        _mark_problem(segment, error)
        return None
    moment = compiled.clock.now
    cause = ChangeCause.RECONCILE if kind == BuildKind.RECONCILE else ChangeCause.BUILD
    with transaction.atomic():
        heavy_statements_settings(eager_parallel=True)
        # With the default memory PostgreSQL sorts a month of events in parallel workers; with more it
        # picks one hash in a single process, which takes half as long again.
        compiled = _measures_fill(compiled)
        heavy_statements_settings(work_mem="64MB")  # room to hash a large segment's contacts
        difference = _set_difference_apply(compiled, cause=cause, at=moment)
        added, removed = difference.added, difference.removed
        _rechecks_rebuild(compiled, members_named=difference.members_named)
        _execute(f"DROP TABLE IF EXISTS {BuildEventMeasure._meta.db_table}")
        size = difference.size
        if size is None:
            size = SegmentMember.objects.filter(segment=segment).count()
        Segment.objects.filter(id=segment.id).update(
            member_count=size,
            is_ready=True,
            last_built_at=moment,
            problem="",
            dates_checked_on=timezone.localdate(moment),
        )
        segment.member_count, segment.is_ready, segment.last_built_at, segment.problem = (
            size,
            True,
            moment,
            "",
        )
        if added or removed or kind == BuildKind.FULL:
            day_record(segment_id=segment.id, at=moment, entered=added, exited=removed)
        build = SegmentBuild.objects.create(
            segment=segment,
            kind=kind,
            started_at=moment,
            duration_ms=int((time.perf_counter() - started) * 1000),
            added=added,
            removed=removed,
            size=size,
        )
        if added or removed:
            _publish_build_changes(segment, cause=cause, at=moment)
            if kind == BuildKind.RECONCILE:
                log.warning(
                    "segment %s drifted: reconciliation added %s and removed %s members",
                    segment.id,
                    added,
                    removed,
                )
            for dependent in _dependents([segment.id]):
                segment_build(segment=dependent, kind=kind, at=moment)
    return build


def _dependents(segment_ids: Iterable[UUID]) -> list[Segment]:
    keys = [f"segment:{segment_id}" for segment_id in segment_ids]
    ids = SegmentDependency.objects.filter(key__in=keys).values("segment_id")
    return list(Segment.objects.filter(id__in=ids, kind=SegmentKind.DYNAMIC, is_ready=True))


def _bases(segment: Segment) -> list[UUID]:
    """The segments this one's rules are built on."""
    return [
        UUID(key.removeprefix("segment:")) for key in segment.dependencies or () if key.startswith("segment:")
    ]


def in_dependency_order(segments: list[Segment]) -> list[Segment]:
    """Segments that others in the list are built on come first."""
    by_id = {segment.id: segment for segment in segments}
    ordered: list[Segment] = []
    placed: set[UUID] = set()

    def place(segment: Segment, trail: frozenset[UUID]) -> None:
        if segment.id in placed or segment.id in trail:
            return
        for base_id in _bases(segment):
            base = by_id.get(base_id)
            if base is not None:
                place(base, trail | {segment.id})
        placed.add(segment.id)
        ordered.append(segment)

    for segment in segments:
        place(segment, frozenset())
    return ordered


def _layers(segments: list[Segment]) -> list[list[Segment]]:
    """The segments in dependency order, grouped so that none is built on another of its group:
    each group can be evaluated together once the groups before it are applied."""
    depth: dict[UUID, int] = {}
    layers: list[list[Segment]] = []
    for segment in in_dependency_order(segments):
        level = 1 + max((depth[base_id] for base_id in _bases(segment) if base_id in depth), default=-1)
        depth[segment.id] = level
        if level == len(layers):
            layers.append([])
        layers[level].append(segment)
    return layers


# -- incremental ------------------------------------------------------------------------------------


def segments_affected(*, keys: Iterable[str]) -> list[Segment]:
    """The dynamic segments whose rules read any of `keys`, and those built on them, in dependency order."""
    wanted = set(keys)
    everything = EVERYTHING in wanted
    found: dict[UUID, Segment] = {}
    frontier_keys = list(wanted)
    while frontier_keys:
        if everything:
            rows = Segment.objects.filter(kind=SegmentKind.DYNAMIC, is_ready=True)
            everything = False
        else:
            ids = SegmentDependency.objects.filter(key__in=frontier_keys).values("segment_id")
            rows = Segment.objects.filter(id__in=ids, kind=SegmentKind.DYNAMIC, is_ready=True)
        fresh = [segment for segment in rows if segment.id not in found]
        for segment in fresh:
            found[segment.id] = segment
        frontier_keys = [f"segment:{segment.id}" for segment in fresh]
    return in_dependency_order(list(found.values()))


def _answers(compiled: Sequence[Compiled], contact_ids: Sequence[UUID]) -> dict[UUID, set[UUID]]:
    """Which of these contacts each segment's rules select, in one query: a column per segment."""
    within = tuple(contact_ids)  # every subquery reads only these contacts' rows
    columns = {
        f"segment_{number}": ExpressionWrapper(
            rule_q(c.rule.root, replace(c.clock, within=within), team_subtrees=dict(c.team_subtrees)),
            output_field=BooleanField(),
        )
        for number, c in enumerate(compiled)
    }
    rows = (
        contact_rows().filter(id__in=uuid_list(contact_ids)).annotate(**columns).values_list("id", *columns)
    )
    selected: dict[UUID, set[UUID]] = {c.segment.id: set() for c in compiled}
    for contact_id, *answers in rows:
        for c, answer in zip(compiled, answers, strict=True):
            if answer:  # NULL is no
                selected[c.segment.id].add(contact_id)
    return selected


def _memberships(segment_ids: Sequence[UUID], contact_ids: Sequence[UUID]) -> dict[UUID, set[UUID]]:
    current: dict[UUID, set[UUID]] = {segment_id: set() for segment_id in segment_ids}
    rows = SegmentMember.objects.filter(segment_id__in=segment_ids, contact_id__in=uuid_list(contact_ids))
    for segment_id, contact_id in rows.values_list("segment_id", "contact_id"):
        current[segment_id].add(contact_id)
    return current


def _evaluate(work: Sequence[tuple[Compiled, Sequence[UUID]]], *, cause: str) -> int:
    """Evaluate segments, none built on another of them, each for its own contacts. Returns the
    number of entries and exits recorded.

    A chunk of contacts costs the same few statements however many segments are evaluated: one
    query answers every segment for every contact, one reads their memberships, two replace the
    re-checks — besides the writes of real entries and exits (and one more of each per hundred
    segments).
    """
    wanted = [(compiled, frozenset(contact_ids)) for compiled, contact_ids in work if contact_ids]
    everyone = sorted(set().union(*(contact_ids for _, contact_ids in wanted)))
    changed = 0
    for start in range(0, len(everyone), IN_CHUNK):
        chunk = everyone[start : start + IN_CHUNK]
        jobs = [(compiled, [cid for cid in chunk if cid in contact_ids]) for compiled, contact_ids in wanted]
        jobs = [(compiled, contact_ids) for compiled, contact_ids in jobs if contact_ids]
        selected: dict[UUID, set[UUID]] = {}
        for start_segment in range(0, len(jobs), SEGMENTS_PER_QUERY):
            group = jobs[start_segment : start_segment + SEGMENTS_PER_QUERY]
            selected.update(_answers([compiled for compiled, _ in group], chunk))
        current = _memberships([compiled.segment.id for compiled, _ in jobs], chunk)
        for compiled, contact_ids in jobs:
            segment_id = compiled.segment.id
            matching, members = selected[segment_id], current[segment_id]
            added, removed = changes_apply(
                segment_id=segment_id,
                entered=[cid for cid in contact_ids if cid in matching and cid not in members],
                exited=[cid for cid in contact_ids if cid in members and cid not in matching],
                cause=cause,
                at=compiled.clock.now,
            )
            changed += len(added) + len(removed)
        _rechecks_replace([(compiled, ids) for compiled, ids in jobs if compiled.rule.is_time_relative])
    return changed


def segments_reevaluate(
    *,
    contact_ids: Iterable[UUID],
    keys: Iterable[str],
    cause: str = ChangeCause.ACTIVITY,
    at: datetime | None = None,
) -> int:
    """Re-evaluate, for these contacts only, the segments that depend on what changed. Returns the
    number of entries and exits recorded."""
    wanted = frozenset(keys)
    return segments_reevaluate_changes(changes=dict.fromkeys(contact_ids, wanted), cause=cause, at=at)


def segments_reevaluate_changes(
    *, changes: Mapping[UUID, Iterable[str]], cause: str = ChangeCause.ACTIVITY, at: datetime | None = None
) -> int:
    """One pass over many changes: each affected segment is evaluated once, for the contacts whose
    changes it reads (and for those evaluated in segments it is built on)."""
    keyed = {contact_id: frozenset(keys) for contact_id, keys in changes.items()}
    if not keyed:
        return 0
    segments = segments_affected(keys=set().union(*keyed.values()))
    if not segments:
        return 0
    catalog = catalog_load(lenient=True)
    cuts = rfm_cuts()
    moment = at or clock_now()  # one moment for the whole pass
    evaluated: dict[UUID, set[UUID]] = {}
    recorded = 0
    for layer in _layers(segments):
        work: list[tuple[Compiled, Sequence[UUID]]] = []
        for segment in layer:
            reads = set(segment.dependencies or ())
            ids = {cid for cid, keys in keyed.items() if EVERYTHING in keys or keys & reads}
            for base_id in _bases(segment):
                ids |= evaluated.get(base_id, set())
            evaluated[segment.id] = ids
            if not ids:
                continue
            try:
                compiled = segment_compile(segment=segment, catalog=catalog, at=moment, rfm=cuts)
            except RuleError as error:
                _mark_problem(segment, error)
                continue
            work.append((compiled, sorted(ids)))
        recorded += _evaluate(work, cause=cause)
    return recorded


def _clock_evaluate(compiled: Compiled, contact_ids: Sequence[UUID]) -> None:
    """Time moved these contacts' answers: evaluate them, then the segments built on this one."""
    _evaluate([(compiled, contact_ids)], cause=ChangeCause.CLOCK)
    segments_reevaluate(
        contact_ids=contact_ids,
        keys=[f"segment:{compiled.segment.id}"],
        cause=ChangeCause.CLOCK,
        at=compiled.clock.now,
    )


# -- the clock ---------------------------------------------------------------------------------------


def day_boundaries_run(*, at: datetime | None = None) -> int:
    """At local midnight, re-evaluate the contacts whose date conditions ("birthday within 7 days")
    change that day — found by their dates, not by a re-check per contact. Catches up missed days
    (up to a year; after longer, a full build). Returns how many contacts were re-evaluated."""
    moment = at or clock_now()
    today = timezone.localdate(moment)
    stale = SegmentDependency.all_workspaces.filter(
        key=DAY_ROLL, segment__dates_checked_on__lt=today, segment__is_ready=True, segment__problem=""
    ).values_list("workspace_id", "segment_id")
    checked = 0
    for workspace_id, segment_id in list(stale):
        with workspace_scope(workspace_id), transaction.atomic():
            segment = Segment.objects.select_for_update().filter(id=segment_id).first()
            if segment is None or segment.dates_checked_on is None or segment.dates_checked_on >= today:
                continue
            if (today - segment.dates_checked_on).days > 366:
                segment_build(segment=segment, at=moment)
                continue
            try:
                compiled = segment_compile(segment=segment, at=moment)
            except RuleError as error:
                _mark_problem(segment, error)
                continue
            conditions = date_conditions(compiled.rule.conditions)
            flips = Q(pk__in=[])
            day = segment.dates_checked_on
            while day < today:
                day += timedelta(days=1)
                for condition in conditions:
                    flips |= date_flip_q(condition, day)
            ids = list(contact_rows().filter(flips).values_list("id", flat=True))
            _clock_evaluate(compiled, ids)
            Segment.objects.filter(id=segment.id).update(dates_checked_on=today)
            checked += len(ids)
    return checked


def rechecks_run(*, at: datetime | None = None, limit: int = RECHECK_BATCH) -> int:
    """Re-evaluate the contacts whose re-check is due (every workspace), after applying any day
    boundary just crossed. Returns how many contacts were checked."""
    moment = at or clock_now()
    crossed = day_boundaries_run(at=moment)
    with transaction.atomic():
        due = Recheck.all_workspaces.filter(due_at__lte=moment).order_by("due_at")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        rows = list(due.values_list("id", "workspace_id", "segment_id", "contact_id")[:limit])
        if not rows:
            return crossed
        groups: dict[tuple[UUID, UUID], list[UUID]] = {}
        for _id, workspace_id, segment_id, contact_id in rows:
            groups.setdefault((workspace_id, segment_id), []).append(contact_id)
        Recheck.all_workspaces.filter(id__in=[row[0] for row in rows]).delete()
        for (workspace_id, segment_id), contact_ids in groups.items():
            with workspace_scope(workspace_id):
                segment = Segment.objects.filter(
                    id=segment_id, kind=SegmentKind.DYNAMIC, is_ready=True
                ).first()
                if segment is None:
                    continue
                try:
                    compiled = segment_compile(segment=segment, at=moment)
                except RuleError as error:
                    _mark_problem(segment, error)
                    continue
                _clock_evaluate(compiled, sorted(set(contact_ids)))
    return len(rows) + crossed


# -- reconciliation ---------------------------------------------------------------------------------


def segments_reconcile(*, at: datetime | None = None) -> list[SegmentBuild]:
    """Rebuild every dynamic segment of the active workspace and report the drift each had to fix."""
    segments = in_dependency_order(list(Segment.objects.filter(kind=SegmentKind.DYNAMIC, is_ready=True)))
    builds = []
    for segment in segments:
        build = segment_build(segment=segment, kind=BuildKind.RECONCILE, at=at)
        if build is not None:
            builds.append(build)
    return builds
