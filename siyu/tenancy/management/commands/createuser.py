from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils.translation import gettext as _

from siyu.core.errors import DomainError
from siyu.core.tenancy import workspace_scope
from siyu.tenancy.management.passwords import password_resolve
from siyu.tenancy.models import Team
from siyu.tenancy.roles import Role
from siyu.tenancy.selectors import (
    actor_for_member,
    team_list,
    user_get_by_username,
    workspace_get_by_slug,
    workspace_owner,
)
from siyu.tenancy.services import member_create


class Command(BaseCommand):
    help = (
        "Add a member to a workspace (creating the user if needed). "
        "The member is added on behalf of the workspace's owner, and the audit log says so."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--workspace", required=True, help="The workspace's slug.")
        parser.add_argument("--role", required=True, help=f"One of: {', '.join(Role.values)}.")
        parser.add_argument("--team", default="", help="The team's name (or id); none by default.")
        parser.add_argument("--name", default="", help="Display name (default: the username).")
        parser.add_argument("--password", default=None, help="Password for a new user (prompted if needed).")
        parser.add_argument("--email", default="", help="Email for a new user.")

    def handle(self, *args: Any, **options: Any) -> None:
        username = options["username"].strip()
        if not username:
            raise CommandError(_("A member needs a username."))
        role = options["role"].strip().lower()
        if role not in Role.values:
            raise CommandError(
                _("“%(role)s” is not a role. Choose one of: %(roles)s.")
                % {"role": options["role"], "roles": ", ".join(Role.values)}
            )
        try:
            workspace = workspace_get_by_slug(slug=options["workspace"].strip())
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        with workspace_scope(workspace.id):
            owner = workspace_owner()
            if owner is None:
                raise CommandError(_("The workspace has no active owner to act for."))
            team = self._team(options["team"].strip())
            is_new_user = user_get_by_username(username=username) is None
            password = password_resolve(given=options["password"], username=username, required=is_new_user)
            try:
                with transaction.atomic():  # a refused membership must not leave a new user behind
                    member = member_create(
                        actor=actor_for_member(member=owner),
                        username=username,
                        display_name=options["name"].strip() or username,
                        role=Role(role),
                        team=team,
                        password=password,
                        email=options["email"].strip(),
                    )
            except DomainError as exc:
                raise CommandError(exc.message) from exc
        self.stdout.write(
            self.style.SUCCESS(
                _("Added %(username)s to %(workspace)s as %(role)s%(team)s.")
                % {
                    "username": username,
                    "workspace": workspace.slug,
                    "role": member.get_role_display(),
                    "team": f" ({team.name})" if team else "",
                }
            )
        )

    def _team(self, wanted: str) -> Team | None:
        if not wanted:
            return None
        teams = list(team_list())
        for team in teams:
            if wanted in (team.name, str(team.id)):
                return team
        known = ", ".join(t.name for t in teams) or _("none yet")
        raise CommandError(
            _("There is no team “%(team)s” in this workspace (teams: %(known)s).")
            % {"team": wanted, "known": known}
        )
