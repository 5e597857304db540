"""Segment engine and channel-quality benchmarks on a big generated workspace.

    .venv/bin/python bench/generate_data.py --database-url URL --contacts 1000000 --events 10000000
    .venv/bin/python bench/segments.py rebuild     --database-url URL   # 20 segments: first build, rebuild
    .venv/bin/python bench/segments.py incremental --database-url URL   # processor cost per event
    .venv/bin/python bench/segments.py latency     --database-url URL   # event → segment.entered
    .venv/bin/python bench/segments.py dashboard   --database-url URL   # channel-quality page
    .venv/bin/python bench/segments.py explain     --database-url URL [keys…]  # query plans

Targets (issue 4), on SQLite and PostgreSQL with 1,000,000 contacts and 10,000,000 events: each of
the 20 representative segments rebuilt in ≤ 1 s and all 20 in ≤ 10 s; incremental evaluation ≤ 1 ms
per event; event → segment.entered p99 ≤ 500 ms while ingesting at half the maximum rate; the
channel-quality dashboard ≤ 2 s; peak memory ≤ 2 GB. Every run measures a plain SQL scan of the
same data as its baseline and writes its figures to docs/benchmarks.md (`--no-record` to skip).

- rebuild: (re)creates the 20 segments of bench/_segments_defs.py with `segment_create(build_now=True)`
  (first build: empty membership, every member entered with its history row), then rebuilds each
  with `segment_build` (steady state: nothing or little changed), and counts each compiled query
  alone (`SELECT COUNT(*)` over it); baselines `SELECT COUNT(*)` of the events and contacts tables.
- incremental: the same stream of events (existing contacts and 20% new visitors; page views, article
  reads, product views, orders) accepted with `events_accept` and processed with `inbound_process`
  in the processor's chunks, once with the 20 segments hidden (not ready) and once with them; the
  difference per event is the segments' cost. Then `segments_reevaluate` timed directly for batches
  of 1, 10, 100 and 1,000 contacts.
- latency: `siyu serve` (web, event processor, segment clock) on the database; the maximum ingestion
  rate is measured first (or given): a flood through the gateway with the processor running, the
  events sent divided by the time until the last of them is processed (a rate the gateway accepts
  but the processor cannot keep up with only grows a backlog). Background traffic then runs at half
  of it while a fresh
  visitor's ¥888 order is sent every 0.25 s; each enters “90 天内有 ¥500 以上订单”. Latency is
  `MembershipChange.at` (cause activity) minus the event's `received_at`, from the database.
- dashboard: `siyu serve` (web only); the channel-quality page for the default period and for 365
  days, 5 times each after a warm-up, through a logged-in client; also the selector alone in-process.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import itertools
import os
import random
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from _common import (
    ROOT,
    WEB_WORKERS,
    bench_env,
    iso,
    load_average,
    peak_rss_mb,
    percentile,
    record,
    say,
    server_process,
    web_login,
)
from _segments_defs import LATENCY_SEGMENT, PREFIX, SPECS, Names, SegmentSpec
from generate_data import PASSWORD, WORKSPACE_SLUG, WRITE_KEY, django_setup, is_sqlite

TARGET_ONE_MS = 1000
TARGET_ALL_MS = 10_000
TARGET_RSS_MB = 2048


def kind_of(url: str) -> str:
    return "SQLite" if is_sqlite(url) else "PostgreSQL"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


# -- Django in-process ---------------------------------------------------------------------------------


@dataclass
class Context:
    url: str
    workspace_id: uuid.UUID
    admin: Any  # Actor
    data: str  # what the database holds, for the record


def code_state() -> str:
    """The commit measured, and whether siyu/ had uncommitted changes (others edit the tree meanwhile)."""
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "siyu"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return f"code at {head.strip()}" + (" with uncommitted changes in siyu/" if dirty else "")


def open_workspace(url: str) -> Context:
    django_setup(url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)  # as `siyu serve` does on start
    from siyu.core.tenancy import workspace_scope
    from siyu.tenancy.models import Member
    from siyu.tenancy.selectors import actor_for_member, workspace_get_by_slug

    workspace = workspace_get_by_slug(slug=WORKSPACE_SLUG)
    with workspace_scope(workspace.id):
        owner = Member.objects.get(user__username="bench-admin")
        admin = actor_for_member(member=owner)
    return Context(url=url, workspace_id=workspace.id, admin=admin, data=f"{describe_data()}; {code_state()}")


def scalar(sql: str, params: Sequence[Any] = ()) -> Any:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return row[0] if row else None


def describe_data() -> str:
    contacts = scalar("SELECT COUNT(*) FROM contacts_contact")
    events = scalar("SELECT COUNT(*) FROM tracking_event")
    purchases = scalar("SELECT COUNT(*) FROM tracking_purchase")
    return f"{contacts:,} contacts, {events:,} events, {purchases:,} orders"


def names() -> Names:
    from siyu.contacts.models import Channel, Tag
    from siyu.tenancy.models import Team

    return Names(
        tags={tag.name: tag.id for tag in Tag.objects.all()},
        teams={team.name: team.id for team in Team.objects.all()},
        channels={channel.code: channel.id for channel in Channel.objects.all()},
    )


def bench_segments() -> dict[str, Any]:
    """The benchmark's segments in this workspace, by spec key."""
    from siyu.segments.models import Segment

    by_name = {s.name: s for s in Segment.objects.filter(name__startswith=PREFIX)}
    return {spec.key: by_name[PREFIX + spec.name] for spec in SPECS if PREFIX + spec.name in by_name}


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


# -- rebuild -----------------------------------------------------------------------------------------


