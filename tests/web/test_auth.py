import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from siyu.core.tenancy import workspace_scope
from siyu.tenancy.middleware import SESSION_WORKSPACE_KEY
from siyu.tenancy.models import Member, Workspace
from siyu.tenancy.roles import Role
from tests.factories import MemberFactory, UserFactory

PASSWORD = "correct-horse-battery"


def _login(client: Client, username: str, password: str = PASSWORD):
    return client.post(reverse("web:login"), {"username": username, "password": password})


def test_login_page_renders_in_chinese_by_default(client: Client, db: None) -> None:
    response = client.get(reverse("web:login"))
    assert response.status_code == 200
    assert response["Content-Language"] == "zh-hans"
    assert 'name="username"' in response.content.decode()


def test_login_with_right_password_opens_the_home_page(client: Client, rep: Member) -> None:
    response = _login(client, rep.user.username)
    assert response.status_code == 302
    assert response["Location"] == reverse("web:home")
    home = client.get(reverse("web:home"))
    assert home.status_code == 200
    assert rep.display_name in home.content.decode()


def test_login_follows_a_local_next_but_not_an_external_one(client: Client, rep: Member) -> None:
    response = client.post(
        reverse("web:login"), {"username": rep.user.username, "password": PASSWORD, "next": "/contacts/"}
    )
    assert response["Location"] == "/contacts/"
    client.logout()
    response = client.post(
        reverse("web:login"),
        {"username": rep.user.username, "password": PASSWORD, "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("web:home")


def test_wrong_password_says_so_and_counts_down(client: Client, rep: Member) -> None:
    response = _login(client, rep.user.username, "wrong-password")
    assert response.status_code == 400
    body = response.content.decode()
    left = settings.SIYU_LOGIN_MAX_FAILURES - 1
    assert f"{left}" in body
    assert "_auth_user_id" not in client.session


def test_empty_login_form_shows_field_errors(client: Client, db: None) -> None:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.post(reverse("web:login"), {"username": "", "password": ""})
    assert response.status_code == 400
    assert response.content.decode().count("This field is required.") == 2


def test_lockout_refuses_even_the_right_password_until_cleared(client: Client, rep: Member) -> None:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    for _attempt in range(settings.SIYU_LOGIN_MAX_FAILURES):
        _login(client, rep.user.username, "wrong-password")
    response = _login(client, rep.user.username)
    assert response.status_code == 400
    assert "Too many failed attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_lockout_passes_when_the_window_has_passed(client: Client, rep: Member) -> None:
    from django.core.cache import cache

    for _attempt in range(settings.SIYU_LOGIN_MAX_FAILURES):
        _login(client, rep.user.username, "wrong-password")
    cache.clear()  # what the lockout window's expiry does
    assert _login(client, rep.user.username).status_code == 302


def test_logout_is_post_only(client: Client, rep: Member) -> None:
    client.force_login(rep.user)
    assert client.get(reverse("web:logout")).status_code == 405
    response = client.post(reverse("web:logout"))
    assert response["Location"] == reverse("web:login")
    assert client.get(reverse("web:home"))["Location"].startswith(reverse("web:login"))


def test_anonymous_visitor_is_sent_to_login(client: Client, db: None) -> None:
    response = client.get(reverse("web:home"))
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('web:login')}?next=/"


def test_user_without_membership_sees_a_clear_page(client: Client, db: None) -> None:
    client.force_login(UserFactory(username="drifter"))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.get(reverse("web:home"))
    assert response.status_code == 403
    assert "You are not a member of any workspace yet" in response.content.decode()


def _member_of_two(workspace: Workspace, other_workspace: Workspace) -> Member:
    user = UserFactory(username="two-hats")
    member = MemberFactory(user=user, role=Role.ADMIN, display_name="双岗")
    with workspace_scope(other_workspace.id):
        MemberFactory(user=user, role=Role.SALES, display_name="Two Hats")
    return member


def test_workspace_switcher_lists_and_switches_workspaces(
    client: Client, workspace: Workspace, other_workspace: Workspace
) -> None:
    member = _member_of_two(workspace, other_workspace)
    client.force_login(member.user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    home = client.get(reverse("web:home")).content.decode()
    # Memberships are ordered by workspace name: "Other Co" comes first and is active on login.
    assert client.session[SESSION_WORKSPACE_KEY] == str(other_workspace.id)
    assert "Hello, Two Hats" in home
    assert f'value="{workspace.id}"' in home
    response = client.post(reverse("web:switch_workspace"), {"workspace": str(workspace.id)})
    assert response.status_code == 302
    assert client.session[SESSION_WORKSPACE_KEY] == str(workspace.id)
    home = client.get(reverse("web:home")).content.decode()
    assert "Hello, 双岗" in home
    assert "You are now working in 花漾美妆." in home
    assert f'value="{other_workspace.id}"' in home


def test_workspace_switch_refuses_a_workspace_you_are_not_a_member_of(
    client: Client, rep: Member, workspace: Workspace, other_workspace: Workspace
) -> None:
    client.force_login(rep.user)
    client.get(reverse("web:home"))
    response = client.post(reverse("web:switch_workspace"), {"workspace": str(other_workspace.id)})
    assert response.status_code == 404
    assert client.session[SESSION_WORKSPACE_KEY] == str(workspace.id)
    assert other_workspace.name not in response.content.decode()


def test_workspace_switch_is_post_only(client: Client, rep: Member) -> None:
    client.force_login(rep.user)
    assert client.get(reverse("web:switch_workspace")).status_code == 405


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_language_switch_sets_the_cookie(client: Client, rep: Member, language: str) -> None:
    client.force_login(rep.user)
    response = client.post(reverse("set_language"), {"language": language, "next": "/"})
    assert response.status_code == 302
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == language
    assert client.get(reverse("web:home"))["Content-Language"] == language
