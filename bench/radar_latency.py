"""Event → radar notification latency, under background ingestion load.

    .venv/bin/python bench/radar_latency.py --database sqlite|postgres [--seconds 20] [--max-rate N]

`siyu serve` as in production (web processes, the event processor and the task worker) on a scratch
database: workspace "bench" with its owner, a sales rep (bench-rep, logged in through the login page)
who owns the probe contacts (each known by a userId), and one article. The rep's radar stream
`/radar/stream/` (Server-Sent Events) stays open. While background load — the realistic anonymous
batches of bench/ingest_events.py, which ring nobody's radar — runs on a fixed schedule, a page view of
the article by one of the rep's contacts is sent every 0.25 s; the latency of a probe is the time from
just before its HTTP request to its `notification` frame arriving on the rep's stream.

Two runs:
1. background at half the maximum ingestion rate (measured first in the same run with the processor
   running, unless --max-rate is given) — the issue's condition, target p99 ≤ 1 s;
2. background at half the rate the processor drains at on its own — what the radar does when the
   processor keeps up.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from _common import (
    PYTHON,
    ROOT,
    WEB_WORKERS,
    bench_env,
    iso,
    load_average,
    percentile,
    record,
    run_siyu,
    running_server,
    say,
    scratch_database,
    web_login,
)
from ingest_events import (
    WRITE_KEY,
    Sampler,
    Templates,
    basic_auth,
    closed_loop,
    drain,
    paced,
    warm_up,
)

PASSWORD = "bench-password-123"  # noqa: S105 - a throwaway benchmark account
PROBE_INTERVAL = 0.25
ARRIVAL_TIMEOUT = 60.0  # a probe not on the stream this long after the last probe counts as missing


# -- seeding (runs in a subprocess with Django set up) --------------------------------------------------


def seed(contacts: int) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "siyu.settings")
    import django

    django.setup()
    from siyu.contacts.services import UpsertKey, contacts_upsert
    from siyu.core.tenancy import workspace_scope
    from siyu.tenancy.models import Member
    from siyu.tenancy.selectors import actor_for_member, workspace_get_by_slug, workspace_owner
    from siyu.tracking.services.content import content_create

    workspace = workspace_get_by_slug(slug="bench")
    with workspace_scope(workspace.id):
        owner = workspace_owner()
        assert owner is not None
        admin = actor_for_member(member=owner)
        rep = Member.objects.get(user__username="bench-rep")
        article = content_create(
            actor=admin, kind="article", title="秋冬护肤指南", body="<p>敏感肌的七个误区……</p>"
        )
        rows = [
            {
                "name": f"雷达客户{i:03d}",
                "owner": rep.display_name,
                "identities": [{"type": "user_id", "value": f"probe-{i:03d}"}],
            }
            for i in range(contacts)
        ]
        results = contacts_upsert(actor=admin, rows=rows, key=UpsertKey("user_id"), source="import")
    probes = {f"probe-{i:03d}": str(r.contact_id) for i, r in enumerate(results)}
    print(json.dumps({"content_id": str(article.id), "probes": probes}))


# -- the radar stream -----------------------------------------------------------------------------------


@dataclass
class Stream:
    """The rep's `/radar/stream/`, read in a thread: arrival time of each notification frame, by contact."""

    client: httpx.Client
    arrivals: list[tuple[float, str]] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)
    error: list[str] = field(default_factory=list)
    thread: threading.Thread | None = None

    def _read(self) -> None:
        try:
            with self.client.stream(
                "GET", "/radar/stream/", timeout=httpx.Timeout(None, connect=10)
            ) as response:
                if response.status_code != 200:
                    self.error.append(f"HTTP {response.status_code}")
                    return
                kind = data = ""
                for line in response.iter_lines():
                    self.ready.set()
                    if line.startswith("event:"):
                        kind = line[6:].strip()
                    elif line.startswith("data:"):
                        data = line[5:].strip()
                    elif not line:
                        if kind == "notification" and data:
                            contact_url = json.loads(data).get("contact_url", "")
                            self.arrivals.append(
                                (time.perf_counter(), contact_url.rstrip("/").rsplit("/", 1)[-1])
                            )
                        kind = data = ""
        except Exception as exc:  # the client closed under it, or the server went away
            self.error.append(repr(exc))
        finally:
            self.ready.set()

    def open(self) -> Stream:
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        if not self.ready.wait(30) or self.error:
            raise SystemExit(f"the radar stream did not open: {self.error}")
        return self

    def close(self) -> None:
        self.client.close()  # ends the read in the thread


# -- one run ------------------------------------------------------------------------------------------


