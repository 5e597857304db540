"""Login, logout, workspace switch and the home dashboard."""

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from siyu.contacts.selectors import contact_counts_by_owner, contact_counts_by_stage, follow_ups_due
from siyu.core.time import today
from siyu.core.web import ActorRequest, actor_required
from siyu.tenancy.actor import Actor
from siyu.tenancy.middleware import SESSION_WORKSPACE_KEY, client_ip
from siyu.tenancy.roles import Permission
from siyu.tenancy.selectors import memberships_for_user
from siyu.tenancy.services import login_failure_record, login_failures_clear, login_is_locked
from siyu.web.forms import LoginForm
from siyu.web.stages import stage_rows


def _safe_next(request: HttpRequest, candidate: str) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse(settings.LOGIN_REDIRECT_URL)


def _locked_message() -> str:
    minutes = max(1, settings.SIYU_LOGIN_LOCKOUT_SECONDS // 60)
    return ngettext(
        "Too many failed attempts: this account is locked for %(minutes)d minute. Try again later.",
        "Too many failed attempts: this account is locked for %(minutes)d minutes. Try again later.",
        minutes,
    ) % {"minutes": minutes}


@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or request.GET.get("next", "")
    if request.method == "GET" and request.user.is_authenticated:
        return redirect(_safe_next(request, next_url))
    form = LoginForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        username = form.cleaned_data["username"]
        ip_address = client_ip(request)
        if login_is_locked(username=username, ip_address=ip_address):
            form.add_error(None, _locked_message())
        else:
            user = authenticate(request, username=username, password=form.cleaned_data["password"])
            if user is None:
                failures = login_failure_record(username=username, ip_address=ip_address)
                left = settings.SIYU_LOGIN_MAX_FAILURES - failures
                if left <= 0:
                    form.add_error(None, _locked_message())
                else:
                    form.add_error(
                        None,
                        ngettext(
                            "The username or password is wrong. %(left)d attempt left before the account is locked.",
                            "The username or password is wrong. %(left)d attempts left before the account is locked.",
                            left,
                        )
                        % {"left": left},
                    )
            else:
                login_failures_clear(username=username, ip_address=ip_address)
                login(request, user)
                return HttpResponseRedirect(_safe_next(request, next_url))
    status = 400 if form.is_bound else 200
    return render(request, "web/login.html", {"form": form, "next": next_url}, status=status)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect(settings.LOGOUT_REDIRECT_URL)


@require_POST
@login_required
def switch_workspace(request: HttpRequest) -> HttpResponse:
    """Make another of the user's workspaces the active one; any other workspace is a 404."""
    wanted = request.POST.get("workspace", "")
    member = next(
        (m for m in memberships_for_user(user=request.user) if str(m.workspace_id) == wanted),  # type: ignore[arg-type]
        None,
    )
    if member is None:
        raise Http404(_("You are not a member of that workspace."))
    request.session[SESSION_WORKSPACE_KEY] = str(member.workspace_id)
    messages.success(request, _("You are now working in %(name)s.") % {"name": member.workspace.name})
    return redirect("web:home")


@actor_required()
def home(request: ActorRequest[Actor]) -> HttpResponse:
    actor = request.actor
    context: dict[str, Any] = {"due": [], "stages": [], "owners": [], "can_read_contacts": False}
    if actor.can(Permission.CONTACTS_READ):
        by_stage = contact_counts_by_stage(actor=actor)
        stages = stage_rows(by_stage)
        owners = [
            {"name": name or _("Public pool"), "count": count, "is_pool": owner_id is None}
            for owner_id, name, count in contact_counts_by_owner(actor=actor)
        ]
        day = today()
        context.update(
            can_read_contacts=True,
            due=[
                {"follow_up": f, "is_overdue": f.next_follow_up_on is not None and f.next_follow_up_on < day}
                for f in follow_ups_due(actor=actor, on=day)
            ],
            stages=stages,
            owners=owners,
            total=sum(by_stage.values()),
            chart_data={
                "labels": {"contacts": _("Contacts")},
                "stages": [{"label": s.label, "color": s.color, "count": s.count} for s in stages],
                "owners": owners,
            },
        )
    return render(request, "web/home.html", context)
