"""The sidebar: every page a member may open, each behind the permission that page requires.

Other domains add their pages here. An entry whose URL name does not resolve (a page not built
yet) is left out rather than breaking the layout; `tests/web/test_navigation.py` lists the
names that must exist.
"""

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from siyu.tenancy.actor import Actor
from siyu.tenancy.roles import Permission


@dataclass(frozen=True)
class NavItem:
    url_name: str
    label: str | Promise
    icon: str  # a symbol of static/vendor/tabler-icons/tabler-sprite.svg, without the "tabler-" prefix
    permission: Permission | None = None


@dataclass(frozen=True)
class NavSection:
    label: str | Promise
    items: tuple[NavItem, ...]


NAVIGATION: tuple[NavSection, ...] = (
    NavSection(
        label=_("Work"),
        items=(
            NavItem("web:home", _("Home"), "home"),
            NavItem("contacts:list", _("Contacts"), "users", Permission.CONTACTS_READ),
            NavItem("radar:notifications", _("Customer radar"), "radar", Permission.CONTACTS_READ),
            NavItem("content:list", _("Content"), "article", Permission.CONTENT_SHARE),
            NavItem("radar:live", _("Live events"), "activity", Permission.EVENTS_READ),
            NavItem("segments:list", _("Segments"), "filter", Permission.SEGMENTS_READ),
            NavItem("orders:list", _("Orders"), "shopping-cart", Permission.CONTACTS_READ),
            NavItem("imports:list", _("Import and export"), "file-import", Permission.CONTACTS_IMPORT),
        ),
    ),
    NavSection(
        label=_("Analytics"),
        items=(
            NavItem("analytics:channels", _("Channel quality"), "chart-bar", Permission.ANALYTICS_READ),
            NavItem("analytics:cohorts", _("Retention cohorts"), "chart-area", Permission.ANALYTICS_READ),
            NavItem("analytics:funnel", _("Lifecycle funnel"), "chart-donut", Permission.ANALYTICS_READ),
            NavItem("analytics:segments", _("Segment analytics"), "chart-pie", Permission.ANALYTICS_READ),
            NavItem("analytics:content", _("Content outcomes"), "chart-line", Permission.ANALYTICS_READ),
        ),
    ),
    NavSection(
        label=_("Settings"),
        items=(
            NavItem("settings:members", _("Members and roles"), "user-circle", Permission.MEMBERS_MANAGE),
            NavItem("settings:teams", _("Teams"), "users-group", Permission.MEMBERS_MANAGE),
            NavItem("contact_settings:tags", _("Tags"), "tags", Permission.TAGS_MANAGE),
            NavItem("contact_settings:fields", _("Custom fields"), "forms", Permission.FIELDS_MANAGE),
            NavItem("contact_settings:channels", _("Channels"), "world", Permission.FIELDS_MANAGE),
            NavItem("analytics:spend", _("Channel spend"), "chart-bar", Permission.FIELDS_MANAGE),
            NavItem("segment_settings:rfm", _("RFM scoring"), "adjustments", Permission.SEGMENTS_MANAGE),
            NavItem("tracking_settings:sources", _("Tracking sources"), "plug", Permission.SOURCES_MANAGE),
            NavItem(
                "tracking_settings:settings", _("Tracking settings"), "settings", Permission.SOURCES_MANAGE
            ),
            NavItem("settings:api_keys", _("API keys"), "key", Permission.API_KEYS_MANAGE),
            NavItem("settings:audit", _("Audit log"), "history", Permission.AUDIT_READ),
        ),
    ),
)


@dataclass(frozen=True)
class NavLink:
    url: str
    label: str | Promise
    icon: str
    is_active: bool


@dataclass(frozen=True)
class NavGroup:
    label: str | Promise
    links: list[NavLink]


def _resolve(url_name: str) -> str | None:
    try:
        return reverse(url_name)
    except NoReverseMatch:
        return None


def navigation_for(*, actor: Actor | None, path: str) -> list[NavGroup]:
    """The sections and links this actor may use; the link whose URL best prefixes `path` is active."""
    if actor is None or actor.member is None:
        return []
    visible: list[tuple[NavSection, list[tuple[NavItem, str]]]] = []
    for section in NAVIGATION:
        items = [
            (item, url)
            for item in section.items
            if (item.permission is None or actor.can(item.permission))
            and (url := _resolve(item.url_name)) is not None
        ]
        if items:
            visible.append((section, items))
    matches = [url for _section, items in visible for _item, url in items if _is_under(path, url)]
    active = max(matches, key=len, default=None)
    return [
        NavGroup(
            label=section.label,
            links=[
                NavLink(url=url, label=item.label, icon=item.icon, is_active=url == active)
                for item, url in items
            ],
        )
        for section, items in visible
    ]


def _is_under(path: str, url: str) -> bool:
    if url == "/":
        return path == "/"
    return path == url or path.startswith(url.rstrip("/") + "/")
