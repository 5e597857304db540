"""Workspace settings pages: members, roles, teams, API keys, audit log."""

import hashlib
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from siyu.core.tenancy import workspace_scope
from siyu.core.time import now
from siyu.tenancy.models import ApiKey, AuditAction, AuditEntry, Member, Team
from siyu.tenancy.roles import Role
from siyu.tenancy.selectors import actor_for_member
from siyu.tenancy.services import api_key_create, audit_record
from tests.conftest import client_for
from tests.factories import MemberFactory, TeamFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def admin_client(admin):
    return client_for(admin)


@pytest.fixture
def rep_client(rep):
    return client_for(rep)


@pytest.fixture
def foreign(other_workspace):
    """Another tenant's member, team, API key and audit entry, with names that must never leak."""
    with workspace_scope(other_workspace.id):
        team = TeamFactory(name="外部团队")
        member = MemberFactory(display_name="外部成员", role=Role.ADMIN, team=team)
        actor = actor_for_member(member=member, ip_address="10.9.9.9")
        api_key, _raw = api_key_create(actor=actor, name="外部密钥", scopes=["read"])
    return {"team": team, "member": member, "api_key": api_key}


PAGES = ["settings:members", "settings:roles", "settings:teams", "settings:api_keys", "settings:audit"]


@pytest.mark.parametrize("url_name", PAGES)
def test_every_page_renders_for_an_admin_and_is_403_for_a_sales_rep(admin_client, rep_client, url_name):
    page = admin_client.get(reverse(url_name))
    assert page.status_code == 200
    assert b'class="page"' in page.content  # the full layout, not a fragment
    refused = rep_client.get(reverse(url_name))
    assert refused.status_code == 403
    assert b"Your role does not allow this page." in refused.content


