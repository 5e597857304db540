import signal
import time
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError, connections

from siyu.tracking.services.processing import CHUNK_EVENTS, inbound_process
from siyu.tracking.services.retention import tracking_prune

PRUNE_EVERY_SECONDS = 600


class Command(BaseCommand):
    help = "Process received events (identity, counters, stages, radar) until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Stop when nothing is left to process.")
        parser.add_argument(
            "--idle-sleep", type=float, default=0.05, help="Seconds to wait when there is nothing to do."
        )
        parser.add_argument("--chunk", type=int, default=CHUNK_EVENTS, help="Events per transaction.")

    def handle(self, *args: Any, **options: Any) -> None:
        stopping = False

        def stop(signal_number: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        total = 0
        next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
        while not stopping:
            if time.monotonic() >= next_prune:
                tracking_prune()
                next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
            try:
                done = inbound_process(max_events=options["chunk"])
            except DatabaseError:  # the database went away: reconnect on the next round
                connections.close_all()
                time.sleep(1)
                continue
            total += done.events
            if done.batches == 0:
                if options["once"]:
                    break
                time.sleep(options["idle_sleep"])
        if options["verbosity"] > 1:
            self.stdout.write(f"processed {total} events")
