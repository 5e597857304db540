"""Sources: where events come from, each with the write key that authenticates its senders."""

import secrets
from collections.abc import Sequence
from urllib.parse import urlsplit

from django.db import transaction
from django.utils.translation import gettext as _

from siyu.contacts.models import Channel
from siyu.core.errors import Conflict, ValidationError
from siyu.tenancy.actor import Actor
from siyu.tenancy.roles import Permission
from siyu.tracking.models import Source, SourceKind

WRITE_KEY_PREFIX = "wk_"
MAX_ORIGINS = 50
MAX_NAME_LENGTH = 100
ANY_ORIGIN = "*"
_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-")


def write_key_new() -> str:
    """A fresh random write key, unique across every workspace (the gateway finds a source by it)."""
    while True:
        key = f"{WRITE_KEY_PREFIX}{secrets.token_urlsafe(24)}"
        if not Source.all_workspaces.filter(write_key=key).exists():
            return key


def _origin_error(origin: str) -> ValidationError:
    return ValidationError(
        _(
            "“%(origin)s” is not an origin. Write it as scheme://host[:port], e.g. https://shop.example.com, or * for any."
        )
        % {"origin": origin[:100]},
        fields={"allowed_origins": ""},
    )


def origin_clean(raw: str) -> str:
    """One allowed origin in the form browsers send it: lower case, no path, no default port."""
    text = raw.strip()
    if text == ANY_ORIGIN:
        return ANY_ORIGIN
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise _origin_error(text) from None
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if (
        scheme not in _DEFAULT_PORTS
        or not host
        or parts.username is not None
        or parts.password is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or "*" in host
    ):
        raise _origin_error(text)
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    else:
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise _origin_error(text) from None
        labels = host.split(".")
        if not set(host) <= _HOST_CHARACTERS or any(not label or label.startswith("-") for label in labels):
            raise _origin_error(text)
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        if port == 0:
            raise _origin_error(text)
        return f"{scheme}://{host}:{port}"
    return f"{scheme}://{host}"


def origins_clean(origins: Sequence[str]) -> list[str]:
    cleaned = list(dict.fromkeys(origin_clean(o) for o in origins if o.strip()))
    if len(cleaned) > MAX_ORIGINS:
        raise ValidationError(
            _("A source allows at most %(count)s origins.") % {"count": MAX_ORIGINS},
            fields={"allowed_origins": ""},
        )
    if ANY_ORIGIN in cleaned:
        return [ANY_ORIGIN]
    return cleaned


def _name_clean(name: str, *, source: Source | None = None) -> str:
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise ValidationError(
            _("A source needs a name of 1 to %(max)s characters.") % {"max": MAX_NAME_LENGTH},
            fields={"name": ""},
        )
    others = Source.objects.filter(name=name)
    if source is not None:
        others = others.exclude(id=source.id)
    if others.exists():
        raise Conflict(_("A source named “%(name)s” exists.") % {"name": name}, fields={"name": ""})
    return name


def _kind_clean(kind: str) -> str:
    if kind not in SourceKind.values:
        raise ValidationError(_("Unknown source type."), fields={"kind": ""})
    return kind


def _channel_clean(*, actor: Actor, channel: Channel | None) -> Channel | None:
    if channel is not None and str(channel.workspace_id) != str(actor.workspace_id):
        raise ValidationError(_("Choose a channel of this workspace."), fields={"channel": ""})
    return channel


@transaction.atomic
def source_create(
    *,
    actor: Actor,
    name: str,
    kind: str = SourceKind.WEBSITE,
    allowed_origins: Sequence[str] = (),
    channel: Channel | None = None,
) -> Source:
    actor.require(Permission.SOURCES_MANAGE)
    return Source.objects.create(
        name=_name_clean(name),
        kind=_kind_clean(kind),
        allowed_origins=origins_clean(allowed_origins),
        channel=_channel_clean(actor=actor, channel=channel),
        write_key=write_key_new(),
    )


@transaction.atomic
def source_update(
    *,
    actor: Actor,
    source: Source,
    name: str,
    kind: str,
    allowed_origins: Sequence[str],
    channel: Channel | None,
) -> Source:
    actor.require(Permission.SOURCES_MANAGE)
    source.name = _name_clean(name, source=source)
    source.kind = _kind_clean(kind)
    source.allowed_origins = origins_clean(allowed_origins)
    source.channel = _channel_clean(actor=actor, channel=channel)
    source.save(update_fields=["name", "kind", "allowed_origins", "channel"])
    return source


@transaction.atomic
def source_key_rotate(*, actor: Actor, source: Source) -> Source:
    """A new write key; the old one stops working at once (senders must be updated)."""
    actor.require(Permission.SOURCES_MANAGE)
    source.write_key = write_key_new()
    source.save(update_fields=["write_key"])
    return source


@transaction.atomic
def source_deactivate(*, actor: Actor, source: Source) -> Source:
    """Events sent with its key are refused until it is activated again; stored events stay."""
    actor.require(Permission.SOURCES_MANAGE)
    if source.is_active:
        source.is_active = False
        source.save(update_fields=["is_active"])
    return source


@transaction.atomic
def source_activate(*, actor: Actor, source: Source) -> Source:
    actor.require(Permission.SOURCES_MANAGE)
    if not source.is_active:
        source.is_active = True
        source.save(update_fields=["is_active"])
    return source
