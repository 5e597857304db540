"""Roles, the permissions they grant and the data scope they see."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Permission(models.TextChoices):
    CONTACTS_READ = "contacts.read", _("Read contacts")
    CONTACTS_WRITE = "contacts.write", _("Create and edit contacts")
    CONTACTS_DELETE = "contacts.delete", _("Delete contacts")
    CONTACTS_ASSIGN = "contacts.assign", _("Change contact owners")
    CONTACTS_MERGE = "contacts.merge", _("Merge contacts")
    CONTACTS_REVEAL_PHONE = "contacts.reveal_phone", _("Reveal full phone numbers")
    CONTACTS_IMPORT = "contacts.import", _("Import contacts")
    CONTACTS_EXPORT = "contacts.export", _("Export contacts")
    TAGS_MANAGE = "tags.manage", _("Manage tags")
    FIELDS_MANAGE = "fields.manage", _("Manage custom fields")
    MEMBERS_MANAGE = "members.manage", _("Manage members and teams")
    API_KEYS_MANAGE = "api_keys.manage", _("Manage API keys")
    AUDIT_READ = "audit.read", _("Read the audit log")
    SOURCES_MANAGE = "sources.manage", _("Manage tracking sources")
    EVENTS_READ = "events.read", _("See live events and ingestion warnings")
    CONTENT_MANAGE = "content.manage", _("Manage the content library")
    CONTENT_SHARE = "content.share", _("Share content with tracked links")
    SEGMENTS_READ = "segments.read", _("See segments and their members")
    SEGMENTS_MANAGE = "segments.manage", _("Create and edit segments, lists and RFM scoring")
    ORDERS_IMPORT = "orders.import", _("Import orders")
    ANALYTICS_READ = "analytics.read", _("See analytics")


class DataScope(models.TextChoices):
    OWN = "own", _("Own contacts and the public pool")
    TEAM = "team", _("Own team and its sub-teams")
    ALL = "all", _("Whole workspace")


class Role(models.TextChoices):
    OWNER = "owner", pgettext_lazy("role", "Owner")
    ADMIN = "admin", _("Administrator")
    MANAGER = "manager", _("Manager")
    SALES = "sales", _("Sales rep")
    SERVICE = "service", _("Customer service")
    MARKETING = "marketing", _("Marketing ops")


_ALL = frozenset(Permission)
_WORK_ON_CONTACTS = frozenset(
    {
        Permission.CONTACTS_READ,
        Permission.CONTACTS_WRITE,
        Permission.CONTACTS_REVEAL_PHONE,
        Permission.CONTENT_SHARE,
        Permission.SEGMENTS_READ,
    }
)

ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    Role.OWNER: _ALL,
    Role.ADMIN: _ALL,
    Role.MANAGER: _WORK_ON_CONTACTS
    | {
        Permission.CONTACTS_DELETE,
        Permission.CONTACTS_ASSIGN,
        Permission.CONTACTS_MERGE,
        Permission.CONTACTS_IMPORT,
        Permission.CONTACTS_EXPORT,
        Permission.TAGS_MANAGE,
        Permission.EVENTS_READ,
        Permission.ANALYTICS_READ,
        Permission.ORDERS_IMPORT,
    },
    Role.SALES: _WORK_ON_CONTACTS,
    Role.SERVICE: _WORK_ON_CONTACTS,
    Role.MARKETING: frozenset(
        {
            Permission.CONTACTS_READ,
            Permission.CONTACTS_WRITE,
            Permission.CONTACTS_IMPORT,
            Permission.CONTACTS_EXPORT,
            Permission.TAGS_MANAGE,
            Permission.FIELDS_MANAGE,
            Permission.SOURCES_MANAGE,
            Permission.EVENTS_READ,
            Permission.CONTENT_MANAGE,
            Permission.CONTENT_SHARE,
            Permission.SEGMENTS_READ,
            Permission.SEGMENTS_MANAGE,
            Permission.ORDERS_IMPORT,
            Permission.ANALYTICS_READ,
        }
    ),
}

ROLE_SCOPE: dict[str, DataScope] = {
    Role.OWNER: DataScope.ALL,
    Role.ADMIN: DataScope.ALL,
    Role.MANAGER: DataScope.TEAM,
    Role.SALES: DataScope.OWN,
    Role.SERVICE: DataScope.TEAM,
    Role.MARKETING: DataScope.ALL,
}


class ApiKeyScope(models.TextChoices):
    READ = "read", _("Read")
    WRITE = "write", _("Write")


API_KEY_SCOPE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    ApiKeyScope.READ: frozenset(
        {Permission.CONTACTS_READ, Permission.SEGMENTS_READ, Permission.ANALYTICS_READ}
    ),
    ApiKeyScope.WRITE: frozenset(
        {
            Permission.CONTACTS_READ,
            Permission.CONTACTS_WRITE,
            Permission.CONTACTS_DELETE,
            Permission.CONTACTS_ASSIGN,
            Permission.CONTACTS_MERGE,
            Permission.CONTACTS_REVEAL_PHONE,
            Permission.TAGS_MANAGE,
            Permission.FIELDS_MANAGE,
            Permission.SEGMENTS_READ,
            Permission.SEGMENTS_MANAGE,
            Permission.ANALYTICS_READ,
            Permission.ORDERS_IMPORT,
        }
    ),
}
