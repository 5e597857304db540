"""Event ingestion over HTTP against `siyu serve`, and the event processor behind it.

    .venv/bin/python bench/ingest_events.py --database sqlite|postgres [--seconds 20] [--clients 8]

`siyu serve` runs as in production (one web process per core, the event processor and the task
worker beside it) on a scratch database with one workspace and one website source (made with
`siyu createworkspace` and `siyu createsource`). Realistic Segment batches of 100 events (~60% page
views with full browser context, engagement and product tracks, some identifies; ~600-900 bytes each)
are posted from keep-alive HTTP clients:

1. max rate: `--clients` clients post back to back for `--seconds`; events/s acknowledged (HTTP 200,
   every event accepted) and the acknowledgement latency;
2. the processor drains the backlog with no ingestion going on (its own throughput);
3. half rate, paced: batches sent on a fixed schedule at half the measured maximum, 5% of them sent
   a second time a moment later by another client (a retry storm); acknowledgement latency;
4. after the processor drains again: stored events == unique messageIds sent, no duplicates.

The processor's progress is sampled from the database (stored events, unprocessed batches) twice a
second throughout. Baseline in the same run, with the server stopped: the raw insert ceiling — the
same number of rows as phase 1 written straight into the tracking_event table with executemany, one
transaction per 100 rows, from one process (rows prepared before the clock starts).
Targets (issue 3): ≥ 20,000 events/s on SQLite, ≥ 10,000 on PostgreSQL, p99 ack ≤ 100 ms at half
rate, zero duplicates.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
from _common import (
    PYTHON,
    ROOT,
    WEB_WORKERS,
    SqlReader,
    bench_env,
    iso,
    load_average,
    percentile,
    record,
    run_siyu,
    running_server,
    say,
    scratch_database,
)

BATCH = 100
TEMPLATES = 400
VISITORS = 40_000
ID_SLOT = b"#########"  # replaced by the batch number in every messageId of a batch
WRITE_KEY = "wk_bench_ingest_events_0001"
USER_AGENT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN"
)
TITLES = [
    "秋冬护肤指南：敏感肌的七个误区",
    "新品发布：玻尿酸精华 30ml",
    "会员日 | 全场满 299 减 50",
    "如何挑选适合自己的粉底液",
]
PATHS = [
    "/articles/autumn-skincare",
    "/product/hyaluronic-serum-30",
    "/campaign/member-day",
    "/articles/foundation",
]
SOURCES = [
    ("wechat", "social", "autumn"),
    ("weibo", "social", "launch"),
    ("", "", ""),
    ("baidu", "cpc", "brand"),
]


# -- the events ---------------------------------------------------------------------------------------


def _event(rng: random.Random, n: int, slot: str, moment: datetime) -> dict[str, Any]:
    visitor = rng.randrange(VISITORS)
    anonymous_id = f"{uuid.UUID(int=visitor * 7919 + 1)}"
    index = rng.randrange(len(PATHS))
    path, title = PATHS[index], TITLES[index]
    url = f"https://m.huayang.cn{path}"
    # Most visits carry no campaign: a quarter come from a tagged link.
    source, medium, campaign = rng.choice(SOURCES) if rng.random() < 0.25 else ("", "", "")
    search = f"?utm_source={source}&utm_medium={medium}&utm_campaign={campaign}" if source else ""
    referrer = "https://mp.weixin.qq.com/" if source == "wechat" else ""
    view_id = f"{uuid.UUID(int=rng.getrandbits(128))}"
    context: dict[str, Any] = {
        "page": {"url": url + search, "path": path, "title": title, "referrer": referrer, "search": search},
        "library": {"name": "siyu.js", "version": "1.0.0"},
        "locale": "zh-CN",
        "userAgent": USER_AGENT,
        "screen": {"width": 390, "height": 844},
    }
    if source:
        context["campaign"] = {"source": source, "medium": medium, "name": campaign}
    base = {
        "messageId": f"ev-{slot}-{n:03d}",
        "anonymousId": anonymous_id,
        "originalTimestamp": iso(moment),
        "context": context,
    }
    roll = rng.random()
    if roll < 0.6:
        properties: dict[str, Any] = {"url": url + search, "path": path, "title": title, "referrer": referrer}
        properties.update({"search": search, "view_id": view_id})
        return {**base, "type": "page", "name": title, "properties": properties}
    if roll < 0.85:
        dwell = rng.randrange(1_000, 15_000)
        properties = {"view_id": view_id, "url": url, "path": path, "title": title}
        properties.update(
            {"active_dwell_ms": dwell * 3, "dwell_delta_ms": dwell, "scroll_depth": rng.randrange(0, 101)}
        )
        return {
            **base,
            "type": "track",
            "event": rng.choice(["Page Engaged", "Page Left"]),
            "properties": properties,
        }
    if roll < 0.97:
        properties = {
            "product_id": f"SKU-{rng.randrange(500):04d}",
            "name": "玻尿酸精华 30ml",
            "price": 199.0,
            "currency": "CNY",
            "category": "护肤",
        }
        return {**base, "type": "track", "event": "Product Viewed", "properties": properties}
    traits = {"name": "访客" + str(visitor), "email": f"v{visitor}@example.com", "city": "上海"}
    return {**base, "type": "identify", "userId": f"user-{visitor}", "traits": traits}


@dataclass
class Templates:
    """Pre-serialised batches; the batch number is written into the messageIds at send time."""

    bodies: list[bytes]
    events: list[list[dict[str, Any]]]
    mean_event_bytes: float

    @classmethod
    def build(cls, seed: int = 3) -> Templates:
        rng = random.Random(seed)
        now = datetime.now(UTC)
        bodies, events = [], []
        sizes = []
        for _ in range(TEMPLATES):
            batch = [
                _event(rng, n, "#" * len(ID_SLOT), now - timedelta(seconds=rng.random()))
                for n in range(BATCH)
            ]
            sizes += [len(orjson.dumps(e)) for e in batch]
            events.append(batch)
            bodies.append(orjson.dumps({"batch": batch, "sentAt": iso(now)}))
        return cls(bodies=bodies, events=events, mean_event_bytes=sum(sizes) / len(sizes))

    def body(self, number: int) -> bytes:
        return self.bodies[number % TEMPLATES].replace(ID_SLOT, b"%09d" % number)


# -- sending ------------------------------------------------------------------------------------------


@dataclass
class Sent:
    seconds: float = 0.0
    batches: int = 0  # acknowledged requests, replays included
    latencies_ms: list[float] = field(default_factory=list)  # request sent → answer
    late_ms: list[float] = field(default_factory=list)  # scheduled send time → answer (paced runs)
    numbers: set[int] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def events(self) -> int:
        return self.batches * BATCH


def basic_auth(write_key: str) -> str:
    return "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()


def _client(url: str) -> httpx.Client:
    return httpx.Client(
        base_url=url,
        timeout=60,
        headers={"Content-Type": "application/json", "Authorization": basic_auth(WRITE_KEY)},
    )


def _post(client: httpx.Client, templates: Templates, number: int, sent: Sent) -> float:
    body = templates.body(number)
    started = time.perf_counter()
    response = client.post("/v1/batch", content=body)
    finished = time.perf_counter()
    ok = response.status_code == 200 and response.json().get("accepted") == BATCH
    with sent.lock:
        if ok:
            sent.batches += 1
            sent.numbers.add(number)
            sent.latencies_ms.append((finished - started) * 1000)
        elif len(sent.failures) < 20:
            sent.failures.append(f"{response.status_code}: {response.text[:200]}")
    return finished


def warm_up(url: str, templates: Templates, numbers: itertools.count[int], clients: int) -> Sent:
    """One batch per connection, so each web process has loaded its URL map before the clock starts."""
    sent = Sent()

    def one() -> None:
        with _client(url) as client:
            _post(client, templates, next(numbers), sent)

    threads = [threading.Thread(target=one) for _ in range(clients * 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sent


def closed_loop(
    url: str, templates: Templates, numbers: itertools.count[int], clients: int, seconds: float
) -> Sent:
    sent = Sent()
    stop_at = time.perf_counter() + seconds
    lock = threading.Lock()

    def run() -> None:
        with _client(url) as client:
            while time.perf_counter() < stop_at:
                with lock:
                    number = next(numbers)
                _post(client, templates, number, sent)

    started = time.perf_counter()
    threads = [threading.Thread(target=run) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent.seconds = time.perf_counter() - started
    return sent


def paced(
    url: str,
    templates: Templates,
    numbers: itertools.count[int],
    *,
    clients: int,
    seconds: float,
    events_per_second: float,
    replay_share: float,
    rng: random.Random,
) -> tuple[Sent, int]:
    """Batches on a fixed schedule; a share of them is sent again 50 ms-2 s later by another client."""
    interval = BATCH / events_per_second
    plan: list[tuple[float, int]] = []
    replays = 0
    for j in range(int(seconds / interval)):
        number = next(numbers)
        plan.append((j * interval, number))
        if rng.random() < replay_share:
            plan.append((j * interval + rng.uniform(0.05, 2.0), number))
            replays += 1
    plan.sort()
    sent = Sent()
    per_client = [plan[i::clients] for i in range(clients)]
    start = time.perf_counter() + 0.2

    def run(items: list[tuple[float, int]]) -> None:
        with _client(url) as client:
            for offset, number in items:
                due = start + offset
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                finished = _post(client, templates, number, sent)
                with sent.lock:
                    sent.late_ms.append((finished - due) * 1000)

    threads = [threading.Thread(target=run, args=(items,)) for items in per_client]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent.seconds = time.perf_counter() - start
    return sent, replays


# -- watching the processor ---------------------------------------------------------------------------


@dataclass
class Sample:
    at: float
    stored: int  # rows in tracking_event
    pending: int  # events in unprocessed inbound batches


class Sampler:
    """Twice a second: events stored and events waiting, straight from the database."""

    QUERY = (
        "SELECT (SELECT COUNT(*) FROM tracking_event), "
        "(SELECT COALESCE(SUM(event_count), 0) FROM tracking_inboundbatch WHERE processed_at IS NULL)"
    )

    def __init__(self, database_url: str) -> None:
        self.reader = SqlReader(database_url)
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def now(self) -> Sample:
        stored, pending = self.reader.one(self.QUERY)
        return Sample(time.perf_counter(), int(stored), int(pending))

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(self.now())
            self._stop.wait(0.5)

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.reader.close()

    def between(self, start: float, end: float) -> tuple[Sample, Sample]:
        inside = [s for s in self.samples if start <= s.at <= end] or self.samples[-1:]
        return inside[0], inside[-1]


def drain(sampler: Sampler, *, timeout: float) -> tuple[float, int]:
    """Wait until nothing is left to process; returns (seconds, events processed meanwhile)."""
    first = sampler.now()
    deadline = first.at + timeout
    current = first
    while current.pending and current.at < deadline:
        time.sleep(0.5)
        current = sampler.now()
    if current.pending:
        raise SystemExit(
            f"the processor did not drain within {timeout:.0f} s ({current.pending} events left)"
        )
    return current.at - first.at, current.stored - first.stored


def rate(sampler: Sampler, start: float, end: float) -> float:
    first, last = sampler.between(start, end)
    return (last.stored - first.stored) / (last.at - first.at) if last.at > first.at else float("nan")


# -- the raw insert ceiling ---------------------------------------------------------------------------


def raw_insert(database_url: str, templates: Templates, count: int) -> float:
    """Rows straight into tracking_event: executemany, one transaction per 100 rows, one process."""
    is_sqlite = database_url.startswith("sqlite")
    columns = (
        "id, workspace_id, source_id, message_id, type, name, contact_id, anonymous_id, user_id, "
        "properties, context, timestamp, received_at"
    )
    mark = "?" if is_sqlite else "%s"
    insert = f"INSERT INTO tracking_event ({columns}) VALUES ({', '.join([mark] * 13)})"  # noqa: S608 - constants
    reader = SqlReader(database_url)
    workspace_id, source_id = reader.one("SELECT workspace_id, id FROM tracking_source")
    reader.close()
    moment = datetime.now(UTC)
    stamp: Any = moment.strftime("%Y-%m-%d %H:%M:%S.%f") if is_sqlite else moment
    rows = []
    for n in range(count):
        e = templates.events[(n // BATCH) % TEMPLATES][n % BATCH]
        rows.append(
            (
                uuid.uuid4().hex if is_sqlite else uuid.uuid4(),
                workspace_id,
                source_id,
                f"raw-{n}",
                e["type"],
                e.get("event") or e.get("name") or "",
                None,
                e["anonymousId"],
                e.get("userId", ""),
                orjson.dumps(e.get("properties") or e.get("traits") or {}).decode(),
                orjson.dumps(e["context"]).decode(),
                stamp,
                stamp,
            )
        )
    if is_sqlite:
        conn = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=30, isolation_level=None)
        conn.execute("PRAGMA synchronous=NORMAL")
        started = time.perf_counter()
        for start in range(0, count, BATCH):
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(insert, rows[start : start + BATCH])
            conn.execute("COMMIT")
        seconds = time.perf_counter() - started
        conn.close()
        return seconds
    with psycopg.connect(database_url) as pg:
        started = time.perf_counter()
        for start in range(0, count, BATCH):
            with pg.transaction(), pg.cursor() as cursor:
                cursor.executemany(insert, rows[start : start + BATCH])
        return time.perf_counter() - started


# -- the run ------------------------------------------------------------------------------------------


class Processor:
    """`siyu process_events`, as `siyu serve` runs it, started and stopped by the benchmark."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                [PYTHON, "-m", "siyu.cli", "process_events"],
                env=self.env,
                cwd=ROOT,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", default="sqlite", help="sqlite, postgres, or a postgres:// admin URL")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each ingestion phase")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--replay-share", type=float, default=0.05)
    parser.add_argument("--drain-timeout", type=float, default=900.0)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    kind = "PostgreSQL" if args.database.startswith("postgres") else "SQLite"
    target = 20_000 if kind == "SQLite" else 10_000
    rng = random.Random(11)
    templates = Templates.build()
    numbers = itertools.count(1)
    load_before = load_average()

    with scratch_database(args.database) as database_url, tempfile.TemporaryDirectory() as var_dir:
        env = bench_env(database_url, Path(var_dir))
        run_siyu(env, "migrate", "--no-input", "-v", "0")
        owner = ["--owner", "bench-admin", "--password", "bench-password-123"]
        run_siyu(env, "createworkspace", "Bench", "--slug", "bench", *owner)
        run_siyu(env, "createsource", "--workspace", "bench", "--name", "官网", "--write-key", WRITE_KEY)
        processor = Processor(env, Path(var_dir) / "processor.log")
        # The web server as `siyu serve` runs it; the processor beside it is started and stopped here.
        with running_server(env, "--no-worker", log=Path(var_dir) / "serve.log") as url:
            sampler = Sampler(database_url).start()
            try:
                warm = warm_up(url, templates, numbers, args.clients)
                say(f"A. gateway alone: {args.clients} clients for {args.seconds:.0f} s …")
                alone = closed_loop(url, templates, numbers, args.clients, args.seconds)
                say(f"   {alone.events / alone.seconds:,.0f} events/s. B. processor drains the backlog …")
                processor.start()
                drain_seconds, drained = drain(sampler, timeout=args.drain_timeout)
                say(f"   {drained / drain_seconds:,.0f} events/s. C. max rate with the processor running …")
                peak_start = time.perf_counter()
                peak = closed_loop(url, templates, numbers, args.clients, args.seconds)
                peak_end = time.perf_counter()
                backlog_after_peak = sampler.now()
                max_rate = peak.events / peak.seconds
                say(f"   {max_rate:,.0f} events/s; draining {backlog_after_peak.pending:,} events …")
                drain(sampler, timeout=args.drain_timeout)
                half = max_rate / 2
                say(f"D. half rate {half:,.0f} events/s with a {args.replay_share:.0%} retry storm …")
                half_start = time.perf_counter()
                slow, replays = paced(
                    url,
                    templates,
                    numbers,
                    clients=args.clients,
                    seconds=args.seconds,
                    events_per_second=half,
                    replay_share=args.replay_share,
                    rng=rng,
                )
                half_end = time.perf_counter()
                backlog_after_half = sampler.now()
                say(f"   sent; draining {backlog_after_half.pending:,} events …")
                drain(sampler, timeout=args.drain_timeout)
            finally:
                processor.stop()
                sampler.stop()
            reader = SqlReader(database_url)
            stored, distinct = reader.one("SELECT COUNT(*), COUNT(DISTINCT message_id) FROM tracking_event")
            batches_stored, events_received = reader.one(
                "SELECT COUNT(*), COALESCE(SUM(event_count), 0) FROM tracking_inboundbatch"
            )
            reader.close()
        load_after = load_average()
        say("raw insert ceiling …")
        raw_rows = alone.events
        raw_seconds = raw_insert(database_url, templates, raw_rows)

    failures = warm.failures + alone.failures + peak.failures + slow.failures
    unique = len(warm.numbers | alone.numbers | peak.numbers | slow.numbers) * BATCH
    duplicates = stored - distinct
    alone_rate = alone.events / alone.seconds
    peak_processing = rate(sampler, peak_start, peak_end)
    half_processing = rate(sampler, half_start, half_end)
    drain_rate = drained / drain_seconds if drain_seconds else float("nan")
    half_sent = (slow.batches - replays) * BATCH / slow.seconds
    p = percentile
    lines = [
        f"Command: `.venv/bin/python bench/ingest_events.py --database {args.database.split(':')[0]} "
        f"--seconds {args.seconds:g} --clients {args.clients}` — {kind}. The web server as `siyu serve` runs "
        f"it ({WEB_WORKERS} uvicorn processes) and the event processor beside it (`siyu process_events`, "
        "started and stopped by the benchmark). Events: mean "
        f"{templates.mean_event_bytes:,.0f} bytes (60% page views with full browser context, 37% tracks, 3% "
        f"identifies), batches of 100, {args.clients} keep-alive clients. Load average {load_before:.1f} "
        f"before, {load_after:.1f} after.",
        "",
        "| measure | value | target |",
        "|---|---:|---|",
        f"| A. ingestion, processor stopped (acknowledged) | {alone_rate:,.0f} events/s ({alone.events:,} in "
        f"{alone.seconds:.1f} s); ack p50 / p99 {p(alone.latencies_ms, 50):.0f} / {p(alone.latencies_ms, 99):.0f} ms | |",
        f"| B. processor draining that backlog, no ingestion | {drain_rate:,.0f} events/s ({drained:,} in "
        f"{drain_seconds:.1f} s) | |",
        f"| C. **max sustained ingestion with the processor running** | **{max_rate:,.0f} events/s** "
        f"({peak.events:,} in {peak.seconds:.1f} s) | ≥ {target:,}/s |",
        f"| C. acknowledgement at max rate p50 / p99 | {p(peak.latencies_ms, 50):.0f} / "
        f"{p(peak.latencies_ms, 99):.0f} ms | |",
        f"| C. processor meanwhile | {peak_processing:,.0f} events/s (backlog {backlog_after_peak.pending:,} "
        "events when ingestion stopped) | |",
        f"| D. paced at half of C ({half_sent:,.0f} events/s) + {replays} batches sent twice "
        f"({replays / max(1, slow.batches - replays):.1%}): ack p50 / p99 | {p(slow.latencies_ms, 50):.0f} / "
        f"**{p(slow.latencies_ms, 99):.0f} ms** (from the scheduled send time: p99 {p(slow.late_ms, 99):.0f} ms) "
        "| p99 ≤ 100 ms |",
        f"| D. processor meanwhile | {half_processing:,.0f} events/s (backlog {backlog_after_half.pending:,} "
        f"events when ingestion stopped) | keeps up: {'yes' if half_processing >= 0.95 * half_sent else 'no'} |",
        f"| duplicates after the processor drained | **{duplicates}** ({stored:,} events stored = {unique:,} "
        f"unique messageIds sent; {events_received:,} received in {batches_stored:,} batches) | 0 |",
        f"| baseline: raw INSERT of {raw_rows:,} rows into tracking_event, 100 per transaction, one process | "
        f"{raw_rows / raw_seconds:,.0f} rows/s ({raw_seconds:.1f} s) | ceiling |",
    ]
    if failures:
        lines += ["", f"Refused or failed requests: {len(failures)}, e.g. {failures[:3]}"]
    print("\n".join(lines))
    if duplicates or stored != unique:
        print(f"UNEXPECTED: {stored} stored, {distinct} distinct, {unique} unique sent", file=sys.stderr)
    if not args.no_record:
        record(f"Event ingestion ({kind})", lines)


if __name__ == "__main__":
    main()