def test_anonymous_visitors_are_sent_to_log_in(db, workspace):
    response = Client().get(reverse("settings:members"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("web:login"))


def test_htmx_requests_get_only_the_section(admin_client):
    response = admin_client.get(reverse("settings:members"), **HTMX)
    assert response.status_code == 200
    assert response.content.decode().startswith('<div id="members-section"')


def test_settings_index_opens_the_first_permitted_page(admin_client, make_member):
    assert admin_client.get(reverse("settings:index"))["Location"] == reverse("settings:members")
    client = client_for(make_member(Role.MARKETING))
    assert client.get(reverse("settings:index"))["Location"] == reverse("contact_settings:tags")


# Members -------------------------------------------------------------------------------------------


def test_add_a_member_with_team_role_and_initial_password(admin_client, admin):
    team = TeamFactory(name="华东组")
    response = admin_client.post(
        reverse("settings:member_add"),
        {
            "username": "xiaoli",
            "display_name": "小李",
            "email": "li@example.com",
            "role": Role.MANAGER,
            "team": str(team.id),
            "password": "pink-lipstick-42",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("settings:members")
    member = Member.objects.get(user__username="xiaoli")
    assert (member.display_name, member.role, member.team_id, member.is_active) == (
        "小李",
        Role.MANAGER,
        team.id,
        True,
    )
    assert member.user.check_password("pink-lipstick-42")
    assert member.user.email == "li@example.com"
    entry = AuditEntry.objects.get(action=AuditAction.MEMBER_ADDED)
    assert (entry.member_id, entry.target_id, entry.ip_address) == (admin.id, str(member.id), "127.0.0.1")


def test_add_member_errors_are_sentences_and_nothing_is_written(admin_client):
    before = Member.objects.count()
    response = admin_client.post(
        reverse("settings:member_add"),
        {"username": "bad name", "display_name": " ", "role": Role.SALES, "team": "", "password": "123"},
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "Use letters, digits and @ . + - _ only, without spaces." in html
    assert "This password is too short." in html
    assert "is-invalid" in html
    assert Member.objects.count() == before
    assert not AuditEntry.objects.exists()


def test_add_member_via_htmx_answers_the_section_with_errors(admin_client):
    response = admin_client.post(
        reverse("settings:member_add"),
        {"username": "ok", "display_name": "好", "role": Role.SALES, "password": "short"},
        **HTMX,
    )
    assert response.status_code == 200
    assert response.content.decode().startswith('<div id="members-section"')
    assert "is-invalid" in response.content.decode()
    assert not Member.objects.filter(user__username="ok").exists()


def test_a_username_already_in_the_workspace_is_a_conflict_on_the_form(admin_client, rep):
    response = admin_client.post(
        reverse("settings:member_add"),
        {
            "username": rep.user.username,
            "display_name": "又一个",
            "role": Role.SALES,
            "password": "pink-lipstick-42",
        },
    )
    assert response.status_code == 422
    assert rep.user.username.encode() in response.content
    assert Member.objects.filter(user=rep.user).count() == 1


def test_adding_an_existing_account_never_resets_its_password(admin_client, foreign):
    outsider = foreign["member"].user
    response = admin_client.post(
        reverse("settings:member_add"),
        {
            "username": outsider.username,
            "display_name": "借调",
            "role": Role.SALES,
            "password": "attacker-chosen-1",
        },
    )
    assert response.status_code == 302
    outsider.refresh_from_db()
    assert outsider.check_password("correct-horse-battery")
    assert not outsider.check_password("attacker-chosen-1")


def test_an_admin_cannot_offer_or_grant_the_owner_role(admin_client):
    page = admin_client.get(reverse("settings:members")).content.decode()
    assert 'value="owner"' not in page
    response = admin_client.post(
        reverse("settings:member_add"),
        {"username": "boss2", "display_name": "二老板", "role": Role.OWNER, "password": "pink-lipstick-42"},
    )
    assert response.status_code == 422
    assert not Member.objects.filter(user__username="boss2").exists()


def test_edit_a_member_changes_role_team_and_name_and_audits_the_role_change(admin_client, admin, rep):
    team = TeamFactory(name="华南组")
    form = admin_client.get(reverse("settings:member_edit", args=[rep.id]), **HTMX)
    assert form.status_code == 200
    assert f'hx-post="{reverse("settings:member_edit", args=[rep.id])}"' in form.content.decode()
    response = admin_client.post(
        reverse("settings:member_edit", args=[rep.id]),
        {"display_name": "王经理", "role": Role.MANAGER, "team": str(team.id)},
        **HTMX,
    )
    assert response.status_code == 200
    assert "王经理" in response.content.decode()
    rep.refresh_from_db()
    assert (rep.display_name, rep.role, rep.team_id) == ("王经理", Role.MANAGER, team.id)
    entry = AuditEntry.objects.get(action=AuditAction.ROLE_CHANGED)
    assert (entry.member_id, entry.target_id, entry.data) == (
        admin.id,
        str(rep.id),
        {"from": Role.SALES, "to": Role.MANAGER},
    )


def test_a_refused_role_change_leaves_the_member_untouched(admin_client, make_member):
    owner = make_member(Role.OWNER, display_name="老板")
    response = admin_client.post(
        reverse("settings:member_edit", args=[owner.id]),
        {"display_name": "改名", "role": Role.SALES, "team": ""},
    )
    assert response.status_code == 422
    assert "Only an owner can grant or remove the owner role." in response.content.decode()
    owner.refresh_from_db()
    assert (owner.display_name, owner.role) == ("老板", Role.OWNER)
    assert not AuditEntry.objects.exists()


def test_deactivate_a_member_but_not_yourself(admin_client, admin, rep):
    response = admin_client.post(reverse("settings:member_deactivate", args=[rep.id]), **HTMX)
    assert response.status_code == 200
    rep.refresh_from_db()
    assert rep.is_active is False
    assert (
        AuditEntry.objects.filter(action=AuditAction.MEMBER_DEACTIVATED, target_id=str(rep.id)).count() == 1
    )
    refused = admin_client.post(reverse("settings:member_deactivate", args=[admin.id]))
    assert refused.status_code == 302
    admin.refresh_from_db()
    assert admin.is_active is True
    follow = admin_client.get(reverse("settings:members"))
    assert "You cannot deactivate yourself." in follow.content.decode()


def test_member_actions_refuse_get(admin_client, rep):
    assert admin_client.get(reverse("settings:member_deactivate", args=[rep.id])).status_code == 405
    assert admin_client.get(reverse("settings:member_add")).status_code == 405


def test_a_sales_rep_cannot_post_member_changes(rep_client, admin):
    response = rep_client.post(
        reverse("settings:member_edit", args=[admin.id]),
        {"display_name": "x", "role": Role.SALES, "team": ""},
    )
    assert response.status_code == 403
    admin.refresh_from_db()
    assert admin.role == Role.ADMIN


# Roles ---------------------------------------------------------------------------------------------


def test_the_roles_page_is_a_matrix_of_permissions_and_scopes(admin_client):
    html = admin_client.get(reverse("settings:roles")).content.decode()
    assert "Manage API keys" in html
    assert "Own contacts and the public pool" in html
    assert "Whole workspace" in html
    # 21 permissions x 6 roles: owner/admin hold all 21 each, manager 14, sales 5, service 5, marketing 14.
    assert html.count(">Allowed</span>") == 21 + 21 + 14 + 5 + 5 + 14


# Teams ---------------------------------------------------------------------------------------------


def test_teams_show_as_a_tree_with_member_counts(admin_client, make_member):
    east = TeamFactory(name="华东区")
    shanghai = TeamFactory(name="上海组", parent=east)
    make_member(Role.SALES, team=shanghai)
    make_member(Role.SALES, team=shanghai)
    make_member(Role.MANAGER, team=east)
    make_member(Role.SALES, team=shanghai, is_active=False)
    html = admin_client.get(reverse("settings:teams")).content.decode()
    assert html.index("华东区") < html.index("上海组")
    assert "padding-left: calc(1 * 1.5rem)" in html
    counts = re.findall(
        r'data-label="Members">(\d+)</td>\s*<td class="text-end" data-label="Including sub-teams">(\d+)', html
    )
    assert counts == [("1", "3"), ("2", "2")]


def test_create_rename_and_move_a_team(admin_client):
    response = admin_client.post(reverse("settings:team_add"), {"name": "华北区", "parent": ""})
    assert response.status_code == 302
    north = Team.objects.get(name="华北区")
    admin_client.post(reverse("settings:team_add"), {"name": "北京组", "parent": str(north.id)}, **HTMX)
    beijing = Team.objects.get(name="北京组")
    assert beijing.parent_id == north.id
    other = TeamFactory(name="总部")
    response = admin_client.post(
        reverse("settings:team_edit", args=[beijing.id]),
        {"name": "北京一组", "parent": str(other.id)},
        **HTMX,
    )
    assert response.status_code == 200
    beijing.refresh_from_db()
    assert (beijing.name, beijing.parent_id) == ("北京一组", other.id)


def test_moving_a_team_under_its_own_subtree_is_refused(admin_client):
    top = TeamFactory(name="顶层")
    child = TeamFactory(name="下层", parent=top)
    form = admin_client.get(reverse("settings:team_edit", args=[top.id]), **HTMX).content.decode()
    edit_form = form[form.index(f'action="{reverse("settings:team_edit", args=[top.id])}"') :]
    assert f'value="{child.id}"' not in edit_form.split("</form>")[0]
    response = admin_client.post(
        reverse("settings:team_edit", args=[top.id]), {"name": "顶层", "parent": str(child.id)}
    )
    assert response.status_code == 422
    top.refresh_from_db()
    assert top.parent_id is None


def test_a_duplicate_team_name_under_the_same_parent_is_a_form_error(admin_client):
    parent = TeamFactory(name="华东区")
    TeamFactory(name="上海组", parent=parent)
    second = TeamFactory(name="杭州组", parent=parent)
    response = admin_client.post(
        reverse("settings:team_edit", args=[second.id]), {"name": "上海组", "parent": str(parent.id)}
    )
    assert response.status_code == 422
    assert "上海组" in response.content.decode()
    second.refresh_from_db()
    assert second.name == "杭州组"


def test_delete_only_empty_teams(admin_client, make_member):
    parent = TeamFactory(name="有子团队")
    TeamFactory(name="子团队", parent=parent)
    staffed = TeamFactory(name="有成员")
    make_member(Role.SALES, team=staffed)
    empty = TeamFactory(name="空团队")
    for team in (parent, staffed):
        response = admin_client.post(reverse("settings:team_delete", args=[team.id]), **HTMX)
        assert response.status_code == 200
        assert "alert-danger" in response.content.decode()
    assert set(Team.objects.values_list("name", flat=True)) == {"有子团队", "子团队", "有成员", "空团队"}
    response = admin_client.post(reverse("settings:team_delete", args=[empty.id]))
    assert response.status_code == 302
    assert not Team.objects.filter(id=empty.id).exists()


# API keys ------------------------------------------------------------------------------------------


def test_create_an_api_key_shows_it_once_and_stores_only_its_hash(admin_client, admin):
    response = admin_client.post(
        reverse("settings:api_key_add"), {"name": "ERP 同步", "scopes": ["read", "write"]}
    )
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    api_key = ApiKey.objects.get()
    html = response.content.decode()
    start = html.index('value="sy_') + len('value="')
    raw = html[start : html.index('"', start)]
    assert raw.startswith(f"sy_{api_key.prefix}_")
    assert api_key.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert (api_key.name, api_key.scopes, api_key.created_by_id) == ("ERP 同步", ["read", "write"], admin.id)
    assert not ApiKey.objects.filter(key_hash=raw).exists()
    again = admin_client.get(reverse("settings:api_keys")).content.decode()
    assert raw not in again
    assert f"sy_{api_key.prefix}_…" in again
    entry = AuditEntry.objects.get(action=AuditAction.API_KEY_CREATED)
    assert (entry.member_id, entry.target_id) == (admin.id, str(api_key.id))


def test_api_key_form_errors_write_nothing(admin_client):
    response = admin_client.post(reverse("settings:api_key_add"), {"name": "  ", "scopes": []}, **HTMX)
    assert response.status_code == 200
    assert "is-invalid" in response.content.decode()
    assert 'value="sy_' not in response.content.decode()
    assert not ApiKey.objects.exists()
    assert not AuditEntry.objects.exists()


def test_revoke_an_api_key_is_audited_and_the_key_stops_working(admin_client, admin_actor, admin):
    api_key, raw = api_key_create(actor=admin_actor, name="旧接口", scopes=["read"])
    AuditEntry.objects.all().delete()
    response = admin_client.post(reverse("settings:api_key_revoke", args=[api_key.id]), **HTMX)
    assert response.status_code == 200
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    entry = AuditEntry.objects.get(action=AuditAction.API_KEY_REVOKED)
    assert (entry.member_id, entry.target_id) == (admin.id, str(api_key.id))
    assert Client().get(reverse("settings:members"), HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 302


# Audit log -----------------------------------------------------------------------------------------


def test_audit_log_shows_who_when_what_and_ip_and_filters(admin_client, admin_actor, admin, rep):
    rep_actor = actor_for_member(member=rep, ip_address="10.0.0.8")
    audit_record(actor=admin_actor, action=AuditAction.CONTACTS_EXPORTED, summary="导出 120 位客户")
    audit_record(actor=rep_actor, action=AuditAction.PHONE_REVEALED, summary="张三 13800001234")
    old = audit_record(actor=rep_actor, action=AuditAction.PHONE_REVEALED, summary="李四 很久以前")
    AuditEntry.objects.filter(id=old.id).update(created_at=now() - timedelta(days=40))

    html = admin_client.get(reverse("settings:audit")).content.decode()
    assert all(
        text in html
        for text in ("导出 120 位客户", "张三 13800001234", "李四 很久以前", "10.0.0.8", "管理员")
    )
    # Newest first by time, whatever the ids say (the last entry written happened 40 days ago).
    assert html.index("导出 120 位客户") < html.index("李四 很久以前")
    assert html.index("张三 13800001234") < html.index("李四 很久以前")

    by_action = admin_client.get(reverse("settings:audit"), {"action": AuditAction.CONTACTS_EXPORTED}).content
    assert "导出 120 位客户".encode() in by_action
    assert "张三".encode() not in by_action

    by_member = admin_client.get(reverse("settings:audit"), {"member": str(rep.id)}).content.decode()
    assert "张三 13800001234" in by_member
    assert "导出 120 位客户" not in by_member

    recent = (now() - timedelta(days=7)).date().isoformat()
    by_date = admin_client.get(reverse("settings:audit"), {"created_from": recent}).content.decode()
    assert "张三 13800001234" in by_date
    assert "李四 很久以前" not in by_date

    window = (now() - timedelta(days=41)).date().isoformat(), (now() - timedelta(days=39)).date().isoformat()
    in_window = admin_client.get(
        reverse("settings:audit"), {"created_from": window[0], "created_to": window[1]}
    ).content.decode()
    assert "李四 很久以前" in in_window
    assert "张三 13800001234" not in in_window


def test_audit_filter_errors_are_reported(admin_client):
    response = admin_client.get(
        reverse("settings:audit"), {"created_from": "2025-05-02", "created_to": "2025-05-01"}
    )
    assert response.status_code == 200
    assert "is-invalid" in response.content.decode()
    bad = admin_client.get(reverse("settings:audit"), {"created_from": "not-a-date", "member": "nobody"})
    assert bad.status_code == 200
    assert bad.content.decode().count("invalid-feedback") == 2


def test_audit_log_pages_with_a_cursor(admin_client, admin_actor):
    for n in range(55):
        audit_record(actor=admin_actor, action=AuditAction.CONTACTS_EXPORTED, summary=f"第{n:02d}次导出")
    first = admin_client.get(reverse("settings:audit")).content.decode()
    assert "第54次导出" in first
    assert "第04次导出" not in first
    start = first.index('href="?cursor=') + len('href="?')
    query = first[start : first.index('"', start)].replace("&amp;", "&")
    second = admin_client.get(f"{reverse('settings:audit')}?{query}").content.decode()
    assert "第04次导出" in second
    assert "第00次导出" in second
    assert "第54次导出" not in second
    expired = admin_client.get(reverse("settings:audit"), {"cursor": "!!!"}, follow=True)
    assert expired.redirect_chain == [(reverse("settings:audit"), 302)]
    assert "第54次导出" in expired.content.decode()


def test_managers_cannot_read_the_audit_log(make_member):
    client = client_for(make_member(Role.MANAGER))
    assert client.get(reverse("settings:audit")).status_code == 403


# Another workspace ---------------------------------------------------------------------------------


def test_another_workspaces_ids_are_404_everywhere_and_write_nothing(admin_client, foreign, other_workspace):
    member, team, api_key = foreign["member"], foreign["team"], foreign["api_key"]
    attempts = [
        ("get", reverse("settings:member_edit", args=[member.id]), {}),
        ("post", reverse("settings:member_edit", args=[member.id]), {"display_name": "x", "role": "sales"}),
        ("post", reverse("settings:member_deactivate", args=[member.id]), {}),
        ("get", reverse("settings:team_edit", args=[team.id]), {}),
        ("post", reverse("settings:team_edit", args=[team.id]), {"name": "x", "parent": ""}),
        ("post", reverse("settings:team_delete", args=[team.id]), {}),
        ("post", reverse("settings:api_key_revoke", args=[api_key.id]), {}),
    ]
    for method, url, data in attempts:
        response = getattr(admin_client, method)(url, data)
        assert response.status_code == 404, url
        body = response.content.decode()
        assert "外部" not in body, url
    # A foreign team id smuggled into a form is not a valid choice.
    response = admin_client.post(
        reverse("settings:member_add"),
        {
            "username": "sneaky",
            "display_name": "S",
            "role": "sales",
            "team": str(team.id),
            "password": "pink-lipstick-42",
        },
    )
    assert response.status_code == 422
    assert not Member.objects.filter(user__username="sneaky").exists()
    # Lists and the audit log never show the other tenant's rows, even filtered by its member.
    for url_name in PAGES:
        assert "外部".encode() not in admin_client.get(reverse(url_name)).content, url_name
    assert (
        "外部".encode() not in admin_client.get(reverse("settings:audit"), {"member": str(member.id)}).content
    )
    with workspace_scope(other_workspace.id):
        member.refresh_from_db()
        api_key.refresh_from_db()
        assert (member.display_name, member.is_active, api_key.revoked_at) == ("外部成员", True, None)
        assert Team.objects.filter(id=team.id).exists()


def test_a_member_of_two_workspaces_only_manages_the_active_one(admin, foreign, other_workspace):
    """The same login in another workspace as a sales rep gets the rep's answer there, not admin powers."""
    with workspace_scope(other_workspace.id):
        Member.objects.create(user=admin.user, display_name="兼职", role=Role.SALES)
    client = Client()
    client.force_login(admin.user)
    session = client.session
    session["siyu_workspace_id"] = str(other_workspace.id)
    session.save()
    assert client.get(reverse("settings:members")).status_code == 403
    assert client.get(reverse("settings:member_edit", args=[admin.id])).status_code == 403