def baselines(repeat: int = 3) -> dict[str, list[float]]:
    """Plain SQL scans of the same data: COUNT(*) of the events and of the contacts."""
    result: dict[str, list[float]] = {"tracking_event": [], "contacts_contact": []}
    for _ in range(repeat):
        for table in result:
            seconds, _count = timed(functools.partial(scalar, f"SELECT COUNT(*) FROM {table}"))  # noqa: S608 - constant names
            result[table].append(seconds)
    return result


def count_compiled(segment: Any) -> tuple[float, int]:
    """The segment's compiled query alone: SELECT COUNT(*) over it."""
    from django.core.exceptions import EmptyResultSet

    from siyu.contacts.selectors import contact_rows
    from siyu.segments.services.evaluation import segment_compile

    compiled = segment_compile(segment=segment)
    try:
        sql, params = contact_rows().filter(compiled.q()).values("id").query.sql_with_params()
    except EmptyResultSet:
        return 0.0, 0
    return timed(lambda: scalar(f"SELECT COUNT(*) FROM ({sql}) AS q", params))  # noqa: S608 - compiled SQL


# The segment tables the builds write, and the tables the other benchmarks' events write (new
# visitors, their identities and counters, appended events): without a vacuum their pages are not
# marked all-visible, and PostgreSQL reads the heap instead of answering from an index alone.
WRITTEN_TABLES = (
    "segments_segmentmember",
    "segments_membershipchange",
    "segments_recheck",
    "contacts_contact",
    "contacts_identity",
    "tracking_contactactivity",
    "tracking_event",
    "tracking_eventnumber",
    "tracking_eventtext",
)


