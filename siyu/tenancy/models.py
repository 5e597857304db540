from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from siyu.core.ids import uuid7
from siyu.core.models import TenantModel
from siyu.tenancy.roles import Role


class Workspace(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    name = models.CharField(_("name"), max_length=100)
    slug = models.SlugField(_("slug"), max_length=50, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Team(TenantModel):
    name = models.CharField(_("name"), max_length=100)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "parent", "name"], name="team_unique_name_per_parent"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Member(TenantModel):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    display_name = models.CharField(_("display name"), max_length=100)
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.SALES)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="members")
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["display_name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "user"], name="member_unique_user")]

    def __str__(self) -> str:
        return self.display_name


class ApiKey(TenantModel):
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=12, unique=True)
    key_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(Member, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class AuditAction(models.TextChoices):
    PHONE_REVEALED = "contact.phone_revealed", _("Revealed a phone number")
    CONTACTS_EXPORTED = "contacts.exported", _("Exported contacts")
    CONTACTS_IMPORTED = "contacts.imported", _("Imported contacts")
    OWNER_CHANGED = "contact.owner_changed", _("Changed an owner")
    CONTACTS_MERGED = "contacts.merged", _("Merged contacts")
    CONTACT_DELETED = "contact.deleted", _("Deleted a contact")
    ROLE_CHANGED = "member.role_changed", _("Changed a role")
    MEMBER_ADDED = "member.added", _("Added a member")
    MEMBER_DEACTIVATED = "member.deactivated", _("Deactivated a member")
    API_KEY_CREATED = "api_key.created", _("Created an API key")
    API_KEY_REVOKED = "api_key.revoked", _("Revoked an API key")


class AuditEntry(TenantModel):
    member = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=40, choices=AuditAction.choices)
    target_type = models.CharField(max_length=40, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    summary = models.CharField(max_length=300, blank=True)
    data = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["workspace", "-created_at"], name="audit_ws_created"),
            models.Index(fields=["workspace", "action", "-created_at"], name="audit_ws_action"),
        ]
