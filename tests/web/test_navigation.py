from django.test import Client
from django.urls import NoReverseMatch, reverse

from siyu.tenancy.models import Member
from siyu.tenancy.roles import Role
from siyu.tenancy.selectors import actor_for_member
from siyu.web.navigation import NAVIGATION, navigation_for

# Every page of the sidebar; each must exist once its domain's pages are built.
REQUIRED_URL_NAMES = [
    "web:home",
    "contacts:list",
    "radar:notifications",
    "content:list",
    "radar:live",
    "segments:list",
    "orders:list",
    "imports:list",
    "analytics:channels",
    "analytics:cohorts",
    "analytics:funnel",
    "analytics:segments",
    "analytics:content",
    "settings:members",
    "settings:teams",
    "contact_settings:tags",
    "contact_settings:fields",
    "contact_settings:channels",
    "analytics:spend",
    "segment_settings:rfm",
    "tracking_settings:sources",
    "tracking_settings:settings",
    "settings:api_keys",
    "settings:audit",
]


def test_navigation_lists_exactly_the_required_pages() -> None:
    names = [item.url_name for section in NAVIGATION for item in section.items]
    assert names == REQUIRED_URL_NAMES


def test_every_navigation_url_name_resolves() -> None:
    missing = []
    for name in REQUIRED_URL_NAMES:
        try:
            reverse(name)
        except NoReverseMatch:
            missing.append(name)
    assert missing == []


def _urls(member: Member) -> list[str]:
    groups = navigation_for(actor=actor_for_member(member=member), path="/")
    return [link.url for group in groups for link in group.links]


def _resolvable(*names: str) -> list[str]:
    found = []
    for name in names:
        try:
            found.append(reverse(name))
        except NoReverseMatch:
            continue
    return found


def test_sales_rep_sees_only_work_pages(make_member) -> None:
    rep = make_member(Role.SALES)
    assert _urls(rep) == _resolvable(
        "web:home", "contacts:list", "radar:notifications", "content:list", "segments:list", "orders:list"
    )


def test_admin_sees_every_resolvable_page(make_member) -> None:
    admin = make_member(Role.ADMIN)
    assert _urls(admin) == _resolvable(*REQUIRED_URL_NAMES)


def test_marketing_sees_tracking_content_and_settings_but_not_members(make_member) -> None:
    marketing = make_member(Role.MARKETING)
    assert _urls(marketing) == _resolvable(
        "web:home",
        "contacts:list",
        "radar:notifications",
        "content:list",
        "radar:live",
        "segments:list",
        "orders:list",
        "imports:list",
        "analytics:channels",
        "analytics:cohorts",
        "analytics:funnel",
        "analytics:segments",
        "analytics:content",
        "contact_settings:tags",
        "contact_settings:fields",
        "contact_settings:channels",
        "analytics:spend",
        "segment_settings:rfm",
        "tracking_settings:sources",
        "tracking_settings:settings",
    )


def test_active_link_is_the_longest_matching_prefix(make_member) -> None:
    admin = make_member(Role.ADMIN)
    groups = navigation_for(actor=actor_for_member(member=admin), path="/contacts/some-id/")
    active = [link.url for group in groups for link in group.links if link.is_active]
    assert active == _resolvable("contacts:list")


def test_sidebar_is_rendered_for_the_member(client: Client, make_member) -> None:
    rep = make_member(Role.SALES)
    client.force_login(rep.user)
    body = client.get(reverse("web:home")).content.decode()
    assert f'href="{reverse("web:home")}"' in body
    for url in _resolvable("settings:members", "settings:audit", "settings:api_keys"):
        assert f'href="{url}"' not in body