def vacuum_written_tables() -> None:
    """What autovacuum does within a minute of the first builds' (and earlier runs') writes on a
    live PostgreSQL; this machine's server runs with autovacuum off, so the benchmark does it."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for table in WRITTEN_TABLES:
            cursor.execute(f"VACUUM ANALYZE {table}")


def remove_previous(ctx: Context) -> int:
    from siyu.segments.services.evaluation import in_dependency_order
    from siyu.segments.services.segments import segment_delete

    existing = list(bench_segments().values())
    for segment in reversed(in_dependency_order(existing)):
        segment_delete(actor=ctx.admin, segment=segment)
    return len(existing)


@dataclass
class Built:
    spec: SegmentSpec
    first_s: float
    rebuild_s: float
    query_s: float
    members: int
    rechecks: int
    first_added: int
    rebuild_changed: int


def run_rebuild(args: argparse.Namespace) -> None:
    ctx = open_workspace(args.database_url)
    from siyu.core.tenancy import workspace_scope
    from siyu.segments.models import Recheck, SegmentBuild
    from siyu.segments.services.evaluation import segment_build
    from siyu.segments.services.segments import segment_create

    load_before = load_average()
    with workspace_scope(ctx.workspace_id):
        removed = remove_previous(ctx)
        if removed:
            say(f"removed the {removed} segments of an earlier run")
        vacuum_written_tables()
        lookups = names()
        say("baselines …")
        base_before = baselines()
        ids: dict[str, uuid.UUID] = {}
        segments: dict[str, Any] = {}
        first: dict[str, float] = {}
        say("first builds (segment_create with build_now) …")
        for spec in SPECS:
            rules = spec.rules(lookups, ids)
            seconds, segment = timed(
                functools.partial(
                    segment_create, actor=ctx.admin, name=PREFIX + spec.name, rules=rules, build_now=True
                )
            )
            ids[spec.key], segments[spec.key], first[spec.key] = segment.id, segment, seconds
            say(f"  {spec.key:<22} {seconds * 1000:>9,.0f} ms  {segment.member_count:>9,} members")
        first_builds = {
            b.segment_id: b for b in SegmentBuild.objects.filter(segment_id__in=list(ids.values()))
        }
        vacuum_written_tables()
        say("rebuilds (segment_build, steady state) …")
        rebuild: dict[str, float] = {}
        changed: dict[str, int] = {}
        for spec in SPECS:
            seconds, build = timed(functools.partial(segment_build, segment=segments[spec.key]))
            rebuild[spec.key] = seconds
            changed[spec.key] = (build.added + build.removed) if build is not None else 0
            say(f"  {spec.key:<22} {seconds * 1000:>9,.0f} ms")
        say("compiled queries alone …")
        results = []
        for spec in SPECS:
            segment = segments[spec.key]
            segment.refresh_from_db()
            query_s, count = count_compiled(segment)
            build = first_builds.get(segment.id)
            results.append(
                Built(
                    spec=spec,
                    first_s=first[spec.key],
                    rebuild_s=rebuild[spec.key],
                    query_s=query_s,
                    members=segment.member_count,
                    rechecks=Recheck.objects.filter(segment=segment).count(),
                    first_added=build.added if build is not None else 0,
                    rebuild_changed=changed[spec.key],
                )
            )
            if count != segment.member_count:
                say(f"  note: {spec.key}: query counts {count:,}, members {segment.member_count:,}")
        base_after = baselines()
    load_after = load_average()
    lines = rebuild_lines(args, ctx, results, base_before, base_after, load_before, load_after)
    print("\n".join(lines))
    if not args.no_record:
        record(f"Segments — rebuild ({kind_of(ctx.url)})", lines)


def _verdict(value_ms: float, target_ms: float) -> str:
    return "met" if value_ms <= target_ms else "**missed**"


def rebuild_lines(
    args: argparse.Namespace,
    ctx: Context,
    results: list[Built],
    base_before: dict[str, list[float]],
    base_after: dict[str, list[float]],
    load_before: float,
    load_after: float,
) -> list[str]:
    kind = kind_of(ctx.url)
    total_first = sum(r.first_s for r in results)
    total_rebuild = sum(r.rebuild_s for r in results)
    total_query = sum(r.query_s for r in results)
    over = [r for r in results if r.rebuild_s * 1000 > TARGET_ONE_MS]
    lines = [
        f"Command: `.venv/bin/python bench/segments.py rebuild --database-url {ctx.url}` — {kind}, "
        f"data from `bench/generate_data.py` ({ctx.data}). In one process: `segment_create(build_now=True)` "
        "for each segment in turn (first build: every member entered, with history rows and clock "
        "re-checks), then `segment_build` of each (rebuild, steady state), then the compiled query "
        "alone (`SELECT COUNT(*)` over it). On PostgreSQL the tables written by the builds and by the "
        "other benchmarks (segments, contacts, identities, activity, events and their numbers) are vacuumed and analyzed "
        "after an earlier run's segments are removed and again after the first builds, as autovacuum "
        f"would (it is off on this machine's server). Load average {load_before:.1f} before, {load_after:.1f} after "
        "(other sessions' work shares the 2 cores).",
        "",
        "| # | segment | what it exercises | members | first build | **rebuild** | query alone | rechecks | target |",
        "|---:|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for number, r in enumerate(results, start=1):
        lines.append(
            f"| {number} | {r.spec.name} | {r.spec.shape} | {r.members:,} | {ms(r.first_s)} | "
            f"**{ms(r.rebuild_s)}** | {ms(r.query_s)} | {r.rechecks:,} | ≤ 1 s: {_verdict(r.rebuild_s * 1000, TARGET_ONE_MS)} |"
        )
    lines += [
        f"| | **all 20** | | | {ms(total_first)} | **{ms(total_rebuild)}** | {ms(total_query)} | | "
        f"≤ 10 s: {_verdict(total_rebuild * 1000, TARGET_ALL_MS)} |",
        "",
        "| baseline, same run (before / after the builds) | 1st | median of 3 |",
        "|---|---:|---:|",
    ]
    for table, label in (("tracking_event", "events"), ("contacts_contact", "contacts")):
        lines.append(
            f"| plain scan: `COUNT(*)` of `{table}` ({label}) | {ms(base_before[table][0])} / "
            f"{ms(base_after[table][0])} | {ms(statistics.median(base_before[table]))} / "
            f"{ms(statistics.median(base_after[table]))} |"
        )
    rss = peak_rss_mb()
    lines += [
        "",
        f"Segments over 1 s on rebuild: {len(over)} of {len(results)}"
        + (f" ({', '.join(r.spec.name for r in over)})" if over else "")
        + f". Peak RSS of the benchmark process (Django, all builds): **{rss:,.0f} MB** "
        f"(target ≤ 2 GB: {'met' if rss <= TARGET_RSS_MB else '**missed**'}).",
    ]
    return lines


# -- incremental ------------------------------------------------------------------------------------


CATEGORIES = ("护肤", "彩妆", "母婴", "健康", "穿搭", "美食")


def stream_messages(
    rng: random.Random, count: int, known: Sequence[str], *, tag: str, new_share: float = 0.2
) -> list[dict[str, Any]]:
    """Segment-spec messages like the site sends: page views, article reads, product views, orders."""
    now = datetime.now(UTC)
    messages = []
    fresh = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(max(1, int(count * new_share / 3)))]
    for n in range(count):
        anonymous_id = rng.choice(fresh) if rng.random() < new_share else rng.choice(known)
        moment = now - timedelta(seconds=rng.uniform(0, 5))
        category = rng.choice(CATEGORIES)
        page = {"url": f"https://m.huayang.cn/articles/{n % 60}", "path": f"/articles/{n % 60}"}
        base: dict[str, Any] = {
            "messageId": f"bench-{tag}-{n:07d}-{uuid.UUID(int=rng.getrandbits(128))}",
            "anonymousId": anonymous_id,
            "timestamp": iso(moment),
            "context": {"page": page, "library": {"name": "siyu.js", "version": "1.0.0"}, "locale": "zh-CN"},
        }
        roll = rng.random()
        if roll < 0.45:
            messages.append({**base, "type": "page", "name": f"{category}专栏", "properties": dict(page)})
        elif roll < 0.7:
            properties = {
                "article_id": f"A{n % 60:04d}",
                "category": category,
                "dwell_seconds": rng.randrange(5, 200),
            }
            messages.append({**base, "type": "track", "event": "Article Read", "properties": properties})
        elif roll < 0.97:
            properties = {"product_id": f"SKU-{n % 100:04d}", "category": category, "price": 199.0}
            messages.append({**base, "type": "track", "event": "Product Viewed", "properties": properties})
        else:
            properties = {
                "order_id": f"BENCH-{tag}-{n:07d}",
                "revenue": float(rng.choice((99, 199, 388, 599, 1288))),
                "currency": "CNY",
            }
            messages.append({**base, "type": "track", "event": "Order Completed", "properties": properties})
    return messages


def known_anonymous_ids(count: int, seed: int) -> list[str]:
    from siyu.contacts.models import Identity

    total = Identity.objects.filter(type="anonymous_id").count()
    rng = random.Random(seed)
    offsets = sorted(rng.sample(range(total), min(count, total)))
    values = Identity.objects.filter(type="anonymous_id").order_by("id").values_list("value", flat=True)
    # Evenly spread offsets are read with one keyset walk per block of 1,000.
    found: list[str] = []
    for start in range(0, len(offsets), 1000):
        block = offsets[start : start + 1000]
        found += [values[o] for o in block[:1]]
        found += list(values[block[0] + 1 : block[0] + 1 + len(block) - 1])
    return found


def accept_and_process(messages: list[dict[str, Any]], *, chunk: int) -> tuple[float, int]:
    """events_accept in batches of 100 (not timed), then the processor until done (timed)."""
    from siyu.core.time import now
    from siyu.tracking.ingest.spec import Received
    from siyu.tracking.ingest.store import events_accept
    from siyu.tracking.models import Source
    from siyu.tracking.services.processing import inbound_process

    source = Source.objects.order_by("created_at").first()
    assert source is not None
    for start in range(0, len(messages), 100):
        events_accept(source=source, messages=messages[start : start + 100], received=Received(at=now()))
    processed = 0
    started = time.perf_counter()
    while True:
        done = inbound_process(max_events=chunk)
        if done.batches == 0:
            break
        processed += done.events
    return time.perf_counter() - started, processed


@contextlib.contextmanager
def segments_hidden(segment_ids: Sequence[uuid.UUID]) -> Iterator[None]:
    """The benchmark's segments taken out of incremental evaluation (not ready), then put back."""
    from siyu.segments.models import Segment

    Segment.objects.filter(id__in=segment_ids).update(is_ready=False)
    try:
        yield
    finally:
        Segment.objects.filter(id__in=segment_ids).update(is_ready=True)


