import signal
import time
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError, connection, connections

from siyu.tracking.services.processing import CHUNK_EVENTS, inbound_process
from siyu.tracking.services.retention import tracking_prune

PRUNE_EVERY_SECONDS = 600
# On SQLite the processor and ingestion share one write lock: short chunks and a gap after each keep
# the gateway's acknowledgements quick while a backlog is worked off.
SQLITE_CHUNK_EVENTS = 300
SQLITE_GAP_SECONDS = 0.005


class Command(BaseCommand):
    help = "Process received events (identity, counters, stages, radar) until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Stop when nothing is left to process.")
        parser.add_argument(
            "--idle-sleep", type=float, default=0.05, help="Seconds to wait when there is nothing to do."
        )
        parser.add_argument(
            "--chunk",
            type=int,
            default=None,
            help=f"Events per transaction (default {CHUNK_EVENTS}; {SQLITE_CHUNK_EVENTS} on SQLite).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stopping = False

        def stop(signal_number: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        sqlite = connection.vendor == "sqlite"
        chunk = options["chunk"] or (SQLITE_CHUNK_EVENTS if sqlite else CHUNK_EVENTS)
        total = 0
        next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
        while not stopping:
            if time.monotonic() >= next_prune:
                tracking_prune()
                next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
            try:
                done = inbound_process(max_events=chunk)
            except DatabaseError:  # the database went away: reconnect on the next round
                connections.close_all()
                time.sleep(1)
                continue
            total += done.events
            if done.batches == 0:
                if options["once"]:
                    break
                time.sleep(options["idle_sleep"])
            elif sqlite:
                # SQLite has one write lock: leave a gap in which waiting ingestion requests take it.
                time.sleep(SQLITE_GAP_SECONDS)
        if options["verbosity"] > 1:
            self.stdout.write(f"processed {total} events")
