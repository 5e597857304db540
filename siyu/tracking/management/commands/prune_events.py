from typing import Any

from django.core.management.base import BaseCommand

from siyu.tracking.services.retention import tracking_prune


class Command(BaseCommand):
    help = "Delete raw events older than each workspace's retention, and spent inbound batches."

    def handle(self, *args: Any, **options: Any) -> None:
        pruned = tracking_prune()
        self.stdout.write(
            f"deleted {pruned.events} events, {pruned.batches} processed batches, "
            f"{pruned.warnings} old warnings, {pruned.minutes} old per-minute counts"
        )
