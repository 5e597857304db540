import pytest

from siyu.core.errors import Conflict, PermissionDenied, ValidationError
from siyu.core.tenancy import workspace_scope
from siyu.tenancy.models import ApiKey, AuditAction, AuditEntry, Member
from siyu.tenancy.roles import Permission, Role
from siyu.tenancy.selectors import actor_for_api_key, actor_for_member, audit_entry_list
from siyu.tenancy.services import (
    api_key_authenticate,
    api_key_create,
    api_key_revoke,
    login_failure_record,
    login_failures_clear,
    login_is_locked,
    member_create,
    member_deactivate,
    member_update,
    team_create,
    team_update,
    user_get_or_create,
    workspace_create,
)
from tests.factories import MemberFactory


def test_workspace_create_makes_the_creator_owner(db):
    user = user_get_or_create(username="boss", password="a-long-password")
    workspace = workspace_create(name="花漾美妆", slug="huayang", owner=user, owner_name="老板")
    with workspace_scope(workspace.id):
        assert list(Member.objects.values_list("display_name", "role")) == [("老板", Role.OWNER)]
    with pytest.raises(Conflict):
        workspace_create(name="again", slug="huayang", owner=user, owner_name="x")


def test_api_keys_are_hashed_shown_once_and_revocable(admin_actor):
    api_key, raw = api_key_create(actor=admin_actor, name="ERP", scopes=["read"])
    assert raw.startswith("sy_")
    assert raw not in api_key.key_hash
    assert ApiKey.objects.get().key_hash != raw
    found = api_key_authenticate(raw_key=raw)
    assert found is not None
    assert found.id == api_key.id
    assert found.last_used_at is not None
    actor = actor_for_api_key(api_key=found)
    assert actor.can(Permission.CONTACTS_READ)
    assert not actor.can(Permission.CONTACTS_WRITE)
    assert api_key_authenticate(raw_key=raw + "x") is None
    api_key_revoke(actor=admin_actor, api_key=api_key)
    assert api_key_authenticate(raw_key=raw) is None
    assert [e.action for e in audit_entry_list()] == [
        AuditAction.API_KEY_REVOKED,
        AuditAction.API_KEY_CREATED,
    ]
    with pytest.raises(ValidationError):
        api_key_create(actor=admin_actor, name="bad", scopes=["admin"])


def test_only_admins_manage_keys_and_members(rep_actor):
    with pytest.raises(PermissionDenied):
        api_key_create(actor=rep_actor, name="x", scopes=["read"])
    with pytest.raises(PermissionDenied):
        member_create(actor=rep_actor, username="u", display_name="u", role=Role.SALES)


def test_role_changes_are_audited_and_the_last_owner_stays(workspace, admin_actor):
    owner = MemberFactory(role=Role.OWNER)
    owner_actor = actor_for_member(member=owner)
    rep = member_create(
        actor=admin_actor, username="rep1", display_name="小王", role=Role.SALES, password="pw-123456"
    )
    member_update(actor=admin_actor, member=rep, role=Role.MANAGER, team=None, display_name="小王")
    entry = AuditEntry.objects.filter(action=AuditAction.ROLE_CHANGED).get()
    assert entry.data == {"from": "sales", "to": "manager"}
    with pytest.raises(ValidationError):
        member_update(actor=admin_actor, member=owner, role=Role.SALES, team=None, display_name="x")
    with pytest.raises(ValidationError):
        member_update(actor=owner_actor, member=owner, role=Role.ADMIN, team=None, display_name="x")
    with pytest.raises(ValidationError):
        member_deactivate(actor=owner_actor, member=owner)
    member_deactivate(actor=owner_actor, member=rep)
    rep.refresh_from_db()
    assert rep.is_active is False


def test_team_tree_refuses_cycles(admin_actor):
    root = team_create(actor=admin_actor, name="销售部")
    east = team_create(actor=admin_actor, name="华东", parent=root)
    with pytest.raises(ValidationError):
        team_update(actor=admin_actor, team=root, name="销售部", parent=east)
    with pytest.raises(Conflict):
        team_create(actor=admin_actor, name="华东", parent=root)


def test_login_lockout_after_repeated_failures(settings):
    settings.SIYU_LOGIN_MAX_FAILURES = 3
    for _ in range(3):
        assert not login_is_locked(username="Boss", ip_address="1.2.3.4")
        login_failure_record(username="boss", ip_address="1.2.3.4")
    assert login_is_locked(username="BOSS", ip_address="1.2.3.4")
    assert not login_is_locked(username="boss", ip_address="5.6.7.8")
    login_failures_clear(username="boss", ip_address="1.2.3.4")
    assert not login_is_locked(username="boss", ip_address="1.2.3.4")


def test_another_workspace_cannot_see_members_keys_or_audit(workspace, other_workspace, admin_actor):
    api_key_create(actor=admin_actor, name="ERP", scopes=["read", "write"])
    with workspace_scope(other_workspace.id):
        assert ApiKey.objects.count() == 0
        assert AuditEntry.objects.count() == 0
        assert Member.objects.count() == 0
