"""Run a few child processes as one unit: one process group, signals forwarded, all-or-nothing.

`siyu serve` uses it to run the web server and the background worker together. The children get a
process group of their own, so a terminal's Ctrl-C reaches the supervisor alone and each child is
asked to stop exactly once (a second SIGINT would make uvicorn and the worker abandon their work).
"""

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import FrameType

POLL_SECONDS = 0.2


@dataclass
class Child:
    name: str
    process: "subprocess.Popen[bytes]"

    @property
    def pid(self) -> int:
        return self.process.pid

    def is_running(self) -> bool:
        return self.process.poll() is None


@dataclass
class Outcome:
    """How the supervision ended: by a signal (clean) or because a child stopped on its own."""

    signal_number: int | None = None
    failed_child: Child | None = None
    exit_code: int = 0


class Supervisor:
    def __init__(self, *, stop_timeout: float = 10.0) -> None:
        self.stop_timeout = stop_timeout
        self.children: list[Child] = []
        self.process_group: int | None = None
        self._received: int | None = None

    def start(self, *, name: str, argv: Sequence[str], env: Mapping[str, str]) -> Child:
        # The first child leads a new process group; the others join it.
        process = subprocess.Popen(  # noqa: S603 - argv is built by siyu itself, never from input
            list(argv), env=dict(env), process_group=self.process_group or 0
        )
        if self.process_group is None:
            self.process_group = process.pid
        child = Child(name=name, process=process)
        self.children.append(child)
        return child

    def install_signal_handlers(self) -> None:
        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(number, self._on_signal)

    def _on_signal(self, number: int, frame: FrameType | None) -> None:
        self._received = number

    @property
    def received_signal(self) -> int | None:
        return self._received

    def watch(self, *, on_tick: Callable[[], None] | None = None) -> Outcome:
        """Block until a stop signal arrives or a child exits; then stop everyone and say why."""
        while True:
            if self._received is not None:
                number = self._received
                self.stop(number)
                return Outcome(signal_number=number)
            for child in self.children:
                code = child.process.poll()
                if code is not None:
                    self.stop(signal.SIGTERM)
                    return Outcome(failed_child=child, exit_code=code or 1)
            if on_tick is not None:
                on_tick()
            time.sleep(POLL_SECONDS)

    def stop(self, number: int) -> None:
        """Forward `number` to the group, wait up to the timeout, then kill what is left."""
        self._signal_group(number)
        deadline = time.monotonic() + self.stop_timeout
        for child in self.children:
            try:
                child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                continue
        if any(child.is_running() for child in self.children):
            self._signal_group(signal.SIGKILL)
            for child in self.children:
                child.process.wait()

    def _signal_group(self, number: int) -> None:
        """Signal the whole group, grandchildren included (e.g. uvicorn's worker processes)."""
        if self.process_group is None:
            return
        try:
            os.killpg(self.process_group, number)
        except ProcessLookupError:
            return  # everyone has already gone
