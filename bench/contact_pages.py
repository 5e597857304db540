"""Contact list and detail latency over HTTP against `siyu serve`.

    .venv/bin/python bench/contact_pages.py [--database sqlite|postgres] [--contacts 100000] [--seconds 30]

Seeds a scratch database, starts `siyu serve`, logs in 4 keep-alive clients (2 as the owner, who sees
every contact, 2 as a sales rep, who sees their own and the public pool) and requests for `--seconds`
a mix of list pages (plain, pinyin search, stage filter) and contact details. Targets (issue 2):
list p95 ≤ 50 ms, detail p95 ≤ 30 ms. Baseline in the same run: a trivial Django view (/healthz)
through the same server, i.e. the floor any page pays.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from _common import PYTHON, ROOT, Latencies, bench_env, record, run_siyu, running_server, scratch_database

SEARCHES = ["wang", "zh", "li", "chen", "zw", "138000", "liu", "huang"]
STAGES = ["customer", "friend", "visitor", "member"]


def login(url: str, username: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30, follow_redirects=False)
    page = client.get("/login/")
    token = client.cookies.get("csrftoken") or re.search(
        r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text
    )
    csrf = token if isinstance(token, str) else token.group(1) if token else ""
    response = client.post(
        "/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": csrf},
        headers={"Referer": f"{url}/login/"},
    )
    if response.status_code not in (302, 303):
        raise SystemExit(f"login as {username} failed: HTTP {response.status_code}")
    return client


def worker(
    client: httpx.Client, ids: list[str], until: float, latencies: Latencies, seed: int, errors: list[str]
) -> None:
    rng = random.Random(seed)
    while time.monotonic() < until:
        roll = rng.random()
        if roll < 0.2:
            name, path = "list", "/contacts/"
        elif roll < 0.35:
            name, path = "list_search", f"/contacts/?q={rng.choice(SEARCHES)}"
        elif roll < 0.5:
            name, path = "list_stage", f"/contacts/?stage={rng.choice(STAGES)}"
        elif roll < 0.55:
            name, path = "baseline_healthz", "/healthz"
        else:
            name, path = "detail", f"/contacts/{rng.choice(ids)}/"
        started = time.perf_counter()
        response = client.get(path)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            errors.append(f"{path} → {response.status_code}")
            continue
        latencies.add(name, elapsed)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", default="sqlite", help="sqlite, postgres, or a postgres:// admin URL")
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    kind = "PostgreSQL" if args.database.startswith("postgres") else "SQLite"

    with scratch_database(args.database) as database_url, tempfile.TemporaryDirectory() as var_dir:
        env = bench_env(database_url, Path(var_dir))
        run_siyu(env, "migrate", "--no-input")
        seeded = subprocess.run(
            [PYTHON, str(ROOT / "bench" / "seed_contacts.py"), "--contacts", str(args.contacts)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        seed = json.loads(seeded.stdout.strip().splitlines()[-1])
        print(f"seeded {seed['contacts']} contacts in {seed['seed_seconds']} s", flush=True)
        with running_server(env) as url:
            clients = [
                (
                    login(url, "bench-admin" if i % 2 == 0 else "bench-rep", "bench-password-123"),
                    seed["sample_ids"] if i % 2 == 0 else seed["rep_sample_ids"],
                )
                for i in range(args.clients)
            ]
            for client, ids in clients:  # warm-up
                client.get("/contacts/")
                client.get(f"/contacts/{ids[0]}/")
            latencies, errors = Latencies(), list[str]()
            until = time.monotonic() + args.seconds
            threads = [
                threading.Thread(target=worker, args=(client, ids, until, latencies, n, errors))
                for n, (client, ids) in enumerate(clients)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    summary = latencies.summary()
    if errors:
        print(f"{len(errors)} failed requests, e.g. {errors[:3]}", file=sys.stderr)
    lines = [
        f"Command: `.venv/bin/python bench/contact_pages.py --database {args.database.split(':')[0]} "
        f"--contacts {args.contacts} --seconds {args.seconds:g}` — {args.clients} keep-alive clients, "
        f"{kind}, {seed['contacts']:,} contacts (seeded in {seed['seed_seconds']} s).",
        "",
        "| request | n | p50 ms | p95 ms | p99 ms | target |",
        "|---|---:|---:|---:|---:|---|",
    ]
    targets = {
        "list": "p95 ≤ 50",
        "list_search": "p95 ≤ 50",
        "list_stage": "p95 ≤ 50",
        "detail": "p95 ≤ 30",
        "baseline_healthz": "baseline",
    }
    for name in ["baseline_healthz", "list", "list_search", "list_stage", "detail"]:
        if name in summary:
            s = summary[name]
            lines.append(
                f"| {name} | {s['n']:.0f} | {s['p50']:.1f} | {s['p95']:.1f} | {s['p99']:.1f} | {targets[name]} |"
            )
    lines.append(f"\nFailed requests: {len(errors)}.")
    print("\n".join(lines))
    if not args.no_record:
        record(f"Contact pages over HTTP ({kind})", lines)


if __name__ == "__main__":
    main()
