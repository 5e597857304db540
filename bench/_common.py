"""Shared plumbing for the HTTP benchmarks: a scratch database, seed data, a running `siyu serve`."""

from __future__ import annotations

import os
import platform
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# One web process per core: Django runs sync views one at a time per ASGI process.
WEB_WORKERS = os.cpu_count() or 2
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建文辉晶婷玲雪琳慧欣怡佳悦梦雨思涵诗琪子轩浩宇"
)
CITIES = ["上海", "杭州", "北京", "广州", "深圳", "成都", "南京", "苏州", "武汉", "西安"]
STAGES = ["visitor", "engaged", "follower", "friend", "customer", "member"]
PREFIXES = ["138", "139", "136", "137", "150", "151", "152", "158", "159", "186", "187", "188", "177", "199"]


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {cpu}, {mem_gib:.0f} GiB RAM, Python {platform.python_version()}"


def fake_rows(count: int, *, seed: int = 7, start: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for n in range(start, start + count):
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        phone = f"{rng.choice(PREFIXES)}{n:08d}"
        rows.append(
            {
                "name": name,
                "phone": phone,
                "email": f"u{n}@example.com" if n % 3 == 0 else "",
                "city": rng.choice(CITIES),
                "stage": rng.choice(STAGES),
            }
        )
    return rows


def percentile(samples: list[float], pct: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class Latencies:
    samples: dict[str, list[float]] = field(default_factory=dict)

    def add(self, name: str, seconds: float) -> None:
        self.samples.setdefault(name, []).append(seconds * 1000)

    def summary(self) -> dict[str, dict[str, float]]:
        return {
            name: {
                "n": len(values),
                "p50": percentile(values, 50),
                "p95": percentile(values, 95),
                "p99": percentile(values, 99),
                "mean": statistics.fmean(values),
            }
            for name, values in self.samples.items()
        }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def scratch_database(kind: str) -> Iterator[str]:
    """A fresh database URL: a temp SQLite file, or a new PostgreSQL database dropped afterwards."""
    if kind == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="siyu-bench-"))
        try:
            yield f"sqlite:///{folder / 'bench.sqlite3'}"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    admin_url = kind if "://" in kind else "postgres://postgres@127.0.0.1:5432/postgres"
    name = f"siyu_bench_{os.getpid()}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_env(database_url: str, var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        {
            "DATABASE_URL": database_url,
            "SIYU_VAR_DIR": str(var_dir),
            "SIYU_SECRET_KEY": "bench-secret-key-that-is-long-enough-0123456789",
            "SIYU_DEBUG": "0",
            "SIYU_SECURE_COOKIES": "0",
            "SIYU_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SIYU_LOG_LEVEL": "WARNING",
        }
    )
    env.pop("SIYU_TESTING", None)
    return env


def run_siyu(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [PYTHON, "-m", "siyu.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"siyu {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def load_average() -> float:
    return os.getloadavg()[0]


class SqlReader:
    """Plain read-only SQL on the benchmark database (sqlite3 or psycopg), for sampling counts fast."""

    def __init__(self, database_url: str) -> None:
        self.is_sqlite = database_url.startswith("sqlite")
        if self.is_sqlite:
            import sqlite3

            path = database_url.removeprefix("sqlite:///")
            self.conn: Any = sqlite3.connect(
                f"file:{path}?mode=ro", uri=True, timeout=30, isolation_level=None, check_same_thread=False
            )
        else:
            self.conn = psycopg.connect(database_url, autocommit=True)
        self.lock = threading.Lock()

    def one(self, query: str) -> tuple[Any, ...]:
        """One row; each query sees the latest committed data (autocommit)."""
        with self.lock:
            return tuple(self.conn.execute(query).fetchone())

    def close(self) -> None:
        self.conn.close()


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def peak_rss_mb() -> float:
    """This process's peak resident memory."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def iso(moment: datetime) -> str:
    """A timestamp as SDKs send it (UTC, milliseconds, Z)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@contextmanager
def running_server(env: dict[str, str], *extra: str, log: Path | None = None) -> Iterator[str]:
    """`siyu serve` with one web process per core; its output goes to `log` if given (else a pipe
    that is read only when start-up fails — keep such servers quiet). Yields its URL."""
    with server_process(env, *extra, log=log) as (url, _process):
        yield url


@contextmanager
def server_process(
    env: dict[str, str], *extra: str, log: Path | None = None, startup_timeout: float = 60.0
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`siyu serve` as `running_server`, yielding its URL and process; waits up to `startup_timeout`
    for it to answer (on a big SQLite file start-up runs ANALYZE first)."""
    port = free_port()
    output: Any = log.open("ab") if log is not None else subprocess.PIPE
    process = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "siyu.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers-count",
            str(WEB_WORKERS),
            *extra,
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL if log is None else output,
        stderr=output,
        start_new_session=True,
    )
    if log is not None:
        output.close()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            try:
                if httpx.get(f"{url}/login/", timeout=5).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                err = process.stderr.read().decode() if process.stderr else ""
                err = err or (log.read_text(errors="replace") if log is not None else "")
                raise SystemExit(f"siyu serve did not come up:\n{err[-3000:]}")
            time.sleep(0.3)
        yield url, process
    finally:
        # serve's children (web, processor, worker) run in a process group of their own.
        groups = {process.pid} | _child_groups(process.pid)
        os.killpg(process.pid, signal.SIGINT)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=30)
        for group in groups:
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)


def _child_groups(pid: int) -> set[int]:
    groups = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                groups.add(os.getpgid(int(entry.name)))
        except (OSError, IndexError, ValueError):
            continue
    return groups


def web_login(url: str, username: str, password: str) -> httpx.Client:
    """An httpx client logged in through the login page (session cookie set)."""
    client = httpx.Client(base_url=url, timeout=30, follow_redirects=False)
    page = client.get("/login/")
    token = client.cookies.get("csrftoken") or ""
    if not token:
        found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        token = found.group(1) if found else ""
    response = client.post(
        "/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{url}/login/"},
    )
    if response.status_code not in (302, 303):
        raise SystemExit(f"login as {username} failed: HTTP {response.status_code}")
    return client


def cpu_reference_seconds(repeat: int = 3) -> float:
    """The best of `repeat` timings of a fixed pure-Python loop (10M additions). This machine's speed
    drifts by a third within an hour (other guests on its host), so every recorded run carries it:
    figures taken at different moments are compared through it."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        total = 0
        for n in range(10_000_000):
            total += n
        best = min(best, time.perf_counter() - started)
    return best


def record(section: str, lines: list[str]) -> None:
    """Replace (or add) `## <section>` in docs/benchmarks.md with fresh figures."""
    path = ROOT / "docs" / "benchmarks.md"
    text = (
        path.read_text()
        if path.exists()
        else "# Benchmarks\n\nFigures from `bench/`, newest run per section.\n"
    )
    header = f"## {section}"
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    reference = f"CPU reference (10M Python additions, best of 3) {cpu_reference_seconds():.2f} s"
    block = "\n".join([header, "", f"Run {stamp} on {machine()}; {reference}.", "", *lines, ""])
    if header in text:
        start = text.index(header)
        rest = text.find("\n## ", start + len(header))
        text = text[:start] + block + ("\n" + text[rest + 1 :] if rest != -1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
