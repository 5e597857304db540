from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from siyu.core.errors import InvalidCursor, NotFound
from siyu.core.pagination import Page, decode_cursor, encode_cursor
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
        raise NotFound(_("Workspace not found.")) from exc


def user_get_by_username(*, username: str) -> User | None:
    return User.objects.filter(username=username).first()


def workspace_get_by_slug(*, slug: str) -> Workspace:
    try:
        return Workspace.objects.get(slug=slug)
    except Workspace.DoesNotExist as exc:
        raise NotFound(_("There is no workspace with the slug “%(slug)s”.") % {"slug": slug}) from exc


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
        raise NotFound(_("Member not found.")) from exc


def team_list() -> QuerySet[Team]:
    return Team.objects.all()


def team_get(*, team_id: UUID | str) -> Team:
    try:
        return Team.objects.get(id=team_id)
    except (Team.DoesNotExist, ValueError) as exc:
        raise NotFound(_("Team not found.")) from exc


def api_key_list() -> QuerySet[ApiKey]:
    return ApiKey.objects.select_related("created_by")


def audit_entry_list(*, action: str | None = None, member_id: UUID | None = None) -> QuerySet[AuditEntry]:
    entries = AuditEntry.objects.select_related("member", "api_key")
    if action:
        entries = entries.filter(action=action)
    if member_id:
        entries = entries.filter(member_id=member_id)
    return entries


def api_key_get(*, api_key_id: UUID | str) -> ApiKey:
    try:
        return ApiKey.objects.select_related("created_by").get(id=api_key_id)
    except (ApiKey.DoesNotExist, ValueError, DjangoValidationError) as exc:
        raise NotFound(_("API key not found.")) from exc


@dataclass(frozen=True)
class TeamNode:
    """One team in the department tree, in display order."""

    team: Team
    depth: int
    member_count: int  # active members directly in this team
    subtree_member_count: int  # active members in this team and all its sub-teams
    child_count: int


def team_tree() -> list[TeamNode]:
    """The department tree, depth-first and sorted by name, with member counts (two queries)."""
    teams = list(Team.objects.order_by("name"))
    direct: dict[UUID, int] = {
        row["team_id"]: row["n"]
        for row in Member.objects.filter(is_active=True, team__isnull=False)
        .order_by()
        .values("team_id")
        .annotate(n=Count("id"))
    }
    children: dict[UUID | None, list[Team]] = defaultdict(list)
    known = {t.id for t in teams}
    for team in teams:
        children[team.parent_id if team.parent_id in known else None].append(team)

    def subtree_total(team: Team) -> int:
        return direct.get(team.id, 0) + sum(subtree_total(child) for child in children[team.id])

    nodes: list[TeamNode] = []

    def walk(parent_id: UUID | None, depth: int) -> None:
        for team in children[parent_id]:
            nodes.append(
                TeamNode(
                    team=team,
                    depth=depth,
                    member_count=direct.get(team.id, 0),
                    subtree_member_count=subtree_total(team),
                    child_count=len(children[team.id]),
                )
            )
            walk(team.id, depth + 1)

    walk(None, 0)
    return nodes


def audit_entry_filtered(
    *,
    action: str | None = None,
    member_id: UUID | None = None,
    created_from: date | None = None,
    created_to: date | None = None,
) -> QuerySet[AuditEntry]:
    """The audit log narrowed by action, member and an inclusive date range (in the site's time zone)."""
    entries = audit_entry_list(action=action, member_id=member_id)
    if created_from:
        entries = entries.filter(created_at__date__gte=created_from)
    if created_to:
        entries = entries.filter(created_at__date__lte=created_to)
    return entries


def audit_entry_page(*, entries: QuerySet[AuditEntry], cursor: str | None, limit: int) -> Page[AuditEntry]:
    """Newest first, keyset-paged on (created_at, id): chronological even for ids minted in the same ms."""
    rows = entries.order_by("-created_at", "-id")
    if cursor:
        raw = decode_cursor(cursor)
        moment_text, _sep, id_text = raw.partition("|")
        try:
            moment, last_id = datetime.fromisoformat(moment_text), UUID(id_text)
        except ValueError as exc:
            raise InvalidCursor() from exc
        rows = rows.filter(Q(created_at__lt=moment) | Q(created_at=moment, id__lt=last_id))
    items = list(rows[: limit + 1])
    has_more = len(items) > limit
    items = items[:limit]
    next_cursor = encode_cursor(f"{items[-1].created_at.isoformat()}|{items[-1].id}") if has_more else None
    return Page(items=items, next_cursor=next_cursor, has_more=has_more)


def workspace_ids() -> list[UUID]:
    """Every workspace, for system jobs that visit each in turn."""
    return list(Workspace.objects.order_by("id").values_list("id", flat=True))
