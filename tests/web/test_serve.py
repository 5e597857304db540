"""`siyu serve` end to end: a real subprocess on a free port against a fresh SQLite database."""

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
STARTUP_SECONDS = 120  # migrating a fresh database first; generous for a loaded CI machine


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _children(pid: int) -> dict[int, str]:
    """Direct children of a process, with their command lines (Linux /proc)."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent == pid:
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue
    return found


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _status(port: int, path: str) -> int | None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


@pytest.fixture
def serve(tmp_path: Path):
    """Start `siyu serve`; yield (process, port, log path); never leave it running."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SIYU_TESTING", "REDIS_URL"}}
    env.update({"SIYU_DEBUG": "1", "SIYU_VAR_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1"})
    command = Path(sys.executable).with_name("siyu")
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our own command
            [str(command), "serve", "--port", str(port), "--stop-timeout", "5"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process, port, log
    finally:
        if process.poll() is None:
            # The children run in their own process group: a failed test must not leave them behind.
            children = _children(process.pid)
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            for pid in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def _wait_until_serving(process: subprocess.Popen[bytes], port: int, log: Path) -> dict[int, str]:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        if _status(port, "/login/") in (200, 302):
            children = _children(process.pid)
            if len(children) == 4:  # web, event processor, segment clock, task worker
                return children
        time.sleep(0.25)
    raise AssertionError(f"siyu serve did not answer on /login/ in {STARTUP_SECONDS} s:\n{log.read_text()}")


def test_serve_migrates_serves_and_stops_web_and_worker_on_ctrl_c(serve) -> None:
    process, port, log = serve

    children = _wait_until_serving(process, port, log)

    commands = sorted(children.values())
    assert sum("uvicorn siyu.asgi:application" in c for c in commands) == 1
    assert sum("db_worker" in c for c in commands) == 1
    assert sum("process_events" in c for c in commands) == 1
    assert sum("segments_clock" in c for c in commands) == 1
    # serve announces the URL once its own probe gets an answer, which may be just after ours.
    deadline = time.monotonic() + 10
    while f"http://127.0.0.1:{port}/" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert f"http://127.0.0.1:{port}/" in log.read_text()
    assert (Path(log.parent) / "siyu.sqlite3").exists()  # migrated into the given var dir

    process.send_signal(signal.SIGINT)

    assert process.wait(timeout=30) == 0, log.read_text()
    assert [pid for pid in children if _is_alive(pid)] == []
    assert _status(port, "/login/") is None


@pytest.mark.parametrize("child", ["db_worker", "process_events", "segments_clock"])
def test_serve_stops_the_web_server_when_a_worker_dies(serve, child) -> None:
    process, port, log = serve
    children = _wait_until_serving(process, port, log)
    worker = next(pid for pid, command in children.items() if child in command)

    os.kill(worker, signal.SIGKILL)

    assert process.wait(timeout=30) != 0
    assert [pid for pid in children if _is_alive(pid)] == []
    assert _status(port, "/login/") is None
