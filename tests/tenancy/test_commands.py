import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from siyu.core.tenancy import workspace_scope
from siyu.tenancy.models import AuditAction, AuditEntry, Member, Workspace
from siyu.tenancy.roles import Role
from tests.factories import TeamFactory

PASSWORD = "orchid-lantern-42"


def _run(*args: str, **options: Any) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """These tests read the commands' English messages; the Chinese default is in tests/web/test_translations.py."""
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands see no terminal unless a test gives them one."""
    monkeypatch.setattr("sys.stdin", io.StringIO())


@pytest.fixture
def huayang(db: None) -> Workspace:
    _run("createworkspace", "花漾美妆", slug="huayang", owner="boss", owner_name="林总", password=PASSWORD)
    workspace = Workspace.objects.get(slug="huayang")
    with workspace_scope(workspace.id):
        TeamFactory(name="华东销售组")
    return workspace


def test_createworkspace_creates_the_workspace_and_its_owner(db: None) -> None:
    output = _run(
        "createworkspace", "花漾美妆", slug="huayang", owner="boss", owner_name="林总", password=PASSWORD
    )

    workspace = Workspace.objects.get(slug="huayang")
    assert workspace.name == "花漾美妆"
    assert "Created workspace 花漾美妆 (huayang) owned by boss." in output
    assert User.objects.get(username="boss").check_password(PASSWORD)
    with workspace_scope(workspace.id):
        owner = Member.objects.get()
    assert (owner.user.username, owner.display_name, owner.role) == ("boss", "林总", Role.OWNER)


def test_createworkspace_prompts_for_the_password_on_a_terminal(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    answers = iter([PASSWORD, PASSWORD])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))

    _run("createworkspace", "花漾美妆", slug="huayang", owner="boss")

    assert User.objects.get(username="boss").check_password(PASSWORD)


def test_createworkspace_refuses_differing_passwords_on_a_terminal(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    answers = iter([PASSWORD, "something-else-99"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))

    with pytest.raises(CommandError, match="The two passwords differ"):
        _run("createworkspace", "花漾美妆", slug="huayang", owner="boss")
    assert not Workspace.objects.exists()


def test_createworkspace_needs_a_password_for_a_new_user_without_a_terminal(db: None) -> None:
    with pytest.raises(CommandError, match="boss needs a password: pass --password"):
        _run("createworkspace", "花漾美妆", slug="huayang", owner="boss")
    assert not User.objects.filter(username="boss").exists()
    assert not Workspace.objects.exists()


def test_createworkspace_lets_an_existing_user_keep_their_password(huayang: Workspace) -> None:
    _run("createworkspace", "第二家店", slug="second", owner="boss")

    assert User.objects.get(username="boss").check_password(PASSWORD)
    second = Workspace.objects.get(slug="second")
    with workspace_scope(second.id):
        assert list(Member.objects.values_list("user__username", "role")) == [("boss", Role.OWNER)]


def test_createworkspace_refuses_a_weak_password(db: None) -> None:
    with pytest.raises(CommandError, match="too short"):
        _run("createworkspace", "花漾美妆", slug="huayang", owner="boss", password="short")
    assert not User.objects.filter(username="boss").exists()


def test_createworkspace_refuses_a_taken_slug_and_leaves_no_user_behind(huayang: Workspace) -> None:
    with pytest.raises(CommandError, match="A workspace with the slug “huayang” already exists"):
        _run("createworkspace", "Copycat", slug="huayang", owner="newcomer", password=PASSWORD)
    assert not User.objects.filter(username="newcomer").exists()
    assert Workspace.objects.count() == 1


def test_createworkspace_refuses_a_bad_slug(db: None) -> None:
    with pytest.raises(CommandError, match="“花漾” is not a valid slug"):
        _run("createworkspace", "花漾美妆", slug="花漾", owner="boss", password=PASSWORD)
    assert not Workspace.objects.exists()


def test_createuser_adds_a_member_with_role_and_team(huayang: Workspace, other_workspace: Workspace) -> None:
    output = _run(
        "createuser",
        "lina",
        workspace="huayang",
        role="sales",
        team="华东销售组",
        name="王丽娜",
        password=PASSWORD,
    )

    assert "Added lina to huayang as Sales rep (华东销售组)." in output
    assert User.objects.get(username="lina").check_password(PASSWORD)
    with workspace_scope(huayang.id):
        member = Member.objects.select_related("team").get(user__username="lina")
        assert (member.display_name, member.role, member.team.name if member.team else None) == (
            "王丽娜",
            Role.SALES,
            "华东销售组",
        )
        entry = AuditEntry.objects.get(action=AuditAction.MEMBER_ADDED)
        assert (entry.member.user.username if entry.member else None, entry.target_id) == (
            "boss",
            str(member.id),
        )
    with workspace_scope(other_workspace.id):
        assert not Member.objects.filter(user__username="lina").exists()
        assert not AuditEntry.objects.exists()


def test_createuser_can_add_another_owner_without_a_team(huayang: Workspace) -> None:
    _run("createuser", "cofounder", workspace="huayang", role="OWNER", password=PASSWORD)

    with workspace_scope(huayang.id):
        member = Member.objects.get(user__username="cofounder")
    assert (member.role, member.team_id, member.display_name) == (Role.OWNER, None, "cofounder")


def test_createuser_refuses_an_unknown_workspace(db: None) -> None:
    with pytest.raises(CommandError, match="There is no workspace with the slug “nowhere”"):
        _run("createuser", "lina", workspace="nowhere", role="sales", password=PASSWORD)
    assert not User.objects.filter(username="lina").exists()


def test_createuser_refuses_an_unknown_role(huayang: Workspace) -> None:
    with pytest.raises(
        CommandError,
        match=re.escape(
            "“boss-ish” is not a role. Choose one of: owner, admin, manager, sales, service, marketing."
        ),
    ):
        _run("createuser", "lina", workspace="huayang", role="boss-ish", password=PASSWORD)
    assert not User.objects.filter(username="lina").exists()


def test_createuser_refuses_an_unknown_team_and_names_the_known_ones(huayang: Workspace) -> None:
    with pytest.raises(
        CommandError, match=r"There is no team “华南销售组” in this workspace \(teams: 华东销售组\)"
    ):
        _run("createuser", "lina", workspace="huayang", role="sales", team="华南销售组", password=PASSWORD)
    assert not User.objects.filter(username="lina").exists()


def test_createuser_cannot_see_the_teams_of_another_workspace(
    huayang: Workspace, other_workspace: Workspace
) -> None:
    _run("createworkspace", "Other", slug="other-2", owner="other-boss", password=PASSWORD)
    with pytest.raises(CommandError, match="There is no team “华东销售组”"):
        _run("createuser", "lina", workspace="other-2", role="sales", team="华东销售组", password=PASSWORD)


def test_createuser_refuses_an_existing_member(huayang: Workspace) -> None:
    _run("createuser", "lina", workspace="huayang", role="sales", password=PASSWORD)

    with pytest.raises(CommandError, match="lina is already a member of this workspace"):
        _run("createuser", "lina", workspace="huayang", role="manager")
    with workspace_scope(huayang.id):
        assert Member.objects.get(user__username="lina").role == Role.SALES


def test_createuser_needs_a_password_for_a_new_user_without_a_terminal(huayang: Workspace) -> None:
    with pytest.raises(CommandError, match="lina needs a password"):
        _run("createuser", "lina", workspace="huayang", role="sales")
    assert not User.objects.filter(username="lina").exists()
