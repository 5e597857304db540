"""A really running Siyu for end-to-end tests: its own database, real `siyu` subprocesses, real HTTP.

The database is a SQLite file in the test's temp dir, or — when the test session itself runs on
PostgreSQL (DATABASE_URL=postgres://…) — a scratch PostgreSQL database on the same server, dropped
afterwards. Every process started here is killed when the test ends, pass or fail.
"""

import atexit
import contextlib
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import psycopg

ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY = "live-test-secret-key-that-is-long-enough-0123456789"
OWNER_PASSWORD = "live-owner-password-42"
WORKSPACE = "live"
STARTUP_SECONDS = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _is_postgres(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql://"))


def _admin_url(session_url: str) -> str:
    return urlsplit(session_url)._replace(path="/postgres").geturl()


def _database_url(session_url: str, name: str) -> str:
    return urlsplit(session_url)._replace(path=f"/{name}").geturl()


# One migrated database with the `live` workspace per test process, copied for each test: migrating
# from scratch costs more than the rest of a test. When the process has set up pytest-django's test
# database, `keep_pristine` has already copied it, freshly migrated, and that copy becomes the template;
# otherwise the template is migrated here. Every process (each xdist worker) has templates of its own.
_templates: dict[str, str] = {}
_pristine: dict[str, str] = {}
_cleanups: list[Callable[[], None]] = []


def _session_url() -> str:
    """The test session's database kind: its PostgreSQL URL, or "sqlite"."""
    session_url = os.environ.get("DATABASE_URL", "")
    return session_url if _is_postgres(session_url) else "sqlite"


def _new_location(session_url: str) -> str:
    """An empty place for a template: a PostgreSQL database name, or a SQLite file path."""
    if _is_postgres(session_url):
        name = f"siyu_live_template_{os.getpid()}_{secrets.token_hex(3)}"
        admin = _admin_url(session_url)

        def drop() -> None:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        _cleanups.append(drop)
        return name
    folder = Path(tempfile.mkdtemp(prefix="siyu-live-template-"))
    _cleanups.append(lambda: shutil.rmtree(folder, ignore_errors=True))
    return str(folder / "template.sqlite3")


def _url(session_url: str, location: str) -> str:
    return _database_url(session_url, location) if _is_postgres(session_url) else f"sqlite:///{location}"


def keep_pristine(connection: Any) -> None:
    """Copy the test session's just-migrated database (Django `connection`, not yet used by any test)
    for the live templates. On PostgreSQL this closes the connection: a database being copied must
    have no other sessions; Django reconnects on its next query."""
    session_url = _session_url()
    if session_url in _templates or session_url in _pristine:
        return
    location = _new_location(session_url)
    if _is_postgres(session_url):
        source = connection.settings_dict["NAME"]
        connection.close()
        with psycopg.connect(_admin_url(session_url), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{location}" TEMPLATE "{source}"')
    else:
        connection.ensure_connection()
        with contextlib.closing(sqlite3.connect(location)) as copy:
            connection.connection.backup(copy)
    _pristine[session_url] = location


def cleanup() -> None:
    """Drop the templates this process made (also run at exit); the scratch copies drop themselves."""
    while _cleanups:
        with contextlib.suppress(Exception):
            _cleanups.pop()()
    _templates.clear()
    _pristine.clear()


atexit.register(cleanup)


def _template(session_url: str) -> str:
    if session_url in _templates:
        return _templates[session_url]
    location = _pristine.pop(session_url, None)
    builder = LiveSiyu(database_url="", folder=Path(tempfile.gettempdir()))
    if location is None:
        location = _new_location(session_url)
        if _is_postgres(session_url):
            with psycopg.connect(_admin_url(session_url), autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{location}"')
        builder.database_url = _url(session_url, location)
        builder.siyu("migrate", "--no-input", "-v", "0")
    builder.database_url = _url(session_url, location)
    builder.siyu(
        "createworkspace", "Live", "--slug", WORKSPACE, "--owner", "live-owner", "--password", OWNER_PASSWORD
    )
    if not _is_postgres(session_url):
        with contextlib.closing(sqlite3.connect(location)) as lite:
            lite.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    _templates[session_url] = location
    return location


@contextlib.contextmanager
def scratch_database(folder: Path) -> Iterator[str]:
    """A migrated database with the `live` workspace for the spawned processes, of the test
    session's own kind: a SQLite file in `folder`, or a scratch PostgreSQL database dropped after."""
    session_url = _session_url()
    template = _template(session_url)
    if session_url == "sqlite":
        shutil.copyfile(template, folder / "live.sqlite3")
        yield f"sqlite:///{folder / 'live.sqlite3'}"
        return
    name = f"siyu_live_{os.getpid()}_{secrets.token_hex(3)}"
    admin = _admin_url(session_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield _database_url(session_url, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def _kill_tree(process: "subprocess.Popen[bytes]", *, grace: float) -> None:
    """Stop a process (politely first), then SIGKILL whatever is left of its process groups."""
    groups = {process.pid}
    for child in _children(process.pid):
        with contextlib.suppress(ProcessLookupError):
            groups.add(os.getpgid(child))
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
    for group in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    process.wait()


@dataclass
class LiveSiyu:
    database_url: str
    folder: Path
    processes: list["subprocess.Popen[bytes]"] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("PYTEST") and k not in {"SIYU_TESTING", "SIYU_TEST_DB_NAME", "REDIS_URL"}
        }
        env.update(
            {
                "DATABASE_URL": self.database_url,
                "SIYU_VAR_DIR": str(self.folder),
                "SIYU_SECRET_KEY": SECRET_KEY,
                "SIYU_DEBUG": "0",
                "SIYU_SECURE_COOKIES": "0",
                "SIYU_ALLOWED_HOSTS": "127.0.0.1,localhost",
                "SIYU_LOG_LEVEL": "WARNING",
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def siyu(self, *args: str, timeout: float = 120) -> str:
        done = subprocess.run(  # noqa: S603 - our own command
            [sys.executable, "-m", "siyu.cli", *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, (
            f"siyu {' '.join(args)}:\n{done.stdout!r}\n{done.stderr.decode()[-3000:]}"
        )
        return done.stdout.decode()

    def prepare(self, *, write_key: str) -> None:
        """A website source with this key in the workspace `live`."""
        printed = self.siyu(
            "createsource", "--workspace", WORKSPACE, "--name", "官网", "--write-key", write_key
        )
        assert printed.strip() == write_key

    def dump(self, *, counts: bool = False, payloads: bool = True) -> dict[str, Any]:
        args = ["eventdump", "--workspace", WORKSPACE]
        args += [*(["--counts"] if counts else []), *([] if payloads else ["--no-payloads"])]
        document: dict[str, Any] = orjson.loads(self.siyu(*args))
        return document

    def batch_counts(self) -> tuple[int, int]:
        """(unprocessed, processed) inbound batches, read straight from the database: fast to poll."""
        query = "SELECT COUNT(*) - COUNT(processed_at), COUNT(processed_at) FROM tracking_inboundbatch"
        if self.database_url.startswith("sqlite"):
            path = self.database_url.removeprefix("sqlite:///")
            with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as conn:
                pending, processed = conn.execute(query).fetchone()
        else:
            with psycopg.connect(self.database_url) as conn:
                row = conn.execute(query).fetchone()
                assert row is not None
                pending, processed = row
        return int(pending), int(processed)

    def pending_batches(self) -> int:
        return self.batch_counts()[0]

    def wait_until_processed(self, *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while (left := self.pending_batches()) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert left == 0, f"{left} inbound batches still unprocessed after {timeout} s:\n{self.logs()}"

    def spawn(self, name: str, *args: str) -> "subprocess.Popen[bytes]":
        log = (self.folder / f"{name}.log").open("ab")
        process = subprocess.Popen(  # noqa: S603 - our own command
            [sys.executable, "-m", "siyu.cli", *args],
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.processes.append(process)
        return process

    def serve(self, *extra: str) -> str:
        """`siyu serve` on a free port (web, event processor and task worker unless --no-worker)."""
        port = free_port()
        process = self.spawn(
            "serve", "serve", "--host", "127.0.0.1", "--port", str(port), "--stop-timeout", "5", *extra
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert process.poll() is None, f"siyu serve stopped:\n{self.logs()}"
            try:
                if httpx.get(f"{url}/login/", timeout=2).status_code in (200, 302):
                    return url
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"siyu serve did not come up:\n{self.logs()}"
            time.sleep(0.2)

    def logs(self) -> str:
        return "\n".join(
            f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}" for log in self.folder.glob("*.log")
        )

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            _kill_tree(process, grace=10)
        self.processes.clear()


@contextlib.contextmanager
def live_siyu(folder: Path, *, write_key: str) -> Iterator[LiveSiyu]:
    with scratch_database(folder) as database_url:
        live = LiveSiyu(database_url=database_url, folder=folder)
        try:
            live.prepare(write_key=write_key)
            yield live
        finally:
            live.stop_all()