def run_incremental(args: argparse.Namespace) -> None:
    ctx = open_workspace(args.database_url)
    from django.db import connection

    from siyu.core.tenancy import workspace_scope
    from siyu.segments.models import ChangeCause, MembershipChange
    from siyu.segments.services.evaluation import EVERYTHING, segments_reevaluate

    sqlite = connection.vendor == "sqlite"
    from siyu.tracking.management.commands.process_events import SQLITE_CHUNK_EVENTS
    from siyu.tracking.services.processing import CHUNK_EVENTS

    chunk = SQLITE_CHUNK_EVENTS if sqlite else CHUNK_EVENTS  # as `siyu process_events` takes them
    load_before = load_average()
    with workspace_scope(ctx.workspace_id):
        segments = bench_segments()
        if len(segments) != len(SPECS):
            raise SystemExit("run `bench/segments.py rebuild` first: the 20 segments are missing")
        ids = [s.id for s in segments.values()]
        known = known_anonymous_ids(4000, seed=3)
        say(f"{len(known):,} known visitors; warming up …")
        warm = stream_messages(random.Random(1), args.events, known, tag=f"w{time.time_ns()}")
        accept_and_process(warm, chunk=chunk)
        rounds = []
        stamp = time.time_ns()
        for round_number in range(args.rounds):
            without_msgs = stream_messages(
                random.Random(10 + round_number), args.events, known, tag=f"a{stamp}{round_number}"
            )
            with_msgs = stream_messages(
                random.Random(10 + round_number), args.events, known, tag=f"b{stamp}{round_number}"
            )
            without_s = with_s = 0.0
            without_n = with_n = entered = 0
            # Alternate which stream goes first, so drift in the machine's load favours neither.
            for hidden in (True, False) if round_number % 2 == 0 else (False, True):
                if hidden:
                    with segments_hidden(ids):
                        without_s, without_n = accept_and_process(without_msgs, chunk=chunk)
                else:
                    changes_before = MembershipChange.objects.filter(cause=ChangeCause.ACTIVITY).count()
                    with_s, with_n = accept_and_process(with_msgs, chunk=chunk)
                    entered = (
                        MembershipChange.objects.filter(cause=ChangeCause.ACTIVITY).count() - changes_before
                    )
            rounds.append((without_s, without_n, with_s, with_n, entered))
            say(
                f"  round {round_number + 1}: without {without_n:,} events in {without_s:.2f} s, "
                f"with {with_n:,} in {with_s:.2f} s ({entered} membership changes)"
            )
        say("segments_reevaluate directly …")
        keys = {
            "event:page:*",
            "activity:touch",
            "event:track:*",
            "event:track:Article Read",
            "event:track:Product Viewed",
            "event:track:Order Completed",
            "purchases",
        }
        rng = random.Random(7)
        from siyu.contacts.models import Contact

        total_contacts = Contact.objects.count()
        direct: list[tuple[str, int, list[float]]] = []
        for label, key_set in (("event keys", keys), ("every segment (contact:new)", {EVERYTHING})):
            for batch in (1, 10, 100, 1000):
                times = []
                for _ in range(3):
                    offset = rng.randrange(max(1, total_contacts - batch))
                    contact_ids = list(
                        Contact.objects.order_by("id").values_list("id", flat=True)[offset : offset + batch]
                    )
                    seconds, _changed = timed(
                        functools.partial(segments_reevaluate, contact_ids=contact_ids, keys=key_set)
                    )
                    times.append(seconds)
                direct.append((label, batch, times))
                say(f"  {label}, {batch} contacts: median {statistics.median(times) * 1000:,.1f} ms")
    load_after = load_average()
    lines = incremental_lines(args, ctx, rounds, direct, chunk, load_before, load_after)
    print("\n".join(lines))
    if not args.no_record:
        record(f"Segments — incremental evaluation ({kind_of(ctx.url)})", lines)


