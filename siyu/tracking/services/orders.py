"""Orders from outside Siyu — the order import (.xlsx / .csv) and the orders API — on the events' path.

Each good row becomes an `Order Completed` track event, accepted through `events_accept` (the way every
event comes in) for the workspace's import source, with a messageId derived from the order no.; the
event processor then stores the purchase, once per order no., and counts it on the contact. So:
- re-importing a file, or importing an order the shop also tracked, records and counts it once;
- a row's customer is found by phone or identity (email, unionid, openid, external id …); an unknown
  one is created through the contacts services (stage customer, the row's channel) and reported, and
  dated to its earliest order in the import (analytics count customers by when they were acquired);
- the event names that contact by an id the identity resolver already understands: the contact's
  userId when it has one, else an anonymous id kept for orders ("siyu-contact-<contact id>"),
  attached to the contact once;
- a bad row (no order no., a bad time or amount, an unknown channel, no customer) is reported on its
  own and never blocks the good ones; an order no. already recorded is a duplicate, and so is a repeated
  one once a copy of it is imported (a copy after a failed one is tried in its place).

Atomicity of a file import: a bad FILE is refused whole (checked at upload, then read to the end before
the first write). Each batch of rows — its new contacts, its events and the job's counters — is one
transaction, so an interrupted job resumes after its last committed batch and writes nothing twice.
"""

import hashlib
import logging
import re
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any, Literal
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from siyu.contacts.cleaning import clean_email, clean_phone, clean_text
from siyu.contacts.models import Channel, IdentityType, JobStatus, Stage
from siyu.contacts.selectors import contacts_known_identities, identity_owners
from siyu.contacts.services.tracked import IdentityKey, contacts_acquired_earlier, identities_link
from siyu.contacts.services.upsert import UpsertKey, contact_statistics_refresh, contacts_upsert
from siyu.contacts.services.values import ContactLookups, clean_identity
from siyu.contacts.spreadsheets import (
    Cell,
    CsvWriter,
    FileInfo,
    cell_text,
    file_info_of,
    format_for_name,
    media_path,
    read_rows,
    refuse,
    spreadsheet_upload_store,
)
from siyu.core.errors import ValidationError
from siyu.core.time import now
from siyu.tenancy.actor import Actor
from siyu.tenancy.roles import Permission
from siyu.tracking.ingest.spec import NEWEST_ALLOWED, OLDEST_ALLOWED, Received
from siyu.tracking.ingest.store import events_accept
from siyu.tracking.models import OrderImportJob, Source, SourceKind
from siyu.tracking.selectors.purchases import purchase_owners
from siyu.tracking.services.contacts import contacts_retention_recount
from siyu.tracking.services.purchases import (
    MAX_ITEM_TEXT,
    MAX_ITEMS,
    MAX_ORDER_AMOUNT,
    MAX_ORDER_NO_LENGTH,
    ORDER_COMPLETED,
    order_items,
)
from siyu.tracking.services.sources import write_key_new

logger = logging.getLogger(__name__)

MAX_ORDERS = 1000  # per API call, and per batch of a file import
MAX_ROWS = 1_000_000
PREVIEW_ROWS = 20
CONTACT_HANDLE_PREFIX = "siyu-contact-"
MESSAGE_ID_PREFIX = "order:"
CURRENCY = "CNY"
LIBRARY = {"name": "siyu-orders", "version": "1.0"}

OrderStatus = Literal["accepted", "duplicate", "failed"]
ProgressCallback = Callable[[OrderImportJob], None]

# --- columns ------------------------------------------------------------------------------------

IDENTITY_PREFIX = "identity."
IDENTITY_TARGETS = (
    "phone",
    "email",
    *(
        f"{IDENTITY_PREFIX}{kind}"
        for kind in (
            IdentityType.WECHAT_UNIONID,
            IdentityType.WECHAT_OPENID,
            IdentityType.WECOM_EXTERNAL,
            IdentityType.EXTERNAL,
            IdentityType.USER_ID,
        )
    ),
)
ORDER_TARGETS = ("order_no", "placed_at", "amount", "items", "channel", "name", *IDENTITY_TARGETS)
REQUIRED_TARGETS = ("order_no", "placed_at", "amount")
TARGET_LABELS: dict[str, Any] = {
    "order_no": gettext_lazy("Order no."),
    "placed_at": gettext_lazy("Ordered at"),
    "amount": gettext_lazy("Amount (¥)"),
    "items": gettext_lazy("Items"),
    "channel": gettext_lazy("Channel"),
    "name": gettext_lazy("Customer name"),
    "phone": gettext_lazy("Phone"),
    "email": gettext_lazy("Email"),
}

