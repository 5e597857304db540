import logging
import signal
import time
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError, connections

from siyu.segments.services.evaluation import RECHECK_BATCH, rechecks_run
from siyu.segments.services.maintenance import segments_maintain

log = logging.getLogger(__name__)
MAINTAIN_EVERY_SECONDS = 600


class Command(BaseCommand):
    help = (
        "Run segment re-checks as they fall due (time-relative rules), and every 10 minutes build new "
        "segments, reconcile day-old builds and refresh RFM quintiles. Runs until stopped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Do what is due now, then stop.")
        parser.add_argument(
            "--idle-sleep", type=float, default=1.0, help="Seconds between looks for due re-checks."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stopping = False

        def stop(signal_number: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        next_maintenance = time.monotonic()
        while not stopping:
            try:
                if time.monotonic() >= next_maintenance:
                    for build in segments_maintain():
                        if build.found_drift:
                            log.warning(
                                "segment %s: reconciliation fixed %s additions and %s removals",
                                build.segment_id,
                                build.added,
                                build.removed,
                            )
                    next_maintenance = time.monotonic() + MAINTAIN_EVERY_SECONDS
                checked = rechecks_run()
            except DatabaseError:
                if options["once"]:
                    raise
                log.exception("segment clock: database error; retrying in a second")
                connections.close_all()
                time.sleep(1)
                continue
            if options["once"] and checked < RECHECK_BATCH:
                break
            if checked < RECHECK_BATCH:
                time.sleep(options["idle_sleep"])
        connections.close_all()
