"""Workspace settings pages: members, roles, teams, API keys and the audit log.

Each page renders a full page, or only its `section` when htmx asks; every form posts to its own
URL and answers with the refreshed section (htmx) or a redirect back to the page (plain browser).
Reads go through selectors, writes through services; domain errors become form errors.
"""

from typing import Any
from uuid import UUID

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from siyu.core.errors import DomainError
from siyu.core.errors import ValidationError as DomainValidationError
from siyu.core.web import (
    ActorRequest,
    actor_required,
    form_add_domain_errors,
    is_htmx,
    page_or_section,
    write_refused,
    write_succeeded,
)
from siyu.tenancy.actor import Actor
from siyu.tenancy.forms import ApiKeyCreateForm, AuditFilterForm, MemberCreateForm, MemberUpdateForm, TeamForm
from siyu.tenancy.models import Member
from siyu.tenancy.roles import ROLE_PERMISSIONS, ROLE_SCOPE, DataScope, Permission, Role
from siyu.tenancy.selectors import (
    api_key_get,
    api_key_list,
    audit_entry_filtered,
    audit_entry_page,
    member_get,
    member_list,
    team_get,
    team_subtree_ids,
    team_tree,
)
from siyu.tenancy.services import (
    api_key_create,
    api_key_revoke,
    member_create,
    member_deactivate,
    member_update,
    team_create,
    team_delete,
    team_update,
)

Request = ActorRequest[Actor]
AUDIT_PAGE_SIZE = 50


def _invalid_status(request: Request) -> int:
    """htmx swaps only 2xx answers, so a form with errors is 200 there and 422 for a plain browser."""
    return 200 if is_htmx(request) else 422


def _may_grant_owner(actor: Actor) -> bool:
    return actor.member is not None and actor.member.role == Role.OWNER


@actor_required()
@require_GET
def index(request: Request) -> HttpResponse:
    """/settings/ opens the first settings page this member may use."""
    for permission, url_name in (
        (Permission.MEMBERS_MANAGE, "settings:members"),
        (Permission.TAGS_MANAGE, "contact_settings:tags"),
        (Permission.FIELDS_MANAGE, "contact_settings:fields"),
        (Permission.SOURCES_MANAGE, "tracking_settings:sources"),
        (Permission.API_KEYS_MANAGE, "settings:api_keys"),
        (Permission.AUDIT_READ, "settings:audit"),
    ):
        if request.actor.can(permission):
            return redirect(url_name)
    return redirect("settings:roles")


# Members -------------------------------------------------------------------------------------------