# Header words people use, normalised (lower case, no spaces, “*”, “:” or bracketed hints).
HEADER_ALIASES: dict[str, str] = {
    **{target: target for target in ORDER_TARGETS},
    **{target[len(IDENTITY_PREFIX) :]: target for target in IDENTITY_TARGETS if "." in target},
    "订单号": "order_no",
    "订单编号": "order_no",
    "订单id": "order_no",
    "订单号码": "order_no",
    "单号": "order_no",
    "外部订单号": "order_no",
    "交易单号": "order_no",
    "orderno": "order_no",
    "orderid": "order_no",
    "ordernumber": "order_no",
    "order": "order_no",
    "下单时间": "placed_at",
    "订单时间": "placed_at",
    "下单日期": "placed_at",
    "购买时间": "placed_at",
    "成交时间": "placed_at",
    "支付时间": "placed_at",
    "付款时间": "placed_at",
    "创建时间": "placed_at",
    "时间": "placed_at",
    "日期": "placed_at",
    "orderedat": "placed_at",
    "ordertime": "placed_at",
    "orderdate": "placed_at",
    "placedat": "placed_at",
    "createdat": "placed_at",
    "paidat": "placed_at",
    "time": "placed_at",
    "date": "placed_at",
    "金额": "amount",
    "订单金额": "amount",
    "实付金额": "amount",
    "实付款": "amount",
    "支付金额": "amount",
    "付款金额": "amount",
    "实收金额": "amount",
    "成交金额": "amount",
    "总金额": "amount",
    "订单总额": "amount",
    "消费金额": "amount",
    "total": "amount",
    "revenue": "amount",
    "商品": "items",
    "商品名称": "items",
    "商品明细": "items",
    "商品信息": "items",
    "购买商品": "items",
    "产品": "items",
    "宝贝": "items",
    "products": "items",
    "渠道": "channel",
    "来源": "channel",
    "来源渠道": "channel",
    "下单渠道": "channel",
    "销售渠道": "channel",
    "订单来源": "channel",
    "source": "channel",
    "姓名": "name",
    "客户": "name",
    "客户姓名": "name",
    "客户名称": "name",
    "会员姓名": "name",
    "买家": "name",
    "买家姓名": "name",
    "customer": "name",
    "customername": "name",
    "手机": "phone",
    "手机号": "phone",
    "手机号码": "phone",
    "电话": "phone",
    "联系电话": "phone",
    "买家手机": "phone",
    "买家手机号": "phone",
    "会员手机号": "phone",
    "客户手机": "phone",
    "客户手机号": "phone",
    "mobile": "phone",
    "tel": "phone",
    "邮箱": "email",
    "电子邮箱": "email",
    "e-mail": "email",
    "unionid": "identity.wechat_unionid",
    "微信unionid": "identity.wechat_unionid",
    "openid": "identity.wechat_openid",
    "微信openid": "identity.wechat_openid",
    "externaluserid": "identity.wecom_external_userid",
    "企业微信id": "identity.wecom_external_userid",
    "企微id": "identity.wecom_external_userid",
    "外部联系人id": "identity.wecom_external_userid",
    "外部id": "identity.external_id",
    "externalid": "identity.external_id",
    "客户编号": "identity.external_id",
    "会员编号": "identity.external_id",
    "会员id": "identity.external_id",
    "客户id": "identity.external_id",
    "用户id": "identity.user_id",
    "userid": "identity.user_id",
}


def _normalise_header(text: str) -> str:
    text = re.sub(r"[（(【\[].*?[)）】\]]", "", str(text)).strip().lower()
    return re.sub(r"[\s*＊:：_.。]", "", text)


_ALIASES = {_normalise_header(k): v for k, v in HEADER_ALIASES.items()}


def order_target_label(target: str) -> str:
    if target.startswith(IDENTITY_PREFIX):
        return str(IdentityType(target[len(IDENTITY_PREFIX) :]).label)
    return str(TARGET_LABELS[target])


def order_target_choices() -> list[tuple[str, str]]:
    """What a column can be matched to, as (target, label); "" ignores the column."""
    return [("", _("— ignore this column —")), *((t, order_target_label(t)) for t in ORDER_TARGETS)]


def order_mapping_guess(*, headers: Sequence[str]) -> dict[str, str]:
    """Column index → order field for every header Siyu recognises (Chinese or English)."""
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for index, header in enumerate(headers):
        target = _ALIASES.get(_normalise_header(header), "")
        if target and target not in used:
            mapping[str(index)] = target
            used.add(target)
    return mapping


@dataclass(frozen=True)
class OrderColumns:
    """Turns one row of cells into an order payload, as the API takes it."""

    headers: list[str]
    targets: dict[int, str]

    @classmethod
    def for_job(cls, job: OrderImportJob) -> "OrderColumns":
        return cls(headers=list(job.headers), targets={int(k): v for k, v in job.mapping.items() if v})

    def payload(self, cells: Sequence[Cell]) -> dict[str, Any]:
        payload: dict[str, Any] = {}
        for index, target in self.targets.items():
            value = cells[index] if index < len(cells) else None
            if value is None or value == "":
                continue
            if target.startswith(IDENTITY_PREFIX):
                payload.setdefault("identities", []).append(
                    {"type": target[len(IDENTITY_PREFIX) :], "value": cell_text(value)}
                )
            else:
                payload[target] = value
        return payload

    def columns_of(self, path: str, payload: Mapping[str, Any]) -> set[int]:
        """The columns an error's field path points at (all identity columns for "contact")."""
        if path == "contact":
            return {i for i, t in self.targets.items() if t in IDENTITY_TARGETS}
        if path.startswith("identities."):
            position = path.split(".", 1)[1]
            kinds = [f"{IDENTITY_PREFIX}{item['type']}" for item in payload.get("identities", [])]
            if position.isdigit() and int(position) < len(kinds):
                return {i for i, t in self.targets.items() if t == kinds[int(position)]}
            return set()
        return {i for i, t in self.targets.items() if t == path}

    def describe(self, errors: Mapping[str, str], payload: Mapping[str, Any]) -> tuple[str, set[int]]:
        """One sentence per error, prefixed by its column's name; and the columns at fault."""
        parts, columns = [], set()
        pair = _("%(field)s: %(value)s")
        for path, message in errors.items():
            at = self.columns_of(path, payload)
            columns |= at
            if len(at) == 1 and path != "contact":
                parts.append(pair % {"field": self.headers[next(iter(at))], "value": message})
            else:
                parts.append(message)
        return _("; ").join(parts), columns


