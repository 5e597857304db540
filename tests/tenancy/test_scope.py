"""Randomised data-scope checks over generated team trees: own / team subtree / all."""

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siyu.contacts.selectors import contact_list
from siyu.core.tenancy import workspace_scope
from siyu.tenancy.models import Member, Team
from siyu.tenancy.roles import Role
from siyu.tenancy.selectors import actor_for_member, team_subtree_ids
from tests.factories import ContactFactory, MemberFactory, TeamFactory, WorkspaceFactory


def _descendants(team: Team, teams: list[Team]) -> set[Team]:
    found = {team}
    changed = True
    while changed:
        changed = False
        for candidate in teams:
            if candidate.parent in found and candidate not in found:
                found.add(candidate)
                changed = True
    return found


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(min_value=0, max_value=10_000), team_count=st.integers(min_value=1, max_value=7))
def test_each_role_sees_exactly_its_scope(db, seed, team_count):
    # Examples share the test's transaction; each builds its own workspace, so they cannot interfere.
    rng = random.Random(seed)
    workspace = WorkspaceFactory()
    with workspace_scope(workspace.id):
        teams: list[Team] = []
        for _ in range(team_count):
            parent = rng.choice([None, *teams]) if teams else None
            teams.append(TeamFactory(parent=parent))
        roles = [Role.SALES, Role.SALES, Role.MANAGER, Role.MANAGER, Role.SERVICE, Role.ADMIN, Role.MARKETING]
        members: list[Member] = [MemberFactory(role=role, team=rng.choice([None, *teams])) for role in roles]
        owners = [None, *members]
        contacts = [ContactFactory(owner=rng.choice(owners)) for _ in range(30)]

        for member in members:
            actor = actor_for_member(member=member)
            seen = set(contact_list(actor=actor).values_list("id", flat=True))
            if member.role in (Role.ADMIN, Role.MARKETING):
                expected = {c.id for c in contacts}
            elif member.role in (Role.MANAGER, Role.SERVICE):
                subtree = _descendants(member.team, teams) if member.team else set()
                assert {t.id for t in subtree} == (
                    team_subtree_ids(team_id=member.team.id) if member.team else set()
                )
                expected = {
                    c.id
                    for c in contacts
                    if c.owner is None or c.owner == member or (c.owner.team in subtree)
                }
            else:
                expected = {c.id for c in contacts if c.owner in (None, member)}
            assert seen == expected, (member.role, seed)
            for contact in contacts:
                assert actor.may_see_owner(contact.owner_id) == (contact.id in expected)
    # Nothing of this workspace is visible from a fresh one.
    other = WorkspaceFactory()
    with workspace_scope(other.id):
        outsider = actor_for_member(member=MemberFactory(role=Role.OWNER))
        assert contact_list(actor=outsider).count() == 0
