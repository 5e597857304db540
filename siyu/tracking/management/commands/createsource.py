from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from siyu.core.errors import DomainError
from siyu.core.tenancy import workspace_scope
from siyu.tenancy.selectors import actor_for_member, workspace_get_by_slug, workspace_owner
from siyu.tracking.ingest.keys import forget_write_keys
from siyu.tracking.models import Source, SourceKind
from siyu.tracking.services.sources import source_create

MAX_WRITE_KEY_LENGTH = 64
MIN_WRITE_KEY_LENGTH = 16


class Command(BaseCommand):
    help = (
        "Create a tracking source in a workspace and print its write key (alone on standard output, "
        "so scripts can capture it). The source is created on behalf of the workspace's owner."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", required=True, help="The workspace's slug.")
        parser.add_argument("--name", required=True, help="The source's name, e.g. 官网.")
        parser.add_argument(
            "--kind",
            default=SourceKind.WEBSITE,
            help=f"One of: {', '.join(SourceKind.values)} (default website).",
        )
        parser.add_argument(
            "--origin",
            action="append",
            default=[],
            help="A browser origin allowed to send (CORS), e.g. https://shop.example.com; repeat for more.",
        )
        parser.add_argument(
            "--write-key",
            default="",
            help="Use this write key instead of a random one (16-64 letters, digits, - and _), e.g. for tests.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        wanted_key = options["write_key"].strip()
        if wanted_key:
            self._check_key(wanted_key)
        try:
            workspace = workspace_get_by_slug(slug=options["workspace"].strip())
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        with workspace_scope(workspace.id):
            owner = workspace_owner()
            if owner is None:
                raise CommandError(_("The workspace has no active owner to act for."))
            try:
                with transaction.atomic():
                    source = source_create(
                        actor=actor_for_member(member=owner),
                        name=options["name"],
                        kind=options["kind"].strip(),
                        allowed_origins=options["origin"],
                    )
                    if wanted_key:
                        # source_create always draws a random key; a fixed one replaces it here.
                        source.write_key = wanted_key
                        source.save(update_fields=["write_key"])
            except DomainError as exc:
                raise CommandError(exc.message) from exc
            except IntegrityError as exc:  # another source took the same name or key meanwhile
                raise CommandError(_("Another source has this name or write key.")) from exc
        forget_write_keys()
        self.stdout.write(source.write_key)

    def _check_key(self, key: str) -> None:
        allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
        if not MIN_WRITE_KEY_LENGTH <= len(key) <= MAX_WRITE_KEY_LENGTH or not set(key) <= allowed:
            raise CommandError(
                _("A write key has %(min)d to %(max)d letters, digits, - and _.")
                % {"min": MIN_WRITE_KEY_LENGTH, "max": MAX_WRITE_KEY_LENGTH}
            )
        if Source.all_workspaces.filter(write_key=key).exists():
            raise CommandError(_("This write key is already used by another source."))