# --- cleaning one order -----------------------------------------------------------------------------

_TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y.%m.%d %H:%M:%S",
    "%Y.%m.%d %H:%M",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日%H:%M:%S",
    "%Y年%m月%d日%H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%Y%m%d",
    "%Y年%m月%d日",
)
_MONEY_NOISE = re.compile(r"[\s,，¥￥元]|rmb|cny", re.IGNORECASE)
_ITEM_SEPARATORS = re.compile(r"[;；\n、|,，]+")
_ITEM_QUANTITY = re.compile(r"^(?P<name>.+?)\s*[×xX*＊]\s*(?P<quantity>\d{1,6})$")


def clean_order_no(raw: Any) -> str:
    text = "" if raw is None or isinstance(raw, bool) else cell_text(raw).strip()
    if not text:
        raise ValueError(_("The order no. is missing."))
    if len(text) > MAX_ORDER_NO_LENGTH:
        raise ValueError(_("An order no. has at most %(n)d characters.") % {"n": MAX_ORDER_NO_LENGTH})
    return text


def _parse_time(raw: Any) -> datetime | None:
    if isinstance(raw, datetime):
        return raw
    if isinstance(raw, date):
        return datetime.combine(raw, datetime.min.time())
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        pass
    for fmt in _TIME_FORMATS:
        try:
            return datetime.strptime(text, fmt)  # noqa: DTZ007 - made aware in the workspace's zone below
        except ValueError:
            continue
    return None


def clean_order_time(raw: Any, *, moment: datetime) -> datetime:
    """When the order was placed; a time without a zone is in the workspace's time zone."""
    if raw is None or raw == "":
        raise ValueError(_("The order time is missing."))
    parsed = _parse_time(raw)
    if parsed is None:
        raise ValueError(
            _("“%(value)s” is not a time (use YYYY-MM-DD HH:MM, for example 2024-03-05 14:30).")
            % {"value": raw}
        )
    if parsed.tzinfo is None:
        parsed = timezone.make_aware(parsed)
    if parsed < moment - OLDEST_ALLOWED + timedelta(days=1):
        raise ValueError(_("“%(value)s” is more than five years ago.") % {"value": raw})
    if parsed > moment + NEWEST_ALLOWED:
        raise ValueError(_("“%(value)s” is in the future.") % {"value": raw})
    return parsed


def clean_order_amount(raw: Any) -> Decimal:
    """An amount of money in yuan: “199”, “1,299.50”, “¥88”, “88元”; never negative."""
    if raw is None or raw == "":
        raise ValueError(_("The amount is missing."))
    if isinstance(raw, bool):
        raise ValueError(_("“%(value)s” is not an amount of money.") % {"value": raw})
    text = _MONEY_NOISE.sub("", str(raw))
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(_("“%(value)s” is not an amount of money.") % {"value": raw}) from None
    if not amount.is_finite():
        raise ValueError(_("“%(value)s” is not an amount of money.") % {"value": raw})
    if amount < 0:
        raise ValueError(_("“%(value)s” is negative; refunds cannot be imported as orders.") % {"value": raw})
    if amount >= MAX_ORDER_AMOUNT:
        raise ValueError(_("“%(value)s” is too large for one order.") % {"value": raw})
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def parse_items(raw: Any) -> list[dict[str, Any]]:
    """Items from a list (as the API sends) or from text: “面霜×2; 洁面乳” or free text."""
    if raw is None or raw == "":
        return []
    if isinstance(raw, list):
        return order_items({"items": raw})
    items: list[dict[str, Any]] = []
    for part in _ITEM_SEPARATORS.split(cell_text(raw)):
        text = part.strip()
        if not text:
            continue
        matched = _ITEM_QUANTITY.match(text)
        if matched:
            items.append(
                {"name": matched["name"].strip()[:MAX_ITEM_TEXT], "quantity": int(matched["quantity"])}
            )
        else:
            items.append({"name": text[:MAX_ITEM_TEXT]})
        if len(items) == MAX_ITEMS:
            break
    return items


@dataclass
class OrderRow:
    """One cleaned order."""

    order_no: str
    placed_at: datetime
    amount: Decimal
    items: list[dict[str, Any]]
    channel: Channel | None
    name: str
    phone: str
    email: str
    identities: list[IdentityKey]  # every identity the row names, phone and email included

    def contact_payload(self) -> dict[str, Any]:
        """What a new contact made for this order holds (the contacts services' payload)."""
        payload: dict[str, Any] = {"stage": Stage.CUSTOMER}
        for name in ("name", "phone", "email"):
            if getattr(self, name):
                payload[name] = getattr(self, name)
        others = [
            {"type": kind, "namespace": namespace, "value": value}
            for kind, namespace, value in self.identities
            if kind not in (IdentityType.PHONE, IdentityType.EMAIL)
        ]
        if others:
            payload["identities"] = others
        if self.channel is not None:
            payload["channel"] = str(self.channel.id)
        return payload

    def contact_key(self) -> UpsertKey:
        kind, namespace, _value = self.identities[0]
        return UpsertKey(type=kind, namespace=namespace)


