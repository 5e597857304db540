"""Who is acting: a member (web, API session) or an API key, with what they may do and see."""

from dataclasses import dataclass, field
from uuid import UUID

from django.db.models import Q
from django.utils.translation import gettext as _

from siyu.core.errors import PermissionDenied
from siyu.tenancy.models import ApiKey, Member
from siyu.tenancy.roles import DataScope, Permission


@dataclass
class Actor:
    workspace_id: UUID
    permissions: frozenset[Permission]
    scope: DataScope
    member: Member | None = None
    api_key: ApiKey | None = None
    ip_address: str | None = None
    # Owners whose contacts a TEAM-scoped actor sees (the team subtree's members); unused otherwise.
    visible_owner_ids: frozenset[UUID] = field(default_factory=frozenset)

    @property
    def member_id(self) -> UUID | None:
        return self.member.id if self.member else None

    @property
    def label(self) -> str:
        if self.member:
            return self.member.display_name
        if self.api_key:
            return f"API key {self.api_key.name}"
        return "system"

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    def require(self, permission: Permission) -> None:
        if permission not in self.permissions:
            raise PermissionDenied(
                _("You do not have permission to do this (%(permission)s).")
                % {"permission": permission.label}
            )

    def scope_q(self, owner_field: str = "owner") -> Q:
        """The one data-scope rule: own / team subtree / all, the public pool (no owner) always visible."""
        if self.scope == DataScope.ALL:
            return Q()
        pool = Q(**{f"{owner_field}__isnull": True})
        if self.scope == DataScope.TEAM:
            return Q(**{f"{owner_field}_id__in": self.visible_owner_ids | {self.member_id}}) | pool
        return Q(**{f"{owner_field}_id": self.member_id}) | pool

    def may_see_owner(self, owner_id: UUID | None) -> bool:
        if owner_id is None or self.scope == DataScope.ALL:
            return True
        if self.scope == DataScope.TEAM:
            return owner_id == self.member_id or owner_id in self.visible_owner_ids
        return owner_id == self.member_id
