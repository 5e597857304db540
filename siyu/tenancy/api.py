"""Who is calling the API (auth classes over `request.actor`), and the read-only members/teams routes.

WorkspaceMiddleware has already resolved the actor — from an API key (`Authorization: Bearer sy_…`
or `X-API-Key`) or from the logged-in member's session — and activated its workspace. The auth
classes below only read that result; there is no second way to pick a tenant.
"""

from typing import Any
from uuid import UUID

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema
from ninja.errors import HttpError
from ninja.security import APIKeyCookie, APIKeyHeader, HttpBearer
from ninja.utils import check_csrf

from siyu.tenancy.actor import Actor
from siyu.tenancy.selectors import member_list, team_list


class AuthedRequest(HttpRequest):
    """The request an authenticated API handler receives: `auth` is the acting Actor."""

    actor: Actor
    auth: Actor


def _actor_by_api_key(request: HttpRequest) -> Actor | None:
    actor: Actor | None = getattr(request, "actor", None)
    return actor if actor is not None and actor.api_key is not None else None


class ApiKeyBearer(HttpBearer):
    """`Authorization: Bearer sy_…` (resolved by WorkspaceMiddleware)."""

    def __call__(self, request: HttpRequest) -> Actor | None:
        return _actor_by_api_key(request)

    def authenticate(self, request: HttpRequest, token: str) -> Actor | None:
        return _actor_by_api_key(request)


class ApiKeyInHeader(APIKeyHeader):
    """`X-API-Key: sy_…` (resolved by WorkspaceMiddleware)."""

    param_name = "X-API-Key"

    def __call__(self, request: HttpRequest) -> Actor | None:
        return _actor_by_api_key(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Actor | None:
        return _actor_by_api_key(request)


class CsrfFailed(HttpError):
    def __init__(self) -> None:
        super().__init__(403, _("CSRF check failed: send the csrftoken cookie's value in X-CSRFToken."))


class SessionAuth(APIKeyCookie):
    """The web UI's own calls: the logged-in member's session, with CSRF enforced on unsafe methods."""

    param_name = "sessionid"

    def __init__(self) -> None:
        super().__init__(csrf=True)

    def __call__(self, request: HttpRequest) -> Actor | None:
        actor: Actor | None = getattr(request, "actor", None)
        if actor is None or actor.member is None or actor.api_key is not None:
            return None
        if check_csrf(request) is not None:
            raise CsrfFailed
        return actor

    def authenticate(self, request: HttpRequest, key: str | None) -> Actor | None:
        return self(request)


API_AUTH = [ApiKeyBearer(), ApiKeyInHeader(), SessionAuth()]


# --- members and teams (read-only, for integrations that assign owners) -------------------------


class TeamOut(Schema):
    id: UUID
    name: str
    parent_id: UUID | None


class MemberOut(Schema):
    id: UUID
    display_name: str
    role: str
    team_id: UUID | None
    is_active: bool


members_router = Router(tags=["members"])
teams_router = Router(tags=["teams"])


@members_router.get("", response=list[MemberOut], operation_id="members_list")
def members_list(request: AuthedRequest) -> Any:
    """Active members of the workspace (ids to use as contact owners)."""
    return list(member_list())


@teams_router.get("", response=list[TeamOut], operation_id="teams_list")
def teams_list(request: AuthedRequest) -> Any:
    """The teams (department tree as parent links)."""
    return list(team_list())
