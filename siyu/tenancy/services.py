import hashlib
import secrets
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import transaction
from django.utils.translation import gettext as _

from siyu.core.errors import Conflict, ValidationError
from siyu.core.tenancy import workspace_scope
from siyu.core.time import now
from siyu.tenancy.actor import Actor
from siyu.tenancy.models import ApiKey, AuditAction, AuditEntry, Member, Team, Workspace
from siyu.tenancy.roles import ApiKeyScope, Permission, Role
from siyu.tenancy.selectors import team_subtree_ids

API_KEY_PREFIX = "sy_"
API_KEY_TOUCH_INTERVAL = timedelta(minutes=1)


def audit_record(
    *,
    actor: Actor,
    action: AuditAction,
    target_type: str = "",
    target_id: object = "",
    summary: str = "",
    data: Mapping[str, Any] | None = None,
) -> AuditEntry:
    return AuditEntry.objects.create(
        member=actor.member,
        api_key=actor.api_key,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        summary=summary[:300],
        data=dict(data or {}),
        ip_address=actor.ip_address,
    )


def user_get_or_create(*, username: str, password: str | None = None, email: str = "") -> User:
    user, created = User.objects.get_or_create(username=username, defaults={"email": email})
    if created or password:
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
    return user


@transaction.atomic
def workspace_create(*, name: str, slug: str, owner: User, owner_name: str) -> Workspace:
    if Workspace.objects.filter(slug=slug).exists():
        raise Conflict(_("A workspace with the slug “%(slug)s” already exists.") % {"slug": slug})
    workspace = Workspace.objects.create(name=name, slug=slug)
    with workspace_scope(workspace.id):
        Member.objects.create(user=owner, display_name=owner_name, role=Role.OWNER)
    return workspace


def team_create(*, actor: Actor, name: str, parent: Team | None = None) -> Team:
    actor.require(Permission.MEMBERS_MANAGE)
    name = name.strip()
    if not name:
        raise ValidationError(_("A team needs a name."), fields={"name": _("Required.")})
    if Team.objects.filter(parent=parent, name=name).exists():
        raise Conflict(_("A team named “%(name)s” already exists there.") % {"name": name})
    return Team.objects.create(name=name, parent=parent)


def team_update(*, actor: Actor, team: Team, name: str, parent: Team | None) -> Team:
    actor.require(Permission.MEMBERS_MANAGE)
    if parent is not None and parent.id in team_subtree_ids(team_id=team.id):
        raise ValidationError(
            _("A team cannot sit under itself or one of its sub-teams."), fields={"parent": _("Cycle.")}
        )
    name = name.strip() or team.name
    if Team.objects.filter(parent=parent, name=name).exclude(id=team.id).exists():
        raise Conflict(
            _("A team named “%(name)s” already exists there.") % {"name": name}, fields={"name": ""}
        )
    team.name = name
    team.parent = parent
    team.save(update_fields=["name", "parent"])
    return team


@transaction.atomic
def team_delete(*, actor: Actor, team: Team) -> None:
    """Delete an empty team; one with sub-teams or active members is refused (inactive members lose it)."""
    actor.require(Permission.MEMBERS_MANAGE)
    if Team.objects.filter(parent=team).exists():
        raise Conflict(_("“%(name)s” still has sub-teams; move or delete them first.") % {"name": team.name})
    if Member.objects.filter(team=team, is_active=True).exists():
        raise Conflict(
            _("“%(name)s” still has members; move them to another team first.") % {"name": team.name}
        )
    team.delete()


@transaction.atomic
def member_create(
    *,
    actor: Actor,
    username: str,
    display_name: str,
    role: Role,
    team: Team | None = None,
    password: str | None = None,
    email: str = "",
) -> Member:
    actor.require(Permission.MEMBERS_MANAGE)
    if role == Role.OWNER and not (actor.member and actor.member.role == Role.OWNER):
        raise ValidationError(_("Only an owner can add another owner."), fields={"role": _("Not allowed.")})
    # An existing account (a member of another workspace) joins as it is: its password is never reset here.
    user = User.objects.filter(username=username).first() or user_get_or_create(
        username=username, password=password, email=email
    )
    if Member.objects.filter(user=user).exists():
        raise Conflict(_("%(username)s is already a member of this workspace.") % {"username": username})
    member = Member.objects.create(user=user, display_name=display_name, role=role, team=team)
    audit_record(
        actor=actor,
        action=AuditAction.MEMBER_ADDED,
        target_type="member",
        target_id=member.id,
        summary=f"{display_name} ({role})",
    )
    return member


