from collections import defaultdict
from uuid import UUID

from django.contrib.auth.models import User
from django.db.models import QuerySet

from siyu.core.errors import NotFound
from siyu.core.tenancy import workspace_scope
from siyu.tenancy.actor import Actor
from siyu.tenancy.models import ApiKey, AuditEntry, Member, Team, Workspace
from siyu.tenancy.roles import (
    API_KEY_SCOPE_PERMISSIONS,
    ROLE_PERMISSIONS,
    ROLE_SCOPE,
    DataScope,
    Permission,
    Role,
)


def team_subtree_ids(*, team_id: UUID) -> set[UUID]:
    children: dict[UUID | None, list[UUID]] = defaultdict(list)
    for tid, parent_id in Team.objects.values_list("id", "parent_id"):
        children[parent_id].append(tid)
    found: set[UUID] = set()
    pending = [team_id]
    while pending:
        current = pending.pop()
        if current in found:
            continue
        found.add(current)
        pending.extend(children[current])
    return found


def actor_for_member(*, member: Member, ip_address: str | None = None) -> Actor:
    scope = ROLE_SCOPE[member.role]
    visible: frozenset[UUID] = frozenset()
    if scope == DataScope.TEAM and member.team_id:
        with workspace_scope(member.workspace_id):
            teams = team_subtree_ids(team_id=member.team_id)
            visible = frozenset(Member.objects.filter(team_id__in=teams).values_list("id", flat=True))
    return Actor(
        workspace_id=member.workspace_id,
        permissions=ROLE_PERMISSIONS[member.role],
        scope=scope,
        member=member,
        ip_address=ip_address,
        visible_owner_ids=visible,
    )


def actor_for_api_key(*, api_key: ApiKey, ip_address: str | None = None) -> Actor:
    permissions: frozenset[Permission] = frozenset().union(
        *(API_KEY_SCOPE_PERMISSIONS[s] for s in api_key.scopes)
    )
    return Actor(
        workspace_id=api_key.workspace_id,
        permissions=permissions,
        scope=DataScope.ALL,
        api_key=api_key,
        ip_address=ip_address,
    )


def memberships_for_user(*, user: User) -> QuerySet[Member]:
    """All active memberships of a user, across workspaces (for login and the workspace switcher)."""
    return (
        Member.all_workspaces.filter(user_id=user.pk, is_active=True)
        .select_related("workspace", "team")
        .order_by("workspace__name")
    )


def workspace_get(*, workspace_id: UUID) -> Workspace:
    try:
        return Workspace.objects.get(id=workspace_id)
    except Workspace.DoesNotExist as exc:
        raise NotFound("Workspace not found.") from exc


def user_get_by_username(*, username: str) -> User | None:
    return User.objects.filter(username=username).first()


def workspace_get_by_slug(*, slug: str) -> Workspace:
    try:
        return Workspace.objects.get(slug=slug)
    except Workspace.DoesNotExist as exc:
        raise NotFound(f"There is no workspace with the slug “{slug}”.") from exc


def workspace_owner() -> Member | None:
    """The active workspace's longest-standing active owner (who operator commands act as)."""
    return (
        Member.objects.filter(role=Role.OWNER, is_active=True)
        .select_related("user")
        .order_by("created_at")
        .first()
    )


def member_list(*, active_only: bool = True) -> QuerySet[Member]:
    members = Member.objects.select_related("team", "user")
    return members.filter(is_active=True) if active_only else members


def member_get(*, member_id: UUID | str) -> Member:
    try:
        return Member.objects.select_related("team", "user").get(id=member_id)
    except (Member.DoesNotExist, ValueError) as exc:
        raise NotFound("Member not found.") from exc


def team_list() -> QuerySet[Team]:
    return Team.objects.all()


def team_get(*, team_id: UUID | str) -> Team:
    try:
        return Team.objects.get(id=team_id)
    except (Team.DoesNotExist, ValueError) as exc:
        raise NotFound("Team not found.") from exc


def api_key_list() -> QuerySet[ApiKey]:
    return ApiKey.objects.select_related("created_by")


def audit_entry_list(*, action: str | None = None, member_id: UUID | None = None) -> QuerySet[AuditEntry]:
    entries = AuditEntry.objects.select_related("member", "api_key")
    if action:
        entries = entries.filter(action=action)
    if member_id:
        entries = entries.filter(member_id=member_id)
    return entries
