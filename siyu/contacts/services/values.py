"""Cleaning a whole contact payload against the workspace's members, channels and custom fields."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.text import slugify
from django.utils.translation import gettext as _

from siyu.contacts.cleaning import (
    clean_custom_values,
    clean_date,
    clean_email,
    clean_gender,
    clean_phone,
    clean_stage,
    clean_text,
    split_list,
)
from siyu.contacts.models import Channel, ChannelKind, CustomField, IdentityType
from siyu.core.ids import uuid7
from siyu.tenancy.models import Member

ILLEGAL_IDENTITY_VALUES = frozenset(
    {"undefined", "null", "none", "nil", "anonymous", "[object object]", "0", "-1", "nan", "true", "false"}
)

TEXT_LIMITS = {"name": 100, "region": 50, "city": 50, "company": 200, "notes": 5000}
# The contact's own columns that a payload sets as they are; then everything a payload may carry.
PLAIN_FIELDS = ("name", "phone", "email", "gender", "birthday", "region", "city", "company", "notes")
CONTACT_FIELDS = (*PLAIN_FIELDS, "owner", "channel", "stage", "custom", "tags", "identities")


@dataclass
class ContactLookups:
    """What a payload may refer to by name; loaded once per request or batch."""

    members: dict[str, Member]
    channels: dict[str, Channel]
    fields: list[CustomField]
    create_missing_channels: bool = False

    @classmethod
    def load(cls, *, create_missing_channels: bool = False) -> "ContactLookups":
        members: dict[str, Member] = {}
        for member in Member.objects.select_related("user").filter(is_active=True):
            for key in (str(member.id), member.user.get_username(), member.display_name):
                members.setdefault(key.lower(), member)
        channels: dict[str, Channel] = {}
        for channel in Channel.objects.all():
            for key in (str(channel.id), channel.code, channel.name):
                channels.setdefault(key.lower(), channel)
        return cls(
            members=members,
            channels=channels,
            fields=list(CustomField.objects.all()),
            create_missing_channels=create_missing_channels,
        )

    def member(self, raw: Any) -> Member | None:
        text = str(raw or "").strip()
        if not text or text.lower() in {"pool", "公海"}:
            return None
        found = self.members.get(text.lower())
        if found is None:
            raise ValueError(_("There is no active member “%(value)s”.") % {"value": text})
        return found

    def channel(self, raw: Any) -> Channel | None:
        text = str(raw or "").strip()
        if not text:
            return None
        found = self.channels.get(text.lower())
        if found is not None:
            return found
        if not self.create_missing_channels:
            raise ValueError(_("There is no channel “%(value)s”.") % {"value": text})
        code = slugify(text, allow_unicode=False)[:40] or f"channel-{uuid7().hex[:8]}"
        while Channel.objects.filter(code=code).exists():
            code = f"{code[:40]}-{uuid7().hex[-4:]}"
        channel = Channel.objects.create(name=text[:100], code=code, kind=ChannelKind.OTHER)
        for key in (str(channel.id), channel.code, channel.name):
            self.channels.setdefault(key.lower(), channel)
        return channel


def clean_identity(raw: Any) -> tuple[str, str, str]:
    if not isinstance(raw, Mapping):
        raise ValueError(_("An identity needs a type and a value."))
    kind = str(raw.get("type") or "").strip()
    if kind not in IdentityType.values:
        raise ValueError(
            _("“%(value)s” is not an identity type (one of %(types)s).")
            % {"value": kind, "types": ", ".join(IdentityType.values)}
        )
    namespace = clean_text(raw.get("namespace"), max_length=64)
    value = str(raw.get("value") or "").strip()
    if kind == IdentityType.PHONE:
        value = clean_phone(value)
    elif kind == IdentityType.EMAIL:
        value = clean_email(value)
    if not value or value.lower() in ILLEGAL_IDENTITY_VALUES or len(value) > 200:
        raise ValueError(_("“%(value)s” is not a usable identity value.") % {"value": raw.get("value")})
    return kind, namespace, value


def contact_values_clean(
    raw: Mapping[str, Any], *, lookups: ContactLookups, partial: bool
) -> tuple[dict[str, Any], dict[str, str]]:
    """Clean a payload into contact values. Returns (values, errors keyed by field path)."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, value in raw.items():
        try:
            if key in TEXT_LIMITS:
                values[key] = clean_text(value, max_length=TEXT_LIMITS[key])
            elif key == "phone":
                values[key] = clean_phone(value)
            elif key == "email":
                values[key] = clean_email(value)
            elif key == "gender":
                values[key] = clean_gender(value)
            elif key == "birthday":
                values[key] = clean_date(value)
            elif key == "owner":
                values[key] = lookups.member(value)
            elif key == "channel":
                values[key] = lookups.channel(value)
            elif key == "stage":
                values[key] = clean_stage(value)
            elif key == "tags":
                values[key] = [clean_text(t, max_length=50) for t in split_list(value)]
            elif key == "custom":
                if not isinstance(value, Mapping):
                    raise ValueError(_("Custom fields must be an object of key → value."))
                custom, custom_errors = clean_custom_values(lookups.fields, value, partial=partial)
                values[key] = custom
                errors.update(custom_errors)
            elif key == "identities":
                if not isinstance(value, list):
                    raise ValueError(_("Identities must be a list."))
                cleaned = []
                for index, item in enumerate(value):
                    try:
                        cleaned.append(clean_identity(item))
                    except ValueError as exc:
                        errors[f"identities.{index}"] = str(exc)
                values[key] = cleaned
            else:
                errors[key] = _("Unknown field “%(key)s”.") % {"key": key}
        except ValueError as exc:
            errors[key] = str(exc)
    if not partial and not errors:
        if "custom" not in values:
            _unused, missing = clean_custom_values(lookups.fields, {}, partial=False)
            errors.update(missing)
        if not any(values.get(k) for k in ("name", "phone", "email", "identities")):
            errors["name"] = _("A contact needs at least a name, a phone, an email or an identity.")
    return values, errors