def order_row_clean(
    raw: Mapping[str, Any], *, lookups: ContactLookups, moment: datetime
) -> tuple[OrderRow | None, dict[str, str]]:
    """One order payload → (OrderRow, {}) or (None, errors by field path)."""
    errors: dict[str, str] = {}
    known = {"order_no", "placed_at", "amount", "items", "channel", "name", "phone", "email", "identities"}
    for key in raw:
        if key not in known:
            errors[str(key)] = _("Unknown field “%(key)s”.") % {"key": key}

    def attempt(path: str, clean: Callable[[], Any], default: Any) -> Any:
        try:
            return clean()
        except ValueError as exc:
            errors[path] = str(exc)
            return default

    order_no = attempt("order_no", lambda: clean_order_no(raw.get("order_no")), "")
    placed_at = attempt("placed_at", lambda: clean_order_time(raw.get("placed_at"), moment=moment), moment)
    amount = attempt("amount", lambda: clean_order_amount(raw.get("amount")), Decimal(0))
    items = attempt("items", lambda: parse_items(raw.get("items")), [])
    channel = attempt("channel", lambda: lookups.channel(raw.get("channel")), None)
    name = attempt("name", lambda: clean_text(raw.get("name"), max_length=100), "")
    phone = attempt("phone", lambda: clean_phone(raw.get("phone")), "")
    email = attempt("email", lambda: clean_email(raw.get("email")), "")
    identities: list[IdentityKey] = []
    if phone:
        identities.append((IdentityType.PHONE, "", phone))
    if email:
        identities.append((IdentityType.EMAIL, "", email))
    listed = raw.get("identities") or []
    if not isinstance(listed, list):
        errors["identities"] = _("Identities must be a list.")
        listed = []
    for index, item in enumerate(listed):
        try:
            identities.append(
                clean_identity({"namespace": "", **item} if isinstance(item, Mapping) else item)
            )
        except ValueError as exc:
            errors[f"identities.{index}"] = str(exc)
    if not identities and not any(k == "phone" or k == "email" or k.startswith("identities") for k in errors):
        errors["contact"] = _("Give the customer's phone or an identity (email, unionid, external id …).")
    if errors:
        return None, errors
    return (
        OrderRow(
            order_no=order_no,
            placed_at=placed_at,
            amount=amount,
            items=items,
            channel=channel,
            name=name,
            phone=phone,
            email=email,
            identities=list(dict.fromkeys(identities)),
        ),
        {},
    )


# --- the events ------------------------------------------------------------------------------------


def order_message_id(order_no: str) -> str:
    """The messageId of an order's event: the same order no. always gives the same id."""
    candidate = f"{MESSAGE_ID_PREFIX}{order_no}"
    if len(candidate) <= 100 and order_no.isprintable() and order_no == order_no.strip():
        return candidate
    return f"{MESSAGE_ID_PREFIX}sha256:{hashlib.sha256(order_no.encode()).hexdigest()[:64]}"


def contact_handle(contact_id: UUID) -> str:
    return f"{CONTACT_HANDLE_PREFIX}{contact_id}"


def order_message(row: OrderRow, *, sender: tuple[str, str]) -> dict[str, Any]:
    """The `Order Completed` event for one order; `sender` is ("userId" | "anonymousId", value)."""
    properties: dict[str, Any] = {"order_id": row.order_no, "total": float(row.amount), "currency": CURRENCY}
    if row.items:
        properties["products"] = row.items
    if row.channel is not None:
        properties["channel"] = row.channel.code
    return {
        "type": "track",
        "event": ORDER_COMPLETED,
        "messageId": order_message_id(row.order_no),
        sender[0]: sender[1],
        "timestamp": row.placed_at.isoformat(),
        "properties": properties,
        "context": {"library": LIBRARY},
    }


def order_import_source() -> Source:
    """The workspace's source for imported orders (made the first time): events from a source of the
    import kind are recorded as imported purchases."""
    source = Source.objects.filter(kind=SourceKind.IMPORT).order_by("created_at").first()
    if source is not None:
        return source
    name = _("Order import")
    if Source.objects.filter(name=name).exists():
        name = f"{name} ({SourceKind.IMPORT.value})"
    try:
        with transaction.atomic():
            return Source.objects.create(name=name, kind=SourceKind.IMPORT, write_key=write_key_new())
    except IntegrityError:  # made at the same moment by another import
        found = Source.objects.filter(kind=SourceKind.IMPORT).order_by("created_at").first()
        if found is None:
            raise
        return found


