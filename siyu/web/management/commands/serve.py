import os
import signal
import socket
import sys
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.utils.translation import gettext as _

from siyu.core.db import planner_statistics_exist, planner_statistics_refresh
from siyu.web.management.supervisor import Supervisor

DATABASE_BACKEND = "django_tasks_db.DatabaseBackend"


def port_accepts(host: str, port: int) -> bool:
    probe = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)  # noqa: S104
    try:
        with socket.create_connection((probe, port), timeout=0.5):
            return True
    except OSError:
        return False


def public_url(host: str, port: int) -> str:
    shown = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(host, host)  # noqa: S104
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


class Command(BaseCommand):
    help = (
        "Run Siyu: apply pending migrations, then the ASGI web server (uvicorn) and the background "
        "worker together. Ctrl-C or SIGTERM stops both; if either stops on its own, so does the other."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on (default 127.0.0.1).")
        parser.add_argument("--port", type=int, default=8000, help="Port to listen on (default 8000).")
        parser.add_argument(
            "--workers-count",
            type=int,
            default=1,
            help="Number of web server processes (default 1; raise it for several CPU cores).",
        )
        parser.add_argument(
            "--task-workers", type=int, default=1, help="Number of background worker processes (default 1)."
        )
        parser.add_argument(
            "--no-worker", action="store_true", help="Run the web server only (workers run elsewhere)."
        )
        parser.add_argument("--access-log", action="store_true", help="Log every HTTP request.")
        parser.add_argument(
            "--stop-timeout",
            type=float,
            default=10.0,
            help="Seconds to wait for a clean stop before killing (default 10).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = options["host"], options["port"]
        if options["workers_count"] < 1 or options["task_workers"] < 1:
            raise CommandError(_("--workers-count and --task-workers must be at least 1."))
        if port_accepts(host, port):
            raise CommandError(
                _("Port %(port)d on %(host)s is already in use; stop the other server or pass --port.")
                % {"port": port, "host": host}
            )
        self._migrate_if_needed()

        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "siyu.settings"),
        }
        supervisor = Supervisor(stop_timeout=options["stop_timeout"])
        supervisor.install_signal_handlers()
        web = supervisor.start(name="web", argv=self._web_argv(options), env=env)
        self._say(_("Started the web server (pid %(pid)d).") % {"pid": web.pid})
        if options["no_worker"]:
            self._say(_("No background worker (--no-worker): run one elsewhere."))
        else:
            processor = supervisor.start(name="event processor", argv=self._processor_argv(), env=env)
            self._say(_("Started the event processor (pid %(pid)d).") % {"pid": processor.pid})
            clock = supervisor.start(name="segment clock", argv=self._segments_clock_argv(), env=env)
            self._say(_("Started the segment clock (pid %(pid)d).") % {"pid": clock.pid})
            if self._tasks_need_worker():
                for number in range(1, options["task_workers"] + 1):
                    worker = supervisor.start(name=f"worker {number}", argv=self._worker_argv(), env=env)
                    self._say(
                        _("Started background worker %(n)d (pid %(pid)d).") % {"n": number, "pid": worker.pid}
                    )
            else:
                self._say(_("The task backend runs tasks itself; no background worker needed."))

        url = public_url(host, port)
        announced = False

        def announce_when_ready() -> None:
            nonlocal announced
            if not announced and port_accepts(host, port):
                announced = True
                self._say(
                    self.style.SUCCESS(_("Siyu is running at %(url)s  (press Ctrl-C to stop)") % {"url": url})
                )

        outcome = supervisor.watch(on_tick=announce_when_ready)
        if outcome.failed_child is not None:
            raise CommandError(
                _("The %(name)s stopped unexpectedly (exit code %(code)d); stopped everything else.")
                % {"name": outcome.failed_child.name, "code": outcome.exit_code}
            )
        name = signal.Signals(outcome.signal_number or signal.SIGTERM).name
        self._say(_("Stopped (%(signal)s).") % {"signal": name})

    def _say(self, message: str) -> None:
        self.stdout.write(message)
        self.stdout.flush()

    def _migrate_if_needed(self) -> None:
        connection = connections[DEFAULT_DB_ALIAS]
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if plan:
            self._say(_("Applying %(n)d pending migrations…") % {"n": len(plan)})
            call_command("migrate", interactive=False, verbosity=0)
        if plan or not planner_statistics_exist():
            # A full ANALYZE reads every table (a minute or more for a database of millions of rows), so
            # it runs after migrations and on a database that never had statistics, not at every start.
            planner_statistics_refresh()
        # The supervisor itself never touches the database again.
        connections.close_all()

    def _web_argv(self, options: dict[str, Any]) -> list[str]:
        argv = [
            sys.executable,
            "-m",
            "uvicorn",
            "siyu.asgi:application",
            "--host",
            options["host"],
            "--port",
            str(options["port"]),
            "--workers",
            str(options["workers_count"]),
            "--lifespan",
            "off",
            "--timeout-graceful-shutdown",
            str(max(1, int(options["stop_timeout"] / 2))),
        ]
        if not options["access_log"]:
            argv.append("--no-access-log")
        return argv

    def _worker_argv(self) -> list[str]:
        return [sys.executable, "-m", "siyu.cli", "db_worker", "--no-reload", "--queue-name", "*"]

    def _processor_argv(self) -> list[str]:
        return [sys.executable, "-m", "siyu.cli", "process_events"]

    def _segments_clock_argv(self) -> list[str]:
        return [sys.executable, "-m", "siyu.cli", "segments_clock"]

    def _tasks_need_worker(self) -> bool:
        backends: dict[str, dict[str, Any]] = getattr(settings, "TASKS", {})
        return any(b.get("BACKEND") == DATABASE_BACKEND for b in backends.values())