def incremental_lines(
    args: argparse.Namespace,
    ctx: Context,
    rounds: list[tuple[float, int, float, int, int]],
    direct: list[tuple[str, int, list[float]]],
    chunk: int,
    load_before: float,
    load_after: float,
) -> list[str]:
    kind = kind_of(ctx.url)
    without_s = sum(r[0] for r in rounds)
    without_n = sum(r[1] for r in rounds)
    with_s = sum(r[2] for r in rounds)
    with_n = sum(r[3] for r in rounds)
    entered = sum(r[4] for r in rounds)
    # The median over rounds of (with − without) per event: robust to a round disturbed by other work.
    per_event_ms = statistics.median(
        (b_s / max(1, b_n) - a_s / max(1, a_n)) * 1000 for a_s, a_n, b_s, b_n, _e in rounds
    )
    lines = [
        f"Command: `.venv/bin/python bench/segments.py incremental --database-url {ctx.url} "
        f"--events {args.events} --rounds {args.rounds}` — {kind}, {ctx.data}. Each round: two streams "
        f"of {args.events:,} events of the same shape (45% page views, 25% article reads, 27% product "
        "views, 3% orders; 80% from known visitors, 20% from new ones) accepted with `events_accept` and "
        f"processed in-process with `inbound_process` in chunks of {chunk} (as `siyu process_events` "
        "does); one with the 20 segments hidden from incremental evaluation (not ready), one with "
        "them, in alternating order, after a warm-up stream of the same size. Load average "
        f"{load_before:.1f} before, {load_after:.1f} after.",
        "",
        "| measure | value | target |",
        "|---|---:|---|",
        f"| processor without segments (baseline) | {without_n / without_s:,.0f} events/s "
        f"({without_s / max(1, without_n) * 1000:.2f} ms per event; {without_n:,} events in {without_s:.1f} s) | |",
        f"| processor with the 20 segments | {with_n / with_s:,.0f} events/s "
        f"({with_s / max(1, with_n) * 1000:.2f} ms per event; {with_n:,} events in {with_s:.1f} s; "
        f"{entered:,} entries and exits) | |",
        f"| **incremental evaluation per event** (median over rounds of with − without) | **{per_event_ms:.2f} ms** | ≤ 1 ms: "
        f"{_verdict(per_event_ms, 1.0)} |",
    ]
    for round_number, (a_s, a_n, b_s, b_n, _e) in enumerate(rounds, start=1):
        lines.append(
            f"| round {round_number}: without / with | {a_s / max(1, a_n) * 1000:.2f} / "
            f"{b_s / max(1, b_n) * 1000:.2f} ms per event | |"
        )
    lines += [
        "",
        "`segments_reevaluate` called directly for a batch of existing contacts (median of 3; the "
        "changed contacts' segments found through the dependency index):",
        "",
        "| keys | contacts | median | per contact |",
        "|---|---:|---:|---:|",
    ]
    for label, batch, times in direct:
        median = statistics.median(times)
        lines.append(f"| {label} | {batch:,} | {median * 1000:,.1f} ms | {median * 1000 / batch:,.2f} ms |")
    lines += ["", f"Peak RSS of the benchmark process: {peak_rss_mb():,.0f} MB."]
    return lines


