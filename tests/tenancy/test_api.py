"""Members and teams over the API (read-only), and the auth classes reading the middleware's actor."""

import pytest
from django.test import RequestFactory

from siyu.tenancy.api import ApiKeyBearer, ApiKeyInHeader, CsrfFailed, SessionAuth
from siyu.tenancy.models import ApiKey
from siyu.tenancy.roles import Role
from siyu.tenancy.selectors import actor_for_api_key
from tests.api.helpers import ApiClient, error_of, make_key, other_workspace_client
from tests.factories import TeamFactory


@pytest.fixture
def api(admin_actor):
    return ApiClient(make_key(admin_actor, ["read"]))


def test_members_list(api, admin, make_member):
    team = TeamFactory(name="华东")
    rep = make_member(Role.SALES, display_name="小王", team=team)
    make_member(Role.SALES, display_name="已离职", is_active=False)

    response = api.get("/members")

    assert response.status_code == 200
    assert response.json() == [
        {
            "id": str(rep.id),
            "display_name": "小王",
            "role": "sales",
            "team_id": str(team.id),
            "is_active": True,
        },
        {"id": str(admin.id), "display_name": "管理员", "role": "admin", "team_id": None, "is_active": True},
    ]


def test_teams_list(api, workspace):
    parent = TeamFactory(name="销售部")
    child = TeamFactory(name="华东", parent=parent)

    response = api.get("/teams")

    assert response.status_code == 200
    assert response.json() == [
        {"id": str(child.id), "name": "华东", "parent_id": str(parent.id)},
        {"id": str(parent.id), "name": "销售部", "parent_id": None},
    ]


def test_members_and_teams_are_read_only(api, workspace):
    assert api.post("/members", {"display_name": "x"}).status_code == 405
    assert api.post("/teams", {"name": "x"}).status_code == 405


def test_members_and_teams_need_auth(db):
    for path in ("/members", "/teams"):
        response = ApiClient().get(path)
        assert response.status_code == 401
        assert error_of(response)["code"] == "not_authenticated"


def test_another_workspace_sees_none_of_our_members_or_teams(admin, other_workspace):
    TeamFactory(name="华东")
    other = other_workspace_client(other_workspace)

    members = other.get("/members").json()
    teams = other.get("/teams").json()

    assert [m["display_name"] for m in members] == ["别家老板"]
    assert teams == []


def test_auth_classes_only_read_the_middlewares_actor(admin, admin_actor):
    make_key(admin_actor, ["read"])
    key_actor = actor_for_api_key(api_key=ApiKey.objects.get())
    factory = RequestFactory()

    keyed = factory.get("/api/v1/contacts")
    keyed.actor = key_actor  # type: ignore[attr-defined]
    session = factory.get("/api/v1/contacts")
    session.actor = admin_actor  # type: ignore[attr-defined]
    nobody = factory.get("/api/v1/contacts", headers={"Authorization": "Bearer sy_whatever"})
    nobody.actor = None  # type: ignore[attr-defined]

    assert ApiKeyBearer()(keyed) is key_actor
    assert ApiKeyInHeader()(keyed) is key_actor
    assert SessionAuth()(keyed) is None  # a key never counts as a session
    assert ApiKeyBearer()(session) is None
    assert SessionAuth()(session) is admin_actor
    assert ApiKeyBearer()(nobody) is None  # the header alone proves nothing
    assert SessionAuth()(nobody) is None


def test_session_auth_refuses_unsafe_methods_without_csrf(admin_actor):
    request = RequestFactory().post("/api/v1/contacts")
    request.actor = admin_actor  # type: ignore[attr-defined]

    with pytest.raises(CsrfFailed):
        SessionAuth()(request)