def _senders(contact_ids: set[UUID]) -> dict[UUID, tuple[str, str]]:
    """How each contact's order events name it: its userId, else its order handle (attached if new)."""
    known = contacts_known_identities(contact_ids=contact_ids)
    senders: dict[UUID, tuple[str, str]] = {}
    handles: dict[IdentityKey, UUID] = {}
    for contact_id in contact_ids:
        user_id = next(
            (v for k, ns, v in known.get(contact_id, ()) if k == IdentityType.USER_ID and not ns), None
        )
        if user_id:
            senders[contact_id] = ("userId", user_id)
        else:
            handle = contact_handle(contact_id)
            senders[contact_id] = ("anonymousId", handle)
            handles[(IdentityType.ANONYMOUS.value, "", handle)] = contact_id
    held = identity_owners(keys=handles)
    identities_link(links=[(cid, key) for key, cid in handles.items() if key not in held])
    return senders


# --- submitting orders (the API and each batch of a file) ------------------------------------------


@dataclass
class OrderResult:
    index: int
    status: OrderStatus = "failed"
    order_no: str = ""
    contact_id: UUID | None = None
    contact_created: bool = False
    detail: str = ""  # why a duplicate is one
    errors: dict[str, str] = field(default_factory=dict)


def _find_contacts(
    *,
    actor: Actor,
    rows: dict[int, OrderRow],
    results: list[OrderResult],
    lookups: ContactLookups,
) -> None:
    """Each row's contact, by its identities; unknown customers are created. Fills `results`."""
    owners = identity_owners(keys={key for row in rows.values() for key in row.identities})
    unknown: dict[int, OrderRow] = {}
    for index, row in rows.items():
        holders = list(dict.fromkeys(owners[k] for k in row.identities if k in owners))
        if len(holders) > 1:
            results[index].errors = {
                "contact": _(
                    "The phone and identities of this row belong to %(n)d different customers. "
                    "Keep one of them in the row, or merge the customers first."
                )
                % {"n": len(holders)}
            }
        elif holders:
            results[index].contact_id = holders[0]
        else:
            unknown[index] = row
    if not unknown:
        return
    if not actor.can(Permission.CONTACTS_WRITE):
        for index in unknown:
            results[index].errors = {
                "contact": _("No customer has this phone or identity, and your role cannot create customers.")
            }
        return
    groups: dict[tuple[str, str], list[int]] = {}
    for index, row in unknown.items():
        key = row.contact_key()
        groups.setdefault((key.type, key.namespace), []).append(index)
    for (kind, namespace), indexes in groups.items():
        outcomes = contacts_upsert(
            actor=actor,
            rows=[unknown[i].contact_payload() for i in indexes],
            key=UpsertKey(type=kind, namespace=namespace),
            on_duplicate="skip",
            source="import",
            lookups=lookups,
        )
        for index, outcome in zip(indexes, outcomes, strict=True):
            if outcome.status == "failed" or outcome.contact_id is None:
                results[index].errors = dict(outcome.errors) or {
                    "contact": _("The customer could not be created.")
                }
                continue
            results[index].contact_id = outcome.contact_id
            results[index].contact_created = outcome.status == "created"


def orders_submit(
    *,
    actor: Actor,
    orders: Sequence[Any],
    positions: Sequence[int] | None = None,
    seen: dict[str, int] | None = None,
    acquired: dict[UUID, datetime] | None = None,
    lookups: ContactLookups | None = None,
    numbering: Literal["row", "index"] = "index",
) -> list[OrderResult]:
    """Send up to MAX_ORDERS orders on to be recorded; one result per order, in order.

    `positions` number the orders as the caller shows them (a file's row numbers, or by default their
    index; `numbering` says which in messages) and `seen` remembers, across calls (a file's batches),
    the position each order no. was sent from: a later copy is a duplicate of that position. Within a
    call the first copy of an order no. is tried, and a later copy only if the one before it failed.
    An order no. already recorded is a duplicate too, and nothing is sent for it.

    A customer made for these orders was acquired with its earliest order here, not at the import:
    its creation time is that order's time. `acquired` carries, across calls, the customers made so
    far and that time, so a later batch's earlier order moves it back (never forward). New customers,
    their handles and the events are written in one transaction.
    """
    actor.require(Permission.ORDERS_IMPORT)
    if len(orders) > MAX_ORDERS:
        raise ValidationError(
            _("At most %(n)d orders per batch.") % {"n": MAX_ORDERS},
            code="too_many_rows",
            fields={"orders": ""},
        )
    positions = list(positions) if positions is not None else list(range(len(orders)))
    seen = seen if seen is not None else {}
    acquired = acquired if acquired is not None else {}
    lookups = lookups or ContactLookups.load()
    moment = now()
    results = [OrderResult(index=i) for i in range(len(orders))]
    rows: dict[int, OrderRow] = {}
    for index, raw in enumerate(orders):
        if not isinstance(raw, Mapping):
            results[index].errors = {"": _("Each order must be an object.")}
            continue
        row, errors = order_row_clean(raw, lookups=lookups, moment=moment)
        results[index].order_no = (
            row.order_no if row else cell_text(raw.get("order_no"))[:MAX_ORDER_NO_LENGTH]
        )
        if row is None:
            results[index].errors = errors
        else:
            rows[index] = row
    recorded = purchase_owners(order_nos=[row.order_no for row in rows.values()])
    trying: dict[int, OrderRow] = {}
    copies: dict[str, list[int]] = {}  # the later copies of each order no. tried here, in order
    for index, row in rows.items():
        result = results[index]
        if row.order_no in seen:
            _mark_repeated(result, position=seen[row.order_no], numbering=numbering)
        elif row.order_no in recorded:
            result.status, result.contact_id = "duplicate", recorded[row.order_no]
            result.detail = _("This order is already recorded; it was left as it is.")
        elif row.order_no in copies:
            copies[row.order_no].append(index)
        else:
            copies[row.order_no] = []
            trying[index] = row
    if not trying:
        return results
    with transaction.atomic():
        while trying:
            _orders_send(actor=actor, rows=trying, results=results, lookups=lookups, moment=moment)
            retrying: dict[int, OrderRow] = {}
            for index, row in trying.items():
                later = copies[row.order_no]
                if results[index].status == "accepted":
                    seen[row.order_no] = positions[index]
                    for copy in later:
                        _mark_repeated(results[copy], position=positions[index], numbering=numbering)
                elif later:  # this copy failed: the next one is tried in its place
                    following = later.pop(0)
                    retrying[following] = rows[following]
            trying = retrying
        _acquisition_times_set(rows=rows, results=results, acquired=acquired, moment=moment)
    return results


