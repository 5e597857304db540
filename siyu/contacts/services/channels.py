from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _

from siyu.contacts.models import Channel, ChannelKind, CostUnit
from siyu.core.errors import Conflict, ValidationError
from siyu.tenancy.actor import Actor
from siyu.tenancy.roles import Permission

MAX_MATCHERS = 50  # utm_source values or referrer domains per channel
MAX_UTM_SOURCE_LENGTH = 100
MAX_UNIT_COST = Decimal("9999999999.99")  # what the column holds
_DOMAIN_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-")


def _name_clean(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationError(_("A channel needs a name of 1 to 100 characters."), fields={"name": ""})
    return name


def _kind_clean(kind: str) -> str:
    if kind not in ChannelKind.values:
        raise ValidationError(_("Unknown channel type."), fields={"kind": ""})
    return kind


def _code_free(code: str, *, channel: Channel | None = None) -> str:
    others = Channel.objects.filter(code=code)
    if channel is not None:
        others = others.exclude(id=channel.id)
    if others.exists():
        raise Conflict(_("A channel with the code “%(code)s” exists.") % {"code": code}, fields={"code": ""})
    return code


@transaction.atomic
def channel_create(*, actor: Actor, name: str, kind: str = ChannelKind.OTHER, code: str = "") -> Channel:
    actor.require(Permission.FIELDS_MANAGE)
    name = _name_clean(name)
    kind = _kind_clean(kind)
    code = slugify(code or name)[:50] or f"channel-{Channel.objects.count() + 1}"
    return Channel.objects.create(name=name, kind=kind, code=_code_free(code))


def _utm_sources_clean(values: Sequence[str], *, channel: Channel) -> list[str]:
    cleaned: dict[str, str] = {}
    for raw in values:
        value = raw.strip()
        if not value:
            continue
        if len(value) > MAX_UTM_SOURCE_LENGTH or "," in value:
            raise ValidationError(
                _("A utm_source value has at most %(max)s characters and no commas.")
                % {"max": MAX_UTM_SOURCE_LENGTH},
                fields={"utm_sources": ""},
            )
        cleaned.setdefault(value.lower(), value)
    if len(cleaned) > MAX_MATCHERS:
        raise ValidationError(
            _("At most %(count)s utm_source values per channel.") % {"count": MAX_MATCHERS},
            fields={"utm_sources": ""},
        )
    # One value, one channel: attribution must not depend on which of two channels is found first.
    for other in Channel.objects.exclude(id=channel.id).only("name", "code", "utm_sources"):
        taken = {str(v).lower() for v in other.utm_sources or []} | {other.code.lower()}
        clash = next((v for key, v in cleaned.items() if key in taken), None)
        if clash is not None:
            raise Conflict(
                _("The utm_source “%(value)s” already leads to the channel “%(channel)s”.")
                % {"value": clash, "channel": other.name},
                fields={"utm_sources": ""},
            )
    return list(cleaned.values())


def _domain_clean(raw: str) -> str:
    text = raw.strip().lower()
    if "://" in text:  # a pasted address: keep its host
        text = urlsplit(text).hostname or ""
    text = text.split("/", 1)[0].lstrip(".")
    try:
        domain = text.encode("idna").decode("ascii") if text else ""
    except UnicodeError:
        domain = ""
    labels = domain.split(".")
    if (
        len(labels) < 2
        or not set(domain) <= _DOMAIN_CHARACTERS
        or any(not label or label.startswith("-") for label in labels)
    ):
        raise ValidationError(
            _("“%(domain)s” is not a domain. Write it like mp.weixin.qq.com; it also matches its subdomains.")
            % {"domain": raw.strip()[:100]},
            fields={"referrer_domains": ""},
        )
    return domain


def _referrer_domains_clean(values: Sequence[str], *, channel: Channel) -> list[str]:
    cleaned = list(dict.fromkeys(_domain_clean(v) for v in values if v.strip()))
    if len(cleaned) > MAX_MATCHERS:
        raise ValidationError(
            _("At most %(count)s referrer domains per channel.") % {"count": MAX_MATCHERS},
            fields={"referrer_domains": ""},
        )
    for other in Channel.objects.exclude(id=channel.id).only("name", "referrer_domains"):
        taken = {str(d).lower().lstrip(".") for d in other.referrer_domains or []}
        clash = next((d for d in cleaned if d in taken), None)
        if clash is not None:
            raise Conflict(
                _("The referrer domain “%(domain)s” already leads to the channel “%(channel)s”.")
                % {"domain": clash, "channel": other.name},
                fields={"referrer_domains": ""},
            )
    return cleaned


def _cost_clean(cost_unit: str, unit_cost: Decimal | int | str) -> tuple[str, Decimal]:
    if cost_unit not in CostUnit.values:
        raise ValidationError(_("Unknown cost unit."), fields={"cost_unit": ""})
    try:
        cost = Decimal(str(unit_cost)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        cost = Decimal(-1)
    if not Decimal(0) <= cost <= MAX_UNIT_COST:
        raise ValidationError(
            _("The unit cost is an amount in yuan from 0 to %(max)s.") % {"max": MAX_UNIT_COST},
            fields={"unit_cost": ""},
        )
    if cost and not cost_unit:
        raise ValidationError(
            _("Choose what the unit cost is paid for (per click, per new contact or per month)."),
            fields={"cost_unit": ""},
        )
    return cost_unit, cost


@transaction.atomic
def channel_update(
    *,
    actor: Actor,
    channel: Channel,
    name: str,
    kind: str,
    code: str,
    utm_sources: Sequence[str] = (),
    referrer_domains: Sequence[str] = (),
    cost_unit: str = CostUnit.NONE,
    unit_cost: Decimal | int | str = 0,
) -> Channel:
    """Name, type, code and the rules that attribute visits to the channel, and its cost for ROI."""
    actor.require(Permission.FIELDS_MANAGE)
    channel.name = _name_clean(name)
    channel.kind = _kind_clean(kind)
    slug = slugify(code)[:50]
    if not slug:
        raise ValidationError(
            _("A channel needs a code: lower-case letters, digits and hyphens."), fields={"code": ""}
        )
    channel.code = _code_free(slug, channel=channel)
    channel.utm_sources = _utm_sources_clean(utm_sources, channel=channel)
    channel.referrer_domains = _referrer_domains_clean(referrer_domains, channel=channel)
    channel.cost_unit, channel.unit_cost = _cost_clean(cost_unit, unit_cost)
    channel.save(
        update_fields=["name", "kind", "code", "utm_sources", "referrer_domains", "cost_unit", "unit_cost"]
    )
    return channel