def _members_render(
    request: Request,
    *,
    add_form: MemberCreateForm | None = None,
    editing: Member | None = None,
    edit_form: MemberUpdateForm | None = None,
    notice: str = "",
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    teams = team_tree()
    may_grant_owner = _may_grant_owner(request.actor)
    if editing is not None and edit_form is None:
        edit_form = MemberUpdateForm(member=editing, teams=teams, may_grant_owner=may_grant_owner)
    context = {
        "members": member_list(active_only=False).order_by("-is_active", "display_name"),
        "add_form": add_form or MemberCreateForm(teams=teams, may_grant_owner=may_grant_owner),
        "editing": editing,
        "edit_form": edit_form,
        "notice": notice,
        "error": error,
    }
    return page_or_section(
        request,
        page="tenancy/members.html",
        section="tenancy/partials/members_section.html",
        context=context,
        status=status,
    )


@actor_required(Permission.MEMBERS_MANAGE)
@require_GET
def members(request: Request) -> HttpResponse:
    return _members_render(request)


@actor_required(Permission.MEMBERS_MANAGE)
@require_POST
def member_add(request: Request) -> HttpResponse:
    form = MemberCreateForm(request.POST, teams=team_tree(), may_grant_owner=_may_grant_owner(request.actor))
    if form.is_valid():
        try:
            member = member_create(
                actor=request.actor,
                username=form.cleaned_data["username"],
                display_name=form.cleaned_data["display_name"],
                role=Role(form.cleaned_data["role"]),
                team=form.cleaned_data["team"],
                password=form.cleaned_data["password"],
                email=form.cleaned_data["email"],
            )
        except DomainError as exc:
            form_add_domain_errors(form, exc)
        else:
            notice = _("%(name)s was added.") % {"name": member.display_name}
            return write_succeeded(
                request,
                url_name="settings:members",
                notice=notice,
                render_section=_members_render,
            )
    return _members_render(request, add_form=form, status=_invalid_status(request))


@actor_required(Permission.MEMBERS_MANAGE)
@require_http_methods(["GET", "POST"])
def member_edit(request: Request, member_id: UUID) -> HttpResponse:
    member = member_get(member_id=member_id)
    if request.method == "GET":
        return _members_render(request, editing=member)
    form = MemberUpdateForm(
        request.POST, member=member, teams=team_tree(), may_grant_owner=_may_grant_owner(request.actor)
    )
    if form.is_valid():
        try:
            member_update(
                actor=request.actor,
                member=member,
                role=Role(form.cleaned_data["role"]),
                team=form.cleaned_data["team"],
                display_name=form.cleaned_data["display_name"],
            )
        except DomainError as exc:
            form_add_domain_errors(form, exc)
        else:
            notice = _("%(name)s was updated.") % {"name": member.display_name}
            return write_succeeded(
                request,
                url_name="settings:members",
                notice=notice,
                render_section=_members_render,
            )
    # A refused write leaves the row as stored: re-read it so the table does not show unsaved values.
    member = member_get(member_id=member_id)
    return _members_render(request, editing=member, edit_form=form, status=_invalid_status(request))


@actor_required(Permission.MEMBERS_MANAGE)
@require_POST
def member_deactivate_view(request: Request, member_id: UUID) -> HttpResponse:
    member = member_get(member_id=member_id)
    try:
        member_deactivate(actor=request.actor, member=member)
    except DomainValidationError as exc:
        return write_refused(request, url_name="settings:members", exc=exc, render_section=_members_render)
    notice = _("%(name)s was deactivated and can no longer sign in to this workspace.") % {
        "name": member.display_name
    }
    return write_succeeded(
        request,
        url_name="settings:members",
        notice=notice,
        render_section=_members_render,
    )


# Roles ---------------------------------------------------------------------------------------------


@actor_required(Permission.MEMBERS_MANAGE)
@require_GET
def roles(request: Request) -> HttpResponse:
    """What each role may do and which contacts it sees, straight from ROLE_PERMISSIONS and ROLE_SCOPE."""
    role_list = list(Role)
    rows = [
        {"permission": permission, "grants": [permission in ROLE_PERMISSIONS[role] for role in role_list]}
        for permission in Permission
    ]
    scopes = [ROLE_SCOPE[role] for role in role_list]
    return render(
        request,
        "tenancy/roles.html",
        {"roles": role_list, "rows": rows, "scopes": scopes, "data_scopes": list(DataScope)},
    )


# Teams ---------------------------------------------------------------------------------------------


def _teams_render(
    request: Request,
    *,
    add_form: TeamForm | None = None,
    editing_id: UUID | None = None,
    edit_form: TeamForm | None = None,
    notice: str = "",
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    nodes = team_tree()
    if editing_id is not None and edit_form is None:
        edit_form = _team_edit_form(team_id=editing_id, nodes=nodes)
    context = {
        "nodes": nodes,
        "add_form": add_form or TeamForm(teams=nodes),
        "editing_id": editing_id,
        "edit_form": edit_form,
        "notice": notice,
        "error": error,
    }
    return page_or_section(
        request,
        page="tenancy/teams.html",
        section="tenancy/partials/teams_section.html",
        context=context,
        status=status,
    )


def _team_edit_form(*, team_id: UUID, nodes: list[Any], data: Any = None) -> TeamForm:
    """Parents offered when moving a team: anything outside its own subtree (the service re-checks)."""
    team = team_get(team_id=team_id)
    subtree = team_subtree_ids(team_id=team.id)
    allowed = [node for node in nodes if node.team.id not in subtree]
    return TeamForm(data, teams=allowed, team=team)


@actor_required(Permission.MEMBERS_MANAGE)
@require_GET
def teams(request: Request) -> HttpResponse:
    return _teams_render(request)


@actor_required(Permission.MEMBERS_MANAGE)
@require_POST
def team_add(request: Request) -> HttpResponse:
    form = TeamForm(request.POST, teams=team_tree())
    if form.is_valid():
        try:
            team = team_create(
                actor=request.actor, name=form.cleaned_data["name"], parent=form.cleaned_data["parent"]
            )
        except DomainError as exc:
            form_add_domain_errors(form, exc)
        else:
            notice = _("Team “%(name)s” was created.") % {"name": team.name}
            return write_succeeded(
                request,
                url_name="settings:teams",
                notice=notice,
                render_section=_teams_render,
            )
    return _teams_render(request, add_form=form, status=_invalid_status(request))


@actor_required(Permission.MEMBERS_MANAGE)
@require_http_methods(["GET", "POST"])
def team_edit(request: Request, team_id: UUID) -> HttpResponse:
    team = team_get(team_id=team_id)
    if request.method == "GET":
        return _teams_render(request, editing_id=team.id)
    form = _team_edit_form(team_id=team.id, nodes=team_tree(), data=request.POST)
    if form.is_valid():
        try:
            team_update(
                actor=request.actor,
                team=team,
                name=form.cleaned_data["name"],
                parent=form.cleaned_data["parent"],
            )
        except DomainError as exc:
            form_add_domain_errors(form, exc)
        else:
            notice = _("Team “%(name)s” was saved.") % {"name": team.name}
            return write_succeeded(
                request,
                url_name="settings:teams",
                notice=notice,
                render_section=_teams_render,
            )
    return _teams_render(request, editing_id=team.id, edit_form=form, status=_invalid_status(request))


@actor_required(Permission.MEMBERS_MANAGE)
@require_POST
def team_delete_view(request: Request, team_id: UUID) -> HttpResponse:
    team = team_get(team_id=team_id)
    try:
        team_delete(actor=request.actor, team=team)
    except DomainError as exc:
        return write_refused(request, url_name="settings:teams", exc=exc, render_section=_teams_render)
    notice = _("Team “%(name)s” was deleted.") % {"name": team.name}
    return write_succeeded(
        request,
        url_name="settings:teams",
        notice=notice,
        render_section=_teams_render,
    )


# API keys ------------------------------------------------------------------------------------------


def _api_keys_render(
    request: Request,
    *,
    form: ApiKeyCreateForm | None = None,
    created: Any = None,
    raw_key: str = "",
    notice: str = "",
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    context = {
        "api_keys": api_key_list(),
        "form": form or ApiKeyCreateForm(),
        "created": created,
        "raw_key": raw_key,
        "notice": notice,
        "error": error,
    }
    response = page_or_section(
        request,
        page="tenancy/api_keys.html",
        section="tenancy/partials/api_keys_section.html",
        context=context,
        status=status,
    )
    if raw_key:
        # The secret is in this answer and nowhere else: no cache, no history copy.
        response.headers["Cache-Control"] = "no-store"
    return response


@actor_required(Permission.API_KEYS_MANAGE)
@require_GET
def api_keys(request: Request) -> HttpResponse:
    return _api_keys_render(request)


@actor_required(Permission.API_KEYS_MANAGE)
@require_POST
def api_key_add(request: Request) -> HttpResponse:
    form = ApiKeyCreateForm(request.POST)
    if form.is_valid():
        try:
            api_key, raw_key = api_key_create(
                actor=request.actor, name=form.cleaned_data["name"], scopes=form.cleaned_data["scopes"]
            )
        except DomainError as exc:
            form_add_domain_errors(form, exc)
        else:
            # Shown once, in this answer (never stored raw, so no redirect can show it again).
            return _api_keys_render(request, created=api_key, raw_key=raw_key, status=201)
    return _api_keys_render(request, form=form, status=_invalid_status(request))


@actor_required(Permission.API_KEYS_MANAGE)
@require_POST
def api_key_revoke_view(request: Request, api_key_id: UUID) -> HttpResponse:
    api_key = api_key_get(api_key_id=api_key_id)
    api_key_revoke(actor=request.actor, api_key=api_key)
    notice = _("The key “%(name)s” was revoked; requests using it are now refused.") % {"name": api_key.name}
    return write_succeeded(
        request,
        url_name="settings:api_keys",
        notice=notice,
        render_section=_api_keys_render,
    )


# Audit log -----------------------------------------------------------------------------------------


@actor_required(Permission.AUDIT_READ)
@require_GET
def audit(request: Request) -> HttpResponse:
    form = AuditFilterForm(request.GET or None, members=list(member_list(active_only=False)))
    form.is_valid()  # invalid filters are shown with their errors; the valid ones still apply
    filters = getattr(form, "cleaned_data", {})
    entries = audit_entry_filtered(
        action=filters.get("action") or None,
        member_id=filters.get("member"),
        created_from=filters.get("created_from"),
        created_to=filters.get("created_to"),
    )
    cursor = request.GET.get("cursor") or None
    page = audit_entry_page(entries=entries, cursor=cursor, limit=AUDIT_PAGE_SIZE)
    return page_or_section(
        request,
        page="tenancy/audit.html",
        section="tenancy/partials/audit_section.html",
        context={"form": form, "page": page, "cursor": cursor},
    )
