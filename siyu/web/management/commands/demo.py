from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from siyu.web.demo import DEMO_CONTACTS, DEMO_PASSWORD, DEMO_SEED, demo_load


class Command(BaseCommand):
    help = (
        "Create or refresh the demo workspace (花漾美妆): teams, six members, channels, tags, custom "
        "fields and 5,000 contacts with history. Safe to run again: the demo's contacts are regenerated."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--contacts", type=int, default=DEMO_CONTACTS, help="How many contacts (5000).")
        parser.add_argument("--seed", type=int, default=DEMO_SEED, help="Random seed (same seed, same data).")
        parser.add_argument("--password", default=DEMO_PASSWORD, help="The demo members' shared password.")
        parser.add_argument(
            "--url",
            default="http://127.0.0.1:8000/",
            help="Where the server runs, for the message at the end.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["contacts"] < 0:
            raise CommandError(_("--contacts cannot be negative."))
        self.stdout.write(_("Loading the demo workspace…"))
        summary = demo_load(contacts=options["contacts"], seed=options["seed"], password=options["password"])
        self.stdout.write(
            self.style.SUCCESS(
                _("Demo workspace %(name)s (%(slug)s) is ready: %(n)d contacts in %(seconds).1f s.")
                % {
                    "name": summary.workspace.name,
                    "slug": summary.workspace.slug,
                    "n": summary.contacts,
                    "seconds": summary.seconds,
                }
            )
        )
        self.stdout.write(_("Open %(url)s and log in as one of:") % {"url": options["url"]})
        for username, display_name, role in summary.logins:
            self.stdout.write(f"  {username:<16} {display_name}  ({role})")
        self.stdout.write(_("Password for all of them: %(password)s") % {"password": summary.password})