def _probe_body(user_id: str, content_id: str) -> bytes:
    path = f"/content/{content_id}/"
    url = f"https://m.huayang.cn{path}"
    now = iso(datetime.now(UTC))
    page = {"url": url, "path": path, "title": "秋冬护肤指南", "referrer": "", "search": ""}
    event = {
        "type": "page",
        "messageId": f"probe-{uuid.uuid4()}",
        "userId": user_id,
        "name": "秋冬护肤指南",
        "properties": {**page, "view_id": str(uuid.uuid4()), "content_id": content_id},
        "context": {"page": page, "library": {"name": "siyu.js", "version": "1.0.0"}, "locale": "zh-CN"},
        "originalTimestamp": now,
    }
    return orjson.dumps({"batch": [event], "sentAt": now})


@dataclass
class RunResult:
    background_rate: float
    background_sent: float
    latencies_ms: list[float]
    probes: int
    missing: int
    ack_ms: list[float]
    backlog_at_end: int


def run_once(
    url: str,
    rep: httpx.Client,
    seeded: dict[str, Any],
    templates: Templates,
    numbers: itertools.count[int],
    sampler: Sampler,
    *,
    background_rate: float,
    seconds: float,
    clients: int,
) -> RunResult:
    probes = list(seeded["probes"].items())
    stream = Stream(rep).open()
    background: dict[str, Any] = {}

    def load() -> None:
        sent, _replays = paced(
            url,
            templates,
            numbers,
            clients=clients,
            seconds=seconds + 4,
            events_per_second=background_rate,
            replay_share=0.0,
            rng=random.Random(5),
        )
        background["sent"] = sent

    loader = threading.Thread(target=load)
    loader.start()
    time.sleep(2)  # the background load is flowing before the first probe
    sent_at: dict[str, deque[float]] = defaultdict(deque)
    ack_ms = []
    count = int(seconds / PROBE_INTERVAL)
    with httpx.Client(
        base_url=url,
        timeout=30,
        headers={"Authorization": basic_auth(WRITE_KEY), "Content-Type": "text/plain"},
    ) as sender:
        start = time.perf_counter()
        for n in range(count):
            due = start + n * PROBE_INTERVAL
            if (delay := due - time.perf_counter()) > 0:
                time.sleep(delay)
            user_id, contact_id = probes[n % len(probes)]
            body = _probe_body(user_id, seeded["content_id"])
            before = time.perf_counter()
            sent_at[contact_id].append(before)
            response = sender.post("/v1/batch", content=body)
            ack_ms.append((time.perf_counter() - before) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"probe refused: HTTP {response.status_code} {response.text[:300]}")
    loader.join()
    backlog = sampler.now().pending
    deadline = time.perf_counter() + ARRIVAL_TIMEOUT
    while len(stream.arrivals) < count and time.perf_counter() < deadline:
        time.sleep(0.2)
    stream.close()
    latencies = []
    for arrived, contact_id in list(stream.arrivals):
        pending = sent_at.get(contact_id)
        if pending:
            latencies.append((arrived - pending.popleft()) * 1000)
    result = background["sent"]
    return RunResult(
        background_rate=background_rate,
        background_sent=result.events / result.seconds if result.seconds else 0.0,
        latencies_ms=latencies,
        probes=count,
        missing=count - len(latencies),
        ack_ms=ack_ms,
        backlog_at_end=backlog,
    )


def _ms(value: float) -> str:
    return "missing" if value == float("inf") else f"{value:,.0f} ms"