# -- a running server ---------------------------------------------------------------------------------


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]

    def tree(self) -> list[int]:
        """Every process of the server (web, processor, clock, workers) and their children."""
        found = [self.process.pid]
        index = 0
        while index < len(found):
            parent = found[index]
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                try:
                    if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == parent:
                        found.append(int(entry.name))
                except (OSError, IndexError, ValueError):
                    continue
            index += 1
        return found

    def peak_memory(self) -> list[tuple[str, int]]:
        """(command, peak resident MB) of each process of the server, from /proc (VmHWM)."""
        result: list[tuple[str, int]] = []
        for pid in self.tree():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:80]
            except OSError:
                continue
            result.extend(
                (command, int(line.split()[1]) // 1024)
                for line in status.splitlines()
                if line.startswith("VmHWM:")
            )
        return result


@contextlib.contextmanager
def serve(url: str, var_dir: Path, *extra: str, startup_timeout: float = 900.0) -> Iterator[Server]:
    """`siyu serve` on the big database; waits as long as start-up takes (it runs ANALYZE on SQLite)."""
    log_path = Path(tempfile.gettempdir()) / f"siyu-bench-serve-{os.getpid()}.log"  # kept for a post-mortem
    say(f"siyu serve's output: {log_path}")
    started = time.perf_counter()
    env = bench_env(url, var_dir)
    with server_process(env, *extra, log=log_path, startup_timeout=startup_timeout) as (base, process):
        say(f"siyu serve up in {time.perf_counter() - started:.0f} s")
        yield Server(base, process)


def memory_line(peaks: list[tuple[str, int]]) -> str:
    if not peaks:
        return "Peak memory of the server's processes: not read."
    largest = max(mb for _c, mb in peaks)
    parts = ", ".join(f"{mb:,} MB" for _c, mb in sorted(peaks, key=lambda p: -p[1]))
    return (
        f"Peak resident memory of the server's processes (VmHWM): {parts}; the largest **{largest:,} MB** "
        f"(target ≤ 2 GB: {'met' if largest <= TARGET_RSS_MB else '**missed**'})."
    )


# -- latency ------------------------------------------------------------------------------------------


def probe_body(anonymous_id: str, message_id: str, order_id: str) -> bytes:
    import orjson

    now = iso(datetime.now(UTC))
    event = {
        "type": "track",
        "event": "Order Completed",
        "messageId": message_id,
        "anonymousId": anonymous_id,
        "properties": {"order_id": order_id, "revenue": 888.0, "currency": "CNY"},
        "context": {"library": {"name": "siyu.js", "version": "1.0.0"}, "locale": "zh-CN"},
        "originalTimestamp": now,
    }
    return orjson.dumps({"batch": [event], "sentAt": now})


class Backlog:
    """Events waiting for the processor, read from the partial index of unprocessed batches (cheap even
    with 10M stored events, unlike counting the events table)."""

    QUERY = "SELECT COALESCE(SUM(event_count), 0) FROM tracking_inboundbatch WHERE processed_at IS NULL"

    def __init__(self, url: str) -> None:
        from _common import SqlReader

        self.reader = SqlReader(url)

    def pending(self) -> int:
        return int(self.reader.one(self.QUERY)[0])

    def wait(self, *, timeout: float) -> tuple[float, int, bool]:
        """Until nothing waits or `timeout`: (seconds, events processed meanwhile, drained)."""
        started = time.perf_counter()
        first = current = self.pending()
        while current and time.perf_counter() - started < timeout:
            time.sleep(1)
            current = self.pending()
        return time.perf_counter() - started, first - current, current == 0

    def close(self) -> None:
        self.reader.close()


@dataclass
class LatencyRun:
    background_planned: float
    background_sent: float
    probes: list[tuple[str, str]]  # (anonymous id, message id)
    ack_ms: list[float]
    backlog_at_end: int


def latency_run(
    server: Server,
    templates: Any,
    numbers: itertools.count[int],
    backlog: Backlog,
    *,
    rate: float,
    seconds: float,
    clients: int,
    tag: str,
) -> LatencyRun:
    from ingest_events import basic_auth, paced

    background: dict[str, Any] = {}

    def load() -> None:
        sent, _replays = paced(
            server.url,
            templates,
            numbers,
            clients=clients,
            seconds=seconds + 4,
            events_per_second=rate,
            replay_share=0.0,
            rng=random.Random(5),
        )
        background["sent"] = sent

    loader = threading.Thread(target=load)
    loader.start()
    time.sleep(2)
    probes: list[tuple[str, str]] = []
    ack_ms = []
    interval = 0.25
    with httpx.Client(
        base_url=server.url,
        timeout=30,
        headers={"Authorization": basic_auth(WRITE_KEY), "Content-Type": "text/plain"},
    ) as sender:
        start = time.perf_counter()
        for n in range(int(seconds / interval)):
            due = start + n * interval
            if (delay := due - time.perf_counter()) > 0:
                time.sleep(delay)
            anonymous_id = str(uuid.uuid4())
            message_id = f"probe-{tag}-{n:04d}-{uuid.uuid4()}"
            before = time.perf_counter()
            response = sender.post(
                "/v1/batch", content=probe_body(anonymous_id, message_id, f"PROBE-{tag}-{n:04d}")
            )
            ack_ms.append((time.perf_counter() - before) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"probe refused: HTTP {response.status_code} {response.text[:300]}")
            probes.append((anonymous_id, message_id))
    loader.join()
    sent = background["sent"]
    return LatencyRun(
        background_planned=rate,
        background_sent=sent.events / sent.seconds if sent.seconds else 0.0,
        probes=probes,
        ack_ms=ack_ms,
        backlog_at_end=backlog.pending(),
    )


def probe_latencies(
    segment_id: uuid.UUID, probes: list[tuple[str, str]]
) -> tuple[list[float], list[float], int]:
    """(event → MembershipChange.at, event → its batch's processed_at, missing) in ms, from the database."""
    from siyu.segments.models import MembershipChange
    from siyu.tracking.models import Event, InboundBatch

    entered: list[float] = []
    processed: list[float] = []
    missing = 0
    for _anonymous_id, message_id in probes:
        event = Event.objects.filter(message_id=message_id).values("contact_id", "received_at").first()
        if event is None or event["contact_id"] is None:
            missing += 1
            continue
        change = (
            MembershipChange.objects.filter(
                segment_id=segment_id, contact_id=event["contact_id"], kind="entered", cause="activity"
            )
            .order_by("at")
            .values_list("at", flat=True)
            .first()
        )
        if change is None:
            missing += 1
            continue
        entered.append((change - event["received_at"]).total_seconds() * 1000)
        batch = (
            InboundBatch.objects.filter(received_at=event["received_at"])
            .values_list("processed_at", flat=True)
            .first()
        )
        if batch is not None:
            processed.append((batch - event["received_at"]).total_seconds() * 1000)
    return entered, processed, missing


def run_latency(args: argparse.Namespace) -> None:
    ctx = open_workspace(args.database_url)
    from django.db import connections
    from ingest_events import Templates, closed_loop, warm_up

    from siyu.core.tenancy import workspace_scope
    from siyu.tracking.models import Source

    with workspace_scope(ctx.workspace_id):
        segments = bench_segments()
        if LATENCY_SEGMENT not in segments:
            raise SystemExit("run `bench/segments.py rebuild` first: the 20 segments are missing")
        target = segments[LATENCY_SEGMENT]
        # The generated source takes the key bench/ingest_events.py sends with (older data had another).
        Source.objects.filter(id=Source.objects.order_by("created_at").values("id")[:1]).update(
            write_key=WRITE_KEY
        )
    connections.close_all()
    templates = Templates.build()
    numbers = itertools.count(int(time.time()) * 1000)
    load_before = load_average()
    runs: list[tuple[str, LatencyRun, list[float], list[float], int]] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory() as var_dir, serve(ctx.url, Path(var_dir)) as server:
        backlog = Backlog(ctx.url)
        try:
            backlog.wait(timeout=args.drain_timeout)
            warm_up(server.url, templates, numbers, args.clients)
            max_rate = args.max_rate
            gateway_rate = 0.0
            processor_rate = 0.0
            measured = "given"
            if not max_rate:
                say(f"max ingestion rate: a flood of {args.max_seconds:.0f} s with the processor running …")
                peak = closed_loop(server.url, templates, numbers, args.clients, args.max_seconds)
                gateway_rate = peak.events / peak.seconds
                say(f"  the gateway accepted {gateway_rate:,.0f} events/s; waiting until all are processed …")
                drain_seconds, drained, done = backlog.wait(timeout=args.drain_timeout)
                if not done:
                    raise SystemExit(
                        f"the flood was not processed within {args.drain_timeout:.0f} s: no rate to halve"
                    )
                processor_rate = drained / drain_seconds if drain_seconds > 2 else 0.0
                # Ingested = accepted and processed: a rate the gateway takes but the processor cannot
                # keep up with only grows a backlog, so the maximum is the end-to-end one.
                max_rate = peak.events / (peak.seconds + drain_seconds)
                measured = (
                    f"measured here, end to end: {peak.events:,} events sent in {peak.seconds:.1f} s, all processed "
                    f"{drain_seconds:.0f} s later; the gateway alone accepted {gateway_rate:,.0f} events/s, and the "
                    f"processor worked through the backlog at {processor_rate:,.0f} events/s"
                )
            say(f"  max ingestion rate {max_rate:,.0f} events/s")
            label = "half the max ingestion rate"
            rate = max_rate / 2
            say(f"{label}: {rate:,.0f} events/s background + a probe order every 0.25 s …")
            run = latency_run(
                server,
                templates,
                numbers,
                backlog,
                rate=rate,
                seconds=args.seconds,
                clients=args.clients,
                tag=f"{int(time.time())}",
            )
            say(f"  backlog {run.backlog_at_end:,}; waiting for the processor …")
            _s, _n, done = backlog.wait(timeout=args.drain_timeout)
            with workspace_scope(ctx.workspace_id):
                entered, processed, missing = probe_latencies(target.id, run.probes)
            connections.close_all()
            runs.append((label, run, entered, processed, missing))
            say(f"  p99 {percentile(entered, 99):,.0f} ms ({missing} missing)")
            if not done:
                notes.append(
                    f"The processor had not caught up {args.drain_timeout:.0f} s after the probes ended "
                    f"({backlog.pending():,} events still waiting); probes not processed by then count as missing."
                )
            peaks = server.peak_memory()
        finally:
            backlog.close()
    load_after = load_average()
    kind = kind_of(ctx.url)
    lines = [
        f"Command: `.venv/bin/python bench/segments.py latency --database-url {ctx.url} --seconds "
        f"{args.seconds:g}` — {kind}, {ctx.data}, the 20 segments built. `siyu serve` with {WEB_WORKERS} web "
        "processes, the event processor and the segment clock. A probe is one `Order Completed` of ¥888 by "
        "a new visitor (its own anonymousId), one every 0.25 s; it makes the visitor enter "
        "“90 天内有 ¥500 以上订单”. Latency: the membership change's `at` (cause activity) minus the event's "
        "`received_at`, both read from the database afterwards; also to the `processed_at` of the probe's "
        "inbound batch (the end of the processor's chunk, just before its commit). Background: the "
        "anonymous batches of bench/ingest_events.py. Maximum ingestion rate (events accepted and processed "
        f"per second, with web and processor running): {max_rate:,.0f} events/s ({measured}). "
        f"Load average {load_before:.1f} before, {load_after:.1f} after.",
        "",
        "| run | event → segment.entered | event → chunk processed | target |",
        "|---|---|---|---|",
    ]
    for label, run, entered, processed, missing in runs:
        lat = entered + [float("inf")] * missing

        def fmt(value: float) -> str:
            return "missing" if value == float("inf") else f"{value:,.0f} ms"

        lines.append(
            f"| {label}: background {run.background_sent:,.0f} events/s (planned {run.background_planned:,.0f}); "
            f"{len(run.probes)} probes, ack p99 {percentile(run.ack_ms, 99):,.0f} ms; backlog when the probes "
            f"ended {run.backlog_at_end:,} events | p50 {fmt(percentile(lat, 50))} / p95 {fmt(percentile(lat, 95))} / "
            f"**p99 {fmt(percentile(lat, 99))}** / max {fmt(max(lat, default=float('nan')))}"
            + (f" ({missing} missing)" if missing else "")
            + f" | p50 {percentile(processed, 50):,.0f} / p99 {percentile(processed, 99):,.0f} ms | p99 ≤ 500 ms: "
            f"{_verdict(percentile(lat, 99), 500)} |"
        )
    lines += ["", *notes, memory_line(peaks)]
    print("\n".join(lines))
    if not args.no_record:
        record(f"Segments — event to segment.entered latency ({kind})", lines)


# -- dashboard ----------------------------------------------------------------------------------------


def run_dashboard(args: argparse.Namespace) -> None:
    ctx = open_workspace(args.database_url)
    from django.db import connections

    from siyu.analytics.periods import DEFAULT_PRESET, period_last
    from siyu.analytics.selectors import channel_quality
    from siyu.core.tenancy import workspace_scope

    load_before = load_average()
    selector: dict[int, list[float]] = {}
    with workspace_scope(ctx.workspace_id):
        base = [timed(lambda: scalar("SELECT COUNT(*) FROM contacts_contact"))[0] for _ in range(3)]
        base_events = [timed(lambda: scalar("SELECT COUNT(*) FROM tracking_event"))[0] for _ in range(3)]
        for days in (DEFAULT_PRESET, 365):
            period = period_last(days)
            selector[days] = [timed(functools.partial(channel_quality, actor=ctx.admin, period=period))[0]]
            say(f"selector, {days} days: {[round(s * 1000) for s in selector[days]]} ms")
    connections.close_all()
    pages: dict[int, list[float]] = {}
    with tempfile.TemporaryDirectory() as var_dir, serve(ctx.url, Path(var_dir), "--no-worker") as server:
        client = web_login(server.url, "bench-admin", PASSWORD)
        client.timeout = httpx.Timeout(120)
        health = []
        for _ in range(5):
            seconds, _r = timed(lambda: client.get("/healthz"))
            health.append(seconds)
        runs: dict[int, int] = {}
        for days, query in ((DEFAULT_PRESET, ""), (365, "?preset=365")):
            warm_s, warm = timed(functools.partial(client.get, f"/analytics/channels/{query}"))
            if warm.status_code != 200:
                raise SystemExit(f"channel quality page: HTTP {warm.status_code}")
            # A page that takes minutes is measured fewer times (the record says so).
            runs[days] = args.runs if warm_s < 60 else min(args.runs, 2)
            pages[days] = []
            for _ in range(runs[days]):
                seconds, response = timed(functools.partial(client.get, f"/analytics/channels/{query}"))
                if response.status_code != 200:
                    raise SystemExit(f"channel quality page: HTTP {response.status_code}")
                pages[days].append(seconds)
            say(f"page, {days} days: {[round(s * 1000) for s in pages[days]]} ms")
        peaks = server.peak_memory()
    load_after = load_average()
    kind = kind_of(ctx.url)
    lines = [
        f"Command: `.venv/bin/python bench/segments.py dashboard --database-url {ctx.url} --runs "
        f"{args.runs}` — {kind}, {ctx.data}. The channel-quality page (`/analytics/channels/`) through a "
        "client logged in as the owner, against `siyu serve` (web only), after one warm-up request per "
        "period (fewer runs when that request took over a minute); and its selector (`channel_quality`) "
        "once in-process, before the server started. Load average "
        f"{load_before:.1f} before, {load_after:.1f} after.",
        "",
        "| measure | p50 | max | target |",
        "|---|---:|---:|---|",
    ]
    for days in (DEFAULT_PRESET, 365):
        label = f"last {days} days" + (" (the default)" if days == DEFAULT_PRESET else "")
        lines.append(
            f"| **page, {label}** ({runs[days]} runs) | **{ms(statistics.median(pages[days]))}** | "
            f"{ms(max(pages[days]))} | ≤ 2 s: {_verdict(max(pages[days]) * 1000, 2000)} |"
        )
        lines.append(f"| selector alone in-process, {label} (1 run) | {ms(selector[days][0])} | | |")
    lines += [
        f"| baseline: `GET /healthz` | {ms(statistics.median(health))} | {ms(max(health))} | |",
        f"| baseline: plain scan, `COUNT(*)` of `contacts_contact` | {ms(statistics.median(base))} | {ms(max(base))} | |",
        f"| baseline: plain scan, `COUNT(*)` of `tracking_event` | {ms(statistics.median(base_events))} | "
        f"{ms(max(base_events))} | |",
        "",
        memory_line(peaks),
    ]
    print("\n".join(lines))
    if not args.no_record:
        record(f"Segments — channel-quality dashboard ({kind})", lines)


# -- explain ------------------------------------------------------------------------------------------


def run_explain(args: argparse.Namespace) -> None:
    ctx = open_workspace(args.database_url)
    from django.core.exceptions import EmptyResultSet
    from django.db import connection

    from siyu.contacts.selectors import contact_rows
    from siyu.core.tenancy import workspace_scope
    from siyu.segments.services.evaluation import segment_compile

    with workspace_scope(ctx.workspace_id):
        segments = bench_segments()
        for spec in SPECS:
            if args.keys and spec.key not in args.keys:
                continue
            segment = segments.get(spec.key)
            if segment is None:
                continue
            compiled = segment_compile(segment=segment)
            try:
                sql, params = contact_rows().filter(compiled.q()).values("id").query.sql_with_params()
            except EmptyResultSet:
                continue
            prefix = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS) "
            with connection.cursor() as cursor:
                started = time.perf_counter()
                cursor.execute(prefix + sql, params)
                plan = cursor.fetchall()
                seconds = time.perf_counter() - started
            print(f"== {spec.key} ({spec.name}) — {seconds * 1000:,.0f} ms")
            print(sql % tuple(repr(p) for p in params) if args.sql else "")
            for row in plan:
                print("   ", row[-1] if connection.vendor == "sqlite" else row[0])