@transaction.atomic
def member_update(
    *, actor: Actor, member: Member, role: Role, team: Team | None, display_name: str
) -> Member:
    actor.require(Permission.MEMBERS_MANAGE)
    if role != member.role:
        if Role.OWNER in (role, member.role) and not (actor.member and actor.member.role == Role.OWNER):
            raise ValidationError(_("Only an owner can grant or remove the owner role."), fields={"role": ""})
        if (
            member.role == Role.OWNER
            and not Member.objects.filter(role=Role.OWNER, is_active=True).exclude(id=member.id).exists()
        ):
            raise ValidationError(_("A workspace must keep at least one owner."), fields={"role": ""})
        audit_record(
            actor=actor,
            action=AuditAction.ROLE_CHANGED,
            target_type="member",
            target_id=member.id,
            summary=f"{member.display_name}: {member.role} → {role}",
            data={"from": member.role, "to": role},
        )
    member.role = role
    member.team = team
    member.display_name = display_name.strip() or member.display_name
    member.save(update_fields=["role", "team", "display_name"])
    return member


@transaction.atomic
def member_deactivate(*, actor: Actor, member: Member) -> Member:
    actor.require(Permission.MEMBERS_MANAGE)
    if member.id == actor.member_id:
        raise ValidationError(_("You cannot deactivate yourself."))
    if (
        member.role == Role.OWNER
        and not Member.objects.filter(role=Role.OWNER, is_active=True).exclude(id=member.id).exists()
    ):
        raise ValidationError(_("A workspace must keep at least one owner."))
    member.is_active = False
    member.save(update_fields=["is_active"])
    audit_record(
        actor=actor,
        action=AuditAction.MEMBER_DEACTIVATED,
        target_type="member",
        target_id=member.id,
        summary=member.display_name,
    )
    return member


def _hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


@transaction.atomic
def api_key_create(*, actor: Actor, name: str, scopes: list[str]) -> tuple[ApiKey, str]:
    """Create a key; the raw secret is returned once and only its hash is stored."""
    actor.require(Permission.API_KEYS_MANAGE)
    name = name.strip()
    if not name:
        raise ValidationError(_("An API key needs a name."), fields={"name": _("Required.")})
    unknown = sorted(set(scopes) - set(ApiKeyScope.values))
    if unknown or not scopes:
        raise ValidationError(
            _("Choose scopes from: %(scopes)s.") % {"scopes": ", ".join(ApiKeyScope.values)},
            fields={"scopes": unknown or _("Required.")},
        )
    prefix = secrets.token_hex(4)
    raw_key = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        name=name,
        prefix=prefix,
        key_hash=_hash_key(raw_key),
        scopes=sorted(set(scopes)),
        created_by=actor.member,
    )
    audit_record(
        actor=actor,
        action=AuditAction.API_KEY_CREATED,
        target_type="api_key",
        target_id=api_key.id,
        summary=f"{name} ({', '.join(api_key.scopes)})",
    )
    return api_key, raw_key


@transaction.atomic
def api_key_revoke(*, actor: Actor, api_key: ApiKey) -> ApiKey:
    actor.require(Permission.API_KEYS_MANAGE)
    if api_key.revoked_at is None:
        api_key.revoked_at = now()
        api_key.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor,
            action=AuditAction.API_KEY_REVOKED,
            target_type="api_key",
            target_id=api_key.id,
            summary=api_key.name,
        )
    return api_key


def api_key_authenticate(*, raw_key: str) -> ApiKey | None:
    """Find the active key for a raw secret, across workspaces (the key itself names the workspace)."""
    if not raw_key.startswith(API_KEY_PREFIX) or len(raw_key) > 200:
        return None
    api_key = (
        ApiKey.all_workspaces.filter(key_hash=_hash_key(raw_key), revoked_at__isnull=True)
        .select_related("workspace")
        .first()
    )
    if api_key is None:
        return None
    moment = now()
    if api_key.last_used_at is None or moment - api_key.last_used_at > API_KEY_TOUCH_INTERVAL:
        ApiKey.all_workspaces.filter(id=api_key.id).update(last_used_at=moment)
        api_key.last_used_at = moment
    return api_key


# Login lockout: counted per (username, ip) in the cache so it works the same with Redis across workers.


def _login_key(username: str, ip_address: str | None) -> str:
    digest = hashlib.sha256(f"{username.lower()}|{ip_address or ''}".encode()).hexdigest()[:32]
    return f"login-failures:{digest}"


def login_is_locked(*, username: str, ip_address: str | None) -> bool:
    return int(cache.get(_login_key(username, ip_address), 0)) >= settings.SIYU_LOGIN_MAX_FAILURES


def login_failure_record(*, username: str, ip_address: str | None) -> int:
    key = _login_key(username, ip_address)
    cache.add(key, 0, timeout=settings.SIYU_LOGIN_LOCKOUT_SECONDS)
    try:
        return cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=settings.SIYU_LOGIN_LOCKOUT_SECONDS)
        return 1


def login_failures_clear(*, username: str, ip_address: str | None) -> None:
    cache.delete(_login_key(username, ip_address))