def _mark_repeated(result: OrderResult, *, position: int, numbering: Literal["row", "index"]) -> None:
    result.status = "duplicate"
    earlier = {"n": position}
    result.detail = (
        _("The same order no. is on row %(n)d; only that row is imported.") % earlier
        if numbering == "row"
        else _("The same order no. is at index %(n)d of this call; only that order is sent.") % earlier
    )


def _orders_send(
    *,
    actor: Actor,
    rows: dict[int, OrderRow],
    results: list[OrderResult],
    lookups: ContactLookups,
    moment: datetime,
) -> None:
    """Find or create each row's customer and accept its event; marks each result accepted or failed."""
    _find_contacts(actor=actor, rows=rows, results=results, lookups=lookups)
    contact_of = {
        i: cid for i in rows if not results[i].errors and (cid := results[i].contact_id) is not None
    }
    ready = list(contact_of)
    senders = _senders(set(contact_of.values()))
    messages = [order_message(rows[i], sender=senders[contact_of[i]]) for i in ready]
    accepted = events_accept(
        source=order_import_source(), messages=messages, received=Received(at=moment), sizes_checked=False
    )
    refused = {skipped.index: skipped for skipped in accepted.skipped}
    for position, index in enumerate(ready):
        if position in refused:
            results[index].errors = {"": refused[position].detail}
        else:
            results[index].status = "accepted"


def _acquisition_times_set(
    *,
    rows: Mapping[int, OrderRow],
    results: Sequence[OrderResult],
    acquired: dict[UUID, datetime],
    moment: datetime,
) -> None:
    """Date each customer these orders created (here, or earlier in the same import) back to its
    earliest accepted order: analytics count a customer as acquired when it was created, and an
    imported order history is not this month's new customers. A creation time only moves earlier."""
    for result in results:
        if result.contact_created and result.contact_id is not None:
            acquired.setdefault(result.contact_id, moment)
    earliest: dict[UUID, datetime] = {}
    for result in results:
        contact_id = result.contact_id
        if result.status == "accepted" and contact_id is not None and contact_id in acquired:
            placed_at = rows[result.index].placed_at
            earliest[contact_id] = min(placed_at, earliest.get(contact_id, placed_at))
    moves = {contact_id: at for contact_id, at in earliest.items() if at < acquired[contact_id]}
    if not moves:
        return
    acquired.update(moves)
    contacts_acquired_earlier(moves=moves)
    contacts_retention_recount(moves)


# --- the file import: upload -------------------------------------------------------------------------


def order_import_source_path(job: OrderImportJob) -> Path:
    return media_path(job.file_path)


def order_import_report_path(job: OrderImportJob) -> Path | None:
    return media_path(job.report_path) if job.report_path else None


def _file_info(job: OrderImportJob) -> FileInfo:
    return file_info_of(file_format=job.file_format, encoding=job.encoding, delimiter=job.delimiter)


def _looks_like_data(cell: Cell) -> bool:
    if not isinstance(cell, str):
        return cell is not None  # numbers and dates are values, not column names
    text = cell.strip().lstrip("+")
    return bool(text) and (text.replace(".", "", 1).isdigit() or _parse_time(text) is not None)


def order_import_job_create(
    *, actor: Actor, upload: IO[bytes], file_name: str, language: str = ""
) -> OrderImportJob:
    """Store an uploaded order file and check it (type, size, zip bomb, encoding, header, one data row).

    A refused file leaves nothing behind: no job, no stored bytes.
    """
    actor.require(Permission.ORDERS_IMPORT)
    display_name = Path(file_name.replace("\\", "/")).name[:255] or "upload"
    fmt = format_for_name(display_name)
    job = OrderImportJob(
        workspace_id=actor.workspace_id,
        created_by=actor.member,
        file_name=display_name,
        file_format=fmt,
        language=language or translation.get_language() or settings.LANGUAGE_CODE,
    )
    stored = spreadsheet_upload_store(
        upload=upload,
        file_name=display_name,
        relative_path=f"order-imports/{actor.workspace_id}/{job.id}/source.{fmt}",
        looks_like_data=_looks_like_data,
        data_in_header_message=_(
            "The first row holds data, not column names. Add a header row "
            "(for example 订单号, 手机号, 下单时间, 金额) and upload the file again."
        ),
    )
    job.file_path, job.file_size, job.headers = stored.relative_path, stored.size, stored.headers
    job.encoding, job.delimiter = stored.info.encoding, stored.info.delimiter
    job.mapping = order_mapping_guess(headers=stored.headers)
    job.save()
    return job