# -- main ---------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description="Segment engine and channel-quality benchmarks.")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("rebuild", "incremental", "latency", "dashboard", "explain"):
        sub = commands.add_parser(name)
        sub.add_argument("--database-url", required=True, help="a database filled by bench/generate_data.py")
        sub.add_argument("--no-record", action="store_true", help="print, do not write docs/benchmarks.md")
        if name == "incremental":
            sub.add_argument("--events", type=int, default=3000, help="events per stream")
            sub.add_argument("--rounds", type=int, default=4)
        if name == "latency":
            sub.add_argument("--seconds", type=float, default=20.0)
            sub.add_argument("--max-seconds", type=float, default=10.0)
            sub.add_argument(
                "--max-rate", type=float, default=0.0, help="skip measuring the max rate; use this"
            )
            sub.add_argument("--clients", type=int, default=8)
            sub.add_argument("--drain-timeout", type=float, default=1800.0)
        if name == "dashboard":
            sub.add_argument("--runs", type=int, default=5)
        if name == "explain":
            sub.add_argument("keys", nargs="*")
            sub.add_argument("--sql", action="store_true")
    args = parser.parse_args()
    {
        "rebuild": run_rebuild,
        "incremental": run_incremental,
        "latency": run_latency,
        "dashboard": run_dashboard,
        "explain": run_explain,
    }[args.command](args)


if __name__ == "__main__":
    main()