def describe(label: str, run: RunResult) -> str:
    p = percentile
    # A probe that never arrived counts as slower than any that did.
    lat = run.latencies_ms + [float("inf")] * run.missing
    missing = (
        f", {run.missing} missing: not on the stream {ARRIVAL_TIMEOUT:.0f} s after the last probe was sent"
        if run.missing
        else ""
    )
    return (
        f"| {label}: background {run.background_sent:,.0f} events/s (planned {run.background_rate:,.0f}) | "
        f"p50 {_ms(p(lat, 50))} / p95 {_ms(p(lat, 95))} / **p99 {_ms(p(lat, 99))}** / max "
        f"{_ms(max(lat, default=float('nan')))} ({len(run.latencies_ms)} of {run.probes} probes{missing}; probe ack p99 "
        f"{p(run.ack_ms, 99):.0f} ms; processor backlog when the probes ended: {run.backlog_at_end:,} events) "
        "| p99 ≤ 1 s |"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", default="sqlite", help="sqlite, postgres, or a postgres:// admin URL")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each probing run")
    parser.add_argument("--max-seconds", type=float, default=10.0, help="length of the max-rate measurement")
    parser.add_argument("--max-rate", type=float, default=0.0, help="skip measuring the max rate; use this")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--contacts", type=int, default=40, help="probe contacts owned by the rep")
    parser.add_argument("--drain-timeout", type=float, default=900.0)
    parser.add_argument("--no-record", action="store_true")
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)  # internal: seed and exit
    args = parser.parse_args()
    if args.seed:
        seed(args.seed)
        return
    kind = "PostgreSQL" if args.database.startswith("postgres") else "SQLite"
    templates = Templates.build()
    numbers = itertools.count(1)
    load_before = load_average()

    with scratch_database(args.database) as database_url, tempfile.TemporaryDirectory() as var_dir:
        env = bench_env(database_url, Path(var_dir))
        run_siyu(env, "migrate", "--no-input", "-v", "0")
        run_siyu(
            env,
            "createworkspace",
            "Bench",
            "--slug",
            "bench",
            "--owner",
            "bench-admin",
            "--password",
            PASSWORD,
        )
        run_siyu(
            env,
            "createuser",
            "bench-rep",
            "--workspace",
            "bench",
            "--role",
            "sales",
            "--name",
            "王销售",
            "--password",
            PASSWORD,
        )
        run_siyu(env, "createsource", "--workspace", "bench", "--name", "官网", "--write-key", WRITE_KEY)
        seeded = json.loads(
            subprocess.run(
                [PYTHON, str(Path(__file__).resolve()), "--seed", str(args.contacts)],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        with running_server(env, log=Path(var_dir) / "serve.log") as url:
            sampler = Sampler(database_url).start()
            rep = web_login(url, "bench-rep", PASSWORD)
            warm_up(url, templates, numbers, args.clients)
            max_rate = args.max_rate
            measured = "given"
            if not max_rate:
                say(f"max ingestion rate with the processor running ({args.max_seconds:.0f} s) …")
                peak = closed_loop(url, templates, numbers, args.clients, args.max_seconds)
                max_rate = peak.events / peak.seconds
                measured = f"measured here: {peak.events:,} events in {peak.seconds:.1f} s"
            say(f"  {max_rate:,.0f} events/s; draining …")
            drain(sampler, timeout=args.drain_timeout)
            say(f"1. probes under background at half the max rate ({max_rate / 2:,.0f} events/s) …")
            first = run_once(
                url,
                rep,
                seeded,
                templates,
                numbers,
                sampler,
                background_rate=max_rate / 2,
                seconds=args.seconds,
                clients=args.clients,
            )
            say(f"   p99 {percentile(first.latencies_ms, 99):,.0f} ms; draining …")
            drain_seconds, drained = drain(sampler, timeout=args.drain_timeout)
            processor_rate = drained / drain_seconds if drain_seconds > 2 else 0.0
            second = None
            # The processor fell behind: also probe at a load it can carry (half its own drain rate).
            if first.backlog_at_end > max_rate and processor_rate:
                rep = web_login(url, "bench-rep", PASSWORD)
                say(
                    f"2. probes under background at half the processor's rate ({processor_rate / 2:,.0f}/s) …"
                )
                second = run_once(
                    url,
                    rep,
                    seeded,
                    templates,
                    numbers,
                    sampler,
                    background_rate=processor_rate / 2,
                    seconds=args.seconds,
                    clients=args.clients,
                )
                drain(sampler, timeout=args.drain_timeout)
            sampler.stop()
        load_after = load_average()

    lines = [
        f"Command: `.venv/bin/python bench/radar_latency.py --database {args.database.split(':')[0]} "
        f"--seconds {args.seconds:g}` — {kind}; `siyu serve` with {WEB_WORKERS} web processes, the event "
        "processor and the task worker. A probe is one page view of an article by a contact the logged-in "
        "rep owns; its latency runs from just before the HTTP request to the `notification` frame on the "
        f"rep's `/radar/stream/` (SSE). One probe every {PROBE_INTERVAL} s over {args.seconds:g} s. Maximum "
        f"ingestion rate with the processor running: {max_rate:,.0f} events/s ({measured}). "
        + (
            f"The processor fell behind in run 1 and then drained its backlog at {processor_rate:,.0f} events/s; "
            "run 2 loads it with half that. "
            if second is not None
            else "The processor kept up in run 1 (no second run needed). "
        )
        + f"Load average {load_before:.1f} before, {load_after:.1f} after.",
        "",
        "| run | event → radar notification | target |",
        "|---|---|---|",
        describe("1. half the max ingestion rate", first),
    ]
    if second is not None:
        lines.append(describe("2. half the processor's own rate", second))
    print("\n".join(lines))
    if not args.no_record:
        record(f"Radar latency ({kind})", lines)


if __name__ == "__main__":
    main()