def _mapping_errors(job: OrderImportJob, mapping: Mapping[str, str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    targets = set(mapping.values())
    for target in REQUIRED_TARGETS:
        if target not in targets:
            errors[target] = _("Match a column to “%(field)s”.") % {"field": order_target_label(target)}
    if not targets & set(IDENTITY_TARGETS):
        errors["contact"] = _(
            "Match a column to the customer's phone or an identity (email, unionid, external id …)."
        )
    return errors


def order_import_job_configure(
    *, actor: Actor, job: OrderImportJob, mapping: Mapping[str, str]
) -> OrderImportJob:
    """Set which column holds which order field (before the job is started)."""
    actor.require(Permission.ORDERS_IMPORT)
    if job.confirmed_at is not None:
        raise ValidationError(_("This import has already started."), code="already_started")
    cleaned: dict[str, str] = {}
    errors: dict[str, str] = {}
    seen: dict[str, str] = {}
    for raw_index, target in mapping.items():
        index = str(raw_index)
        if not target:
            continue
        if not index.isdigit() or int(index) >= len(job.headers):
            errors[f"mapping.{index}"] = _("There is no column %(n)s.") % {"n": index}
        elif target not in ORDER_TARGETS:
            errors[f"mapping.{index}"] = _("“%(value)s” is not an order field.") % {"value": target}
        elif target in seen:
            errors[f"mapping.{index}"] = _(
                "Columns “%(a)s” and “%(b)s” are both matched to the same field."
            ) % {
                "a": job.headers[int(seen[target])],
                "b": job.headers[int(index)],
            }
        else:
            cleaned[index], seen[target] = target, index
    if errors:
        raise ValidationError(next(iter(errors.values())), fields=errors)
    job.mapping = cleaned
    job.save(update_fields=["mapping"])
    return job


def order_import_job_confirm(*, actor: Actor, job: OrderImportJob) -> OrderImportJob:
    """Freeze the mapping; the caller then enqueues the background run."""
    actor.require(Permission.ORDERS_IMPORT)
    if job.confirmed_at is not None:
        raise ValidationError(_("This import has already started."), code="already_started")
    errors = _mapping_errors(job, job.mapping)
    if errors:
        raise ValidationError(next(iter(errors.values())), fields=errors)
    job.confirmed_at = now()
    job.save(update_fields=["confirmed_at"])
    return job


# --- the file import: preview --------------------------------------------------------------------------


@dataclass
class OrderPreviewRow:
    number: int
    cells: list[str]
    error: str = ""
    error_columns: set[int] = field(default_factory=set)
    note: str = ""  # a duplicate, or a customer who will be created


def _data_rows(job: OrderImportJob) -> Generator[tuple[int, list[Cell]], None, None]:
    rows = read_rows(order_import_source_path(job), _file_info(job))
    try:
        next(rows, None)
        yield from rows
    finally:
        rows.close()


def order_import_preview(
    *, actor: Actor, job: OrderImportJob, limit: int = PREVIEW_ROWS
) -> list[OrderPreviewRow]:
    """The first rows as the real run will see them: each row's errors, duplicates and new customers.

    Nothing is written.
    """
    actor.require(Permission.ORDERS_IMPORT)
    columns = OrderColumns.for_job(job)
    lookups = ContactLookups.load()
    moment = now()
    preview: list[OrderPreviewRow] = []
    cleaned: list[tuple[OrderPreviewRow, OrderRow]] = []
    rows = _data_rows(job)
    try:
        for number, cells in rows:
            payload = columns.payload(cells)
            row, errors = order_row_clean(payload, lookups=lookups, moment=moment)
            message, bad = columns.describe(errors, payload)
            width = max(len(job.headers), len(cells))
            texts = [cell_text(cells[i]) if i < len(cells) else "" for i in range(width)]
            shown = OrderPreviewRow(number=number, cells=texts, error=message, error_columns=bad)
            preview.append(shown)
            if row is not None:
                cleaned.append((shown, row))
            if len(preview) >= limit:
                break
    finally:
        rows.close()
    recorded = purchase_owners(order_nos=[row.order_no for _shown, row in cleaned])
    owners = identity_owners(keys={key for _shown, row in cleaned for key in row.identities})
    first_row: dict[str, int] = {}
    for shown, row in cleaned:
        if row.order_no in first_row:
            shown.note = _("Repeats the order no. of row %(n)d; skipped.") % {"n": first_row[row.order_no]}
        elif row.order_no in recorded:
            shown.note = _("Already recorded; skipped.")
        elif not any(key in owners for key in row.identities):
            shown.note = _("A new customer will be created.")
        first_row.setdefault(row.order_no, shown.number)
    return preview


# --- the file import: the run --------------------------------------------------------------------------


def order_import_validate_file(*, job: OrderImportJob) -> int:
    """Read the whole file once before any write; return its number of data rows or refuse it."""
    total = 0
    for _number, _cells in _data_rows(job):
        total += 1
        if total > MAX_ROWS:
            raise refuse(
                _("The file has more than %(n)d rows. Split it into smaller files.") % {"n": MAX_ROWS}
            )
    if total == 0:
        raise refuse(_("The file has column names but no rows to import."))
    return total


class RowReport:
    """The rows worth a look, as uploaded, with what happened: not imported (and why), duplicates and
    new customers. A CSV that Excel opens correctly (UTF-8 with BOM)."""

    def __init__(self, job: OrderImportJob):
        self.job = job
        self._writer: CsvWriter | None = None

    def add(self, number: int, cells: Sequence[Cell], outcome: str, reason: str) -> None:
        if self._writer is None:
            if not self.job.report_path:
                self.job.report_path = str(Path(self.job.file_path).parent / "report.csv")
                OrderImportJob.objects.filter(id=self.job.id).update(report_path=self.job.report_path)
            path = media_path(self.job.report_path)
            resuming = path.exists() and path.stat().st_size > 0
            self._writer = CsvWriter(path, append=resuming)
            if not resuming:
                self._writer.write([_("Row"), *self.job.headers, _("Result"), _("Reason")])
        width = len(self.job.headers)
        padded = [cell_text(c) for c in cells] + [""] * (width - len(cells))
        self._writer.write([number, *padded, outcome, reason])

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


_COUNTERS = ("processed_rows", "accepted_count", "duplicate_count", "failed_count", "contacts_created_count")


def _write_batch(
    *,
    actor: Actor,
    job: OrderImportJob,
    columns: OrderColumns,
    lookups: ContactLookups,
    seen: dict[str, int],
    acquired: dict[UUID, datetime],
    batch: Sequence[tuple[int, list[Cell]]],
    report: RowReport,
) -> None:
    payloads = [columns.payload(cells) for _number, cells in batch]
    with transaction.atomic():
        results = orders_submit(
            actor=actor,
            orders=payloads,
            positions=[number for number, _cells in batch],
            seen=seen,
            acquired=acquired,
            lookups=lookups,
            numbering="row",
        )
        for result in results:
            if result.status == "accepted":
                job.accepted_count += 1
            elif result.status == "duplicate":
                job.duplicate_count += 1
            else:
                job.failed_count += 1
            job.contacts_created_count += int(result.contact_created)
        job.processed_rows += len(results)
        job.save(update_fields=list(_COUNTERS))
    for result, (number, cells), payload in zip(results, batch, payloads, strict=True):
        if result.status == "failed":
            reason, _columns = columns.describe(result.errors, payload)
            report.add(number, cells, _("Not imported"), reason)
        elif result.status == "duplicate":
            report.add(number, cells, _("Duplicate"), result.detail)
        elif result.contact_created:
            report.add(number, cells, _("Imported"), _("A new customer was created for this order."))


def _finish(job: OrderImportJob, *, status: JobStatus, message: str = "") -> None:
    job.status, job.message, job.finished_at = status, message, now()
    job.save(update_fields=["status", "message", "finished_at"])
    source = order_import_source_path(job)
    if job.file_path and source.exists():
        source.unlink()  # the uploaded personal data is not kept once the job has ended


def order_import_job_run(
    *, actor: Actor, job: OrderImportJob, progress: ProgressCallback | None = None
) -> OrderImportJob:
    """Validate the whole file, then send it in batches through `orders_submit`. Idempotent per job."""
    actor.require(Permission.ORDERS_IMPORT)
    if job.is_finished:
        return job
    if job.confirmed_at is None:
        raise ValidationError(_("Match the columns and start the import first."), code="not_confirmed")
    with translation.override(job.language or settings.LANGUAGE_CODE):
        job.status = JobStatus.RUNNING
        job.started_at = job.started_at or now()
        job.save(update_fields=["status", "started_at"])
        try:
            job.total_rows = order_import_validate_file(job=job)
        except ValidationError as exc:
            _finish(job, status=JobStatus.FAILED, message=exc.message)
            return job
        job.save(update_fields=["total_rows"])
        if progress:
            progress(job)
        try:
            _run_batches(actor=actor, job=job, progress=progress)
        except Exception:
            logger.exception("Order import %s stopped", job.id)
            _finish(
                job,
                status=JobStatus.FAILED,
                message=_("The import stopped unexpectedly after %(n)d rows. Rows before that were saved.")
                % {"n": job.processed_rows},
            )
            raise
        _finish(job, status=JobStatus.DONE)
        if job.contacts_created_count:
            contact_statistics_refresh()
    return job


def _run_batches(*, actor: Actor, job: OrderImportJob, progress: ProgressCallback | None) -> None:
    columns = OrderColumns.for_job(job)
    lookups = ContactLookups.load()
    report = RowReport(job)
    seen: dict[str, int] = {}
    acquired: dict[UUID, datetime] = {}  # the customers this job created, and when they were acquired
    already = job.processed_rows  # a resumed job skips what earlier runs committed
    batch: list[tuple[int, list[Cell]]] = []

    def write() -> None:
        _write_batch(
            actor=actor,
            job=job,
            columns=columns,
            lookups=lookups,
            seen=seen,
            acquired=acquired,
            batch=batch,
            report=report,
        )
        batch.clear()
        if progress:
            progress(job)

    try:
        for position, row in enumerate(_data_rows(job)):
            if position < already:
                continue
            batch.append(row)
            if len(batch) == MAX_ORDERS:
                write()
        if batch:
            write()
    finally:
        report.close()
