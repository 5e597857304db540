"""API bulk upsert throughput over HTTP against `siyu serve`.

    .venv/bin/python bench/api_bulk_upsert.py [--database sqlite|postgres] [--rows 100000] [--clients 4]

Posts `--rows` new contacts in batches of 1,000 to POST /api/v1/contacts/bulk-upsert (keyed by phone)
from keep-alive clients (timed after one empty call per connection), then replays 5% of the batches
(must all answer "unchanged"). Target (issue 2):
≥ 10,000 contacts/s. Baseline in the same run: the database's plain bulk INSERT of the same number of
contact rows (no validation, identities, history or HTTP) — the ceiling.
"""

from __future__ import annotations

import argparse
import json
import queue
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from _common import (
    PYTHON,
    ROOT,
    Latencies,
    bench_env,
    fake_rows,
    record,
    run_siyu,
    running_server,
    scratch_database,
)

ENDPOINT = "/api/v1/contacts/bulk-upsert"


def post_batches(
    url: str, key: str, batches: list[list[dict[str, Any]]], clients: int
) -> tuple[float, Latencies, dict[str, int]]:
    """Post the batches from `clients` keep-alive connections; the clock starts once every connection
    has made one empty call (each web process loads its URL map and API on its first request)."""
    work: queue.Queue[list[dict[str, Any]]] = queue.Queue()
    for batch in batches:
        work.put(batch)
    latencies = Latencies()
    counts: dict[str, int] = {}
    lock = threading.Lock()
    warmed = threading.Barrier(clients + 1)

    def run() -> None:
        with httpx.Client(base_url=url, timeout=120, headers={"Authorization": f"Bearer {key}"}) as client:
            client.post(ENDPOINT, json={"key": {"type": "phone"}, "rows": []}).raise_for_status()
            warmed.wait()
            while True:
                try:
                    batch = work.get_nowait()
                except queue.Empty:
                    return
                started = time.perf_counter()
                response = client.post(ENDPOINT, json={"key": {"type": "phone"}, "rows": batch})
                latencies.add("batch_1000", time.perf_counter() - started)
                if response.status_code != 200:
                    raise SystemExit(f"HTTP {response.status_code}: {response.text[:500]}")
                with lock:
                    for status, n in response.json()["counts"].items():
                        counts[status] = counts.get(status, 0) + n

    threads = [threading.Thread(target=run) for _ in range(clients)]
    for thread in threads:
        thread.start()
    warmed.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, latencies, counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", default="sqlite")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    kind = "PostgreSQL" if args.database.startswith("postgres") else "SQLite"
    rows = fake_rows(args.rows, start=1_000_000)
    batches = [rows[i : i + 1000] for i in range(0, len(rows), 1000)]
    with scratch_database(args.database) as database_url, tempfile.TemporaryDirectory() as var_dir:
        env = bench_env(database_url, Path(var_dir))
        run_siyu(env, "migrate", "--no-input")
        seed = json.loads(
            subprocess.run(
                [PYTHON, str(ROOT / "bench" / "seed_contacts.py"), "--contacts", "0"],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        with running_server(env, "--no-worker") as url:
            seconds, latencies, counts = post_batches(url, seed["api_key"], batches, args.clients)
            replay = batches[::20]
            _replay_seconds, _lat, replay_counts = post_batches(url, seed["api_key"], replay, args.clients)
        raw = json.loads(
            subprocess.run(
                [PYTHON, str(ROOT / "bench" / "seed_contacts.py"), "--raw-insert", str(args.rows)],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
    rate = args.rows / seconds
    raw_rate = args.rows / raw["seconds"]
    batch = latencies.summary()["batch_1000"]
    replayed_rows = sum(len(b) for b in replay)
    lines = [
        f"Command: `.venv/bin/python bench/api_bulk_upsert.py --database {args.database.split(':')[0]} "
        f"--rows {args.rows} --clients {args.clients}` — {kind}.",
        "",
        "| measure | value | target |",
        "|---|---:|---|",
        f"| API bulk upsert, {args.clients} clients × batches of 1,000 | **{rate:,.0f} contacts/s** ({seconds:.1f} s) | ≥ 10,000/s |",
        f"| batch latency p50 / p95 | {batch['p50']:.0f} / {batch['p95']:.0f} ms | |",
        f"| result counts | {counts} | all created |",
        f"| replay of 5% of batches ({replayed_rows:,} rows) | {replay_counts} | all unchanged |",
        f"| baseline: plain bulk INSERT of {args.rows:,} contact rows | {raw_rate:,.0f} rows/s ({raw['seconds']:.1f} s) | ceiling |",
    ]
    print("\n".join(lines))
    if counts.get("created") != args.rows or replay_counts.get("unchanged") != replayed_rows:
        print("UNEXPECTED COUNTS", file=sys.stderr)
    if not args.no_record:
        record(f"API bulk upsert ({kind})", lines)


if __name__ == "__main__":
    main()
