from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_slug
from django.db import transaction
from django.utils.translation import gettext as _

from siyu.core.errors import DomainError
from siyu.tenancy.management.passwords import password_resolve
from siyu.tenancy.selectors import user_get_by_username
from siyu.tenancy.services import user_get_or_create, workspace_create


class Command(BaseCommand):
    help = "Create a workspace and its owner (an existing user keeps their password unless one is given)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="The workspace's display name, e.g. 花漾美妆.")
        parser.add_argument("--slug", required=True, help="Short unique id used in URLs, e.g. huayang.")
        parser.add_argument("--owner", required=True, help="Username of the owner (created if missing).")
        parser.add_argument("--owner-name", default="", help="The owner's display name (default: username).")
        parser.add_argument("--password", default=None, help="The owner's password (prompted if needed).")
        parser.add_argument("--email", default="", help="The owner's email, for a new user.")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["name"].strip()
        slug = options["slug"].strip()
        username = options["owner"].strip()
        if not name or len(name) > 100:
            raise CommandError(_("A workspace needs a name of 1 to 100 characters."))
        try:
            validate_slug(slug)
        except DjangoValidationError as exc:
            raise CommandError(
                _("“%(slug)s” is not a valid slug: use letters, digits, - and _.") % {"slug": slug}
            ) from exc
        if not username:
            raise CommandError(_("The owner needs a username."))
        is_new_user = user_get_by_username(username=username) is None
        password = password_resolve(given=options["password"], username=username, required=is_new_user)
        try:
            with transaction.atomic():  # a taken slug must not leave a new user behind
                owner = user_get_or_create(username=username, password=password, email=options["email"])
                workspace = workspace_create(
                    name=name, slug=slug, owner=owner, owner_name=options["owner_name"].strip() or username
                )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            self.style.SUCCESS(
                _("Created workspace %(name)s (%(slug)s) owned by %(username)s.")
                % {"name": workspace.name, "slug": workspace.slug, "username": username}
            )
        )
