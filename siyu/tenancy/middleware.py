from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from siyu.core.tenancy import workspace_scope
from siyu.tenancy.actor import Actor
from siyu.tenancy.selectors import actor_for_api_key, actor_for_member, memberships_for_user
from siyu.tenancy.services import api_key_authenticate

SESSION_WORKSPACE_KEY = "siyu_workspace_id"


def client_ip(request: HttpRequest) -> str | None:
    if getattr(settings, "SIYU_TRUST_X_FORWARDED_FOR", False):
        forwarded = request.headers.get("X-Forwarded-For", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.META.get("REMOTE_ADDR")


def raw_api_key(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.headers.get("X-API-Key") or None


class WorkspaceMiddleware:
    """Resolves the actor (API key or logged-in member) and activates its workspace for the request.

    This is the only place a web or API request gets a workspace; tenant-scoped queries made
    outside it raise instead of leaking.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        actor = self._resolve(request)
        request.actor = actor  # type: ignore[attr-defined]
        if actor is None:
            return self.get_response(request)
        with workspace_scope(actor.workspace_id):
            return self.get_response(request)

    def _resolve(self, request: HttpRequest) -> Actor | None:
        ip_address = client_ip(request)
        request.api_key_rejected = False  # type: ignore[attr-defined]
        key = raw_api_key(request)
        if key is not None:
            api_key = api_key_authenticate(raw_key=key)
            if api_key is None:
                request.api_key_rejected = True  # type: ignore[attr-defined]
                return None
            return actor_for_api_key(api_key=api_key, ip_address=ip_address)
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        memberships = list(memberships_for_user(user=user))
        if not memberships:
            return None
        wanted = request.session.get(SESSION_WORKSPACE_KEY)
        member = next((m for m in memberships if str(m.workspace_id) == wanted), memberships[0])
        if wanted != str(member.workspace_id):  # write only on change: a session save is a DB write
            request.session[SESSION_WORKSPACE_KEY] = str(member.workspace_id)
        request.memberships = memberships  # type: ignore[attr-defined]
        return actor_for_member(member=member, ip_address=ip_address)
