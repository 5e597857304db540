"""The demo's tracking side: sources, a content library with share links, a month of visits, and the
shop's order history of the past months.

Visits are Segment messages sent through `events_accept` — the path every real event takes — and
processed by the real processor, so identity resolution, counters, stages, content reading and the
radar all show real results. Message ids come from the seed: a second run stores nothing twice.

The order history is a CSV export from the shop imported through the order import, as a user would:
customers buying again every few weeks (repurchase and retention need months, not a month), the
orders the website also tracked (recorded once: they come out as duplicates), and two rows the import
refuses (a refund, a cut-off phone number).
"""

import csv
import io
import random
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image, ImageDraw

from siyu.contacts.models import Contact, Stage
from siyu.contacts.selectors import channel_list
from siyu.contacts.services import channel_update
from siyu.contacts.spreadsheets import media_path
from siyu.core.tenancy import active_workspace_id
from siyu.core.time import now
from siyu.tenancy.actor import Actor
from siyu.tenancy.models import Member
from siyu.tenancy.selectors import actor_for_member
from siyu.tracking.ingest.spec import Received
from siyu.tracking.ingest.store import events_accept
from siyu.tracking.models import (
    ContactActivity,
    Content,
    ContentCategory,
    ContentKind,
    ContentViewer,
    Event,
    EventContext,
    EventMinute,
    EventNumber,
    EventText,
    InboundBatch,
    IngestWarning,
    Notification,
    OrderImportJob,
    Purchase,
    ShareLink,
    Source,
    SourceKind,
)
from siyu.tracking.selectors.content import content_list
from siyu.tracking.selectors.sources import source_list
from siyu.tracking.services.content import content_category_create, content_create, share_link_get_or_create
from siyu.tracking.services.orders import (
    order_import_job_confirm,
    order_import_job_create,
    order_import_job_run,
)
from siyu.tracking.services.processing import inbound_process
from siyu.tracking.services.sources import source_create

# (channel code, utm_source values, referrer domains, cost unit, unit cost)
CHANNEL_RULES: tuple[tuple[str, list[str], list[str], str, str], ...] = (
    ("wechat-article", ["wechat_mp", "gzh"], ["mp.weixin.qq.com"], "", "0"),
    ("moments-ad", ["wx_moments"], [], "click", "1.80"),
    ("feed-ad", ["douyin", "toutiao"], ["douyin.com", "toutiao.com"], "click", "0.90"),
    ("referral", ["invite"], [], "contact", "20"),
)

ARTICLE_BODY = (
    "<h2>{title}</h2><p>换季时皮肤屏障最容易受损。先做减法：停掉刺激性强的去角质产品，"
    "洁面选择温和的氨基酸配方。</p><p>保湿分三步：补水、锁水、修护。</p>"
    "<ul><li>早晚两次保湿精华</li><li>厚涂面霜锁住水分</li><li>每周两次修护面膜</li></ul>"
    "<blockquote>皮肤科医生建议：敏感期不要频繁更换护肤品。</blockquote>"
)
# (category, kind, title, summary, price)
CONTENTS = (
    ("护肤知识", ContentKind.ARTICLE, "秋冬护肤指南", "换季干燥、泛红？三步修护屏障", None),
    ("护肤知识", ContentKind.ARTICLE, "敏感肌的五个误区", "越护越敏感，可能是这些习惯", None),
    ("彩妆教程", ContentKind.ARTICLE, "通勤五分钟淡妆", "新手也能学会的快速妆容", None),
    ("新品推荐", ContentKind.PRODUCT, "玻尿酸修护面霜 50g", "72 小时长效保湿", "199.00"),
    ("新品推荐", ContentKind.PRODUCT, "氨基酸洁面乳 120ml", "温和不紧绷", "89.00"),
    ("活动", ContentKind.POSTER, "双十二会员日海报", "全场满 299 减 50", None),
)
SITE = "https://www.huayang-demo.cn"
PAGES = (("/", "首页"), ("/pricing", "会员价格"), ("/product/cream", "修护面霜"), ("/cart", "购物车"))
VISITED_CONTACTS = 300
ANONYMOUS_VISITORS = 150
LIVE_READERS_PER_REP = 4
# The shop's order history: customers and members with orders over the past months.
HISTORY_CUSTOMERS = 700  # sampled; those acquired in the past 30 days have no history
# A customer's first order is 30 to 330 days old, and after the customer was acquired.
HISTORY_DAYS = 330
HISTORY_NEWEST_START_DAYS = 30
HISTORY_FILE = "历史订单导出.csv"
TRACKED_IN_EXPORT = 30  # orders the website tracked that the export holds too
# (name, price) of what the shop sells
PRODUCTS = (
    ("玻尿酸修护面霜 50g", 199),
    ("氨基酸洁面乳 120ml", 89),
    ("烟酰胺精华 30ml", 288),
    ("修护面膜 5片", 129),
    ("清透防晒乳 50ml", 159),
)
# How many orders a customer of the history placed, with weights: most buy again.
HISTORY_ORDERS = ((1, 40), (2, 25), (3, 15), (4, 10), (5, 6), (6, 4))


@dataclass(frozen=True)
class TrackedOrder:
    order_no: str
    phone: str
    placed_at: datetime
    total: int


@dataclass
class _Library:
    contents: list[Content]
    links: dict[tuple[Any, Any], ShareLink]  # (member id, content id) → link


def demo_tracking_load(*, actor: Actor, members: dict[str, Member], rng: random.Random) -> int:
    """Set up sources, channel rules and content, then replay visits. Returns the events processed.

    The demo's contacts were just generated afresh, so their tracked past is too.
    """
    _tracking_wipe()
    _channel_rules(actor=actor)
    website, h5 = _sources(actor=actor)
    library = _library(actor=actor, members=members)
    tracked: list[TrackedOrder] = []
    batches = _visits(rng=rng, library=library, members=members, tracked=tracked)
    for source, messages, received_at in (
        (website if i % 2 else h5, m, at) for i, (m, at) in enumerate(batches)
    ):
        events_accept(source=source, messages=messages, received=Received(at=received_at))
    processed = _process()
    # After the visits, so the orders the website tracked are recorded and the export's copies of
    # them are duplicates.
    _order_history(actor=actor, rng=rng, tracked=tracked)
    return processed + _process()


def _process() -> int:
    processed = 0
    while (done := inbound_process(max_events=2000)).batches:
        processed += done.events
    return processed


def _tracking_wipe() -> None:
    for model in (
        EventContext,
        EventNumber,
        EventText,
        Event,
        Purchase,
        ContactActivity,
        ContentViewer,
        Notification,
        EventMinute,
        InboundBatch,
        IngestWarning,
        OrderImportJob,
    ):
        model.objects.all().delete()
    # The earlier runs' order import reports.
    shutil.rmtree(media_path(f"order-imports/{active_workspace_id()}"), ignore_errors=True)


def _channel_rules(*, actor: Actor) -> None:
    channels = {c.code: c for c in channel_list()}
    for code, utm_sources, domains, cost_unit, unit_cost in CHANNEL_RULES:
        channel = channels.get(code)
        if channel is not None and not channel.utm_sources:
            channel_update(
                actor=actor,
                channel=channel,
                name=channel.name,
                kind=channel.kind,
                code=channel.code,
                utm_sources=utm_sources,
                referrer_domains=domains,
                cost_unit=cost_unit,
                unit_cost=unit_cost,
            )


def _sources(*, actor: Actor) -> tuple[Source, Source]:
    existing = {s.name: s for s in source_list()}
    channels = {c.code: c for c in channel_list()}
    website = existing.get("官网") or source_create(
        actor=actor, name="官网", kind=SourceKind.WEBSITE, allowed_origins=["*"]
    )
    h5 = existing.get("公众号 H5") or source_create(
        actor=actor,
        name="公众号 H5",
        kind=SourceKind.WECHAT_H5,
        allowed_origins=["*"],
        channel=channels.get("wechat-article"),
    )
    return website, h5


def _poster_image(title: str) -> SimpleUploadedFile:
    image = Image.new("RGB", (750, 1334), "#f7d9e3")
    draw = ImageDraw.Draw(image)
    for y in range(0, 1334, 4):
        shade = 217 + (y * 30 // 1334)
        draw.line([(0, y), (750, y)], fill=(247, min(255, shade), 227))
    draw.rounded_rectangle((60, 200, 690, 700), radius=40, fill="#ffffff")
    draw.text((100, 260), "HUAYANG", fill="#c2185b")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return SimpleUploadedFile(f"{title}.png", buffer.getvalue(), content_type="image/png")


def _library(*, actor: Actor, members: dict[str, Member]) -> _Library:
    existing = {c.title: c for c in content_list()}
    categories = {c.name: c for c in ContentCategory.objects.all()}
    contents = []
    for category_name, kind, title, summary, price in CONTENTS:
        content = existing.get(title)
        if content is None:
            category = categories.get(category_name) or content_category_create(
                actor=actor, name=category_name
            )
            categories[category_name] = category
            content = content_create(
                actor=actor,
                kind=kind,
                title=title,
                summary=summary,
                body=ARTICLE_BODY.format(title=title) if kind != ContentKind.POSTER else "",
                price=price,
                file=_poster_image(title) if kind == ContentKind.POSTER else None,
                category=category,
                tags=["demo"],
            )
        contents.append(content)
    links = {}
    for username in ("demo-sales1", "demo-sales2", "demo-manager"):
        member = members[username]
        sharer = actor_for_member(member=member)
        for content in contents:
            links[(member.id, content.id)] = share_link_get_or_create(actor=sharer, content=content)
    return _Library(contents=contents, links=links)


def _message(rng: random.Random, kind: str, at: datetime, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "messageId": f"demo-{rng.getrandbits(64):016x}",
        "originalTimestamp": at.isoformat(),
        "context": {"library": {"name": "siyu.js", "version": "1.0.0"}, "locale": "zh-CN"},
        **fields,
    }


def _reading(
    rng: random.Random,
    *,
    anonymous_id: str,
    user_id: str,
    content: Content,
    link: ShareLink | None,
    at: datetime,
) -> list[dict[str, Any]]:
    """A page view of a piece of content, heartbeats while it is read, and the page left."""
    view_id = f"v-{rng.getrandbits(48):012x}"
    path = f"/s/{link.token}/" if link else f"/content/{content.id}/"
    properties = {
        "view_id": view_id,
        "url": SITE + path,
        "path": path,
        "title": content.title,
        "content_id": str(content.id),
        **({"share_token": link.token} if link else {}),
    }
    ids = {"anonymousId": anonymous_id, **({"userId": user_id} if user_id else {})}
    messages = [_message(rng, "page", at, name=content.title, properties=properties, **ids)]
    dwell, depth, moment = 0, 0, at
    for _ in range(rng.randint(1, 8)):
        delta = rng.randint(5_000, 15_000)
        dwell, depth = dwell + delta, min(100, depth + rng.randint(5, 25))
        moment += timedelta(milliseconds=delta)
        messages.append(
            _message(
                rng,
                "track",
                moment,
                event="Page Engaged",
                properties={
                    **properties,
                    "active_dwell_ms": dwell,
                    "dwell_delta_ms": delta,
                    "scroll_depth": depth,
                },
                **ids,
            )
        )
    if rng.random() < 0.8 or moment < now() - timedelta(minutes=5):
        messages.append(
            _message(
                rng,
                "track",
                moment + timedelta(seconds=2),
                event="Page Left",
                properties={
                    **properties,
                    "active_dwell_ms": dwell,
                    "dwell_delta_ms": 0,
                    "scroll_depth": depth,
                },
                **ids,
            )
        )
    return messages


def _visits(
    *, rng: random.Random, library: _Library, members: dict[str, Member], tracked: list[TrackedOrder]
) -> list[tuple[list[dict[str, Any]], datetime]]:
    """Batches of messages with the moment each would have been received."""
    moment = now()
    batches: list[tuple[list[dict[str, Any]], datetime]] = []
    contacts = list(
        Contact.objects.exclude(phone="")
        .order_by("id")
        .values_list("id", "phone", "owner_id")[: VISITED_CONTACTS * 3]
    )
    rng.shuffle(contacts)
    for number, (_contact_id, phone, owner_id) in enumerate(contacts[:VISITED_CONTACTS]):
        anonymous_id = f"demo-anon-{number}"
        user_id = f"hy-{number:05d}"
        start = moment - timedelta(days=rng.uniform(1, 30))
        messages = []
        campaign = rng.choice(
            [
                {},
                {"source": "wx_moments", "medium": "cpc"},
                {"source": "douyin", "medium": "feed"},
                {"source": "gzh"},
            ]
        )
        messages.append(
            _message(
                rng,
                "page",
                start,
                anonymousId=anonymous_id,
                name=PAGES[0][1],
                properties={"url": SITE + "/", "path": "/", "title": PAGES[0][1]},
                context={"campaign": campaign, "page": {"url": SITE + "/", "path": "/"}},
            )
        )
        for content in rng.sample(library.contents, rng.randint(1, 3)):
            start += timedelta(minutes=rng.randint(1, 600))
            link = library.links.get((owner_id, content.id))
            messages += _reading(
                rng, anonymous_id=anonymous_id, user_id="", content=content, link=link, at=start
            )
        start += timedelta(minutes=rng.randint(1, 60))
        messages.append(
            _message(
                rng, "identify", start, anonymousId=anonymous_id, userId=user_id, traits={"phone": phone}
            )
        )
        if rng.random() < 0.35:
            start += timedelta(hours=rng.randint(1, 48))
            for _ in range(rng.choice((1, 1, 2, 3))):
                start += timedelta(days=rng.randint(0, 5))
                total = rng.choice((89, 199, 288, 399, 598))
                messages.append(
                    _message(
                        rng,
                        "track",
                        start,
                        anonymousId=anonymous_id,
                        userId=user_id,
                        event="Order Completed",
                        properties={
                            "order_id": f"HY{rng.getrandbits(32):08x}",
                            "total": total,
                            "currency": "CNY",
                        },
                    )
                )
        messages = [m for m in messages if m["originalTimestamp"] < moment.isoformat()]
        tracked += [
            TrackedOrder(
                order_no=m["properties"]["order_id"],
                phone=phone,
                placed_at=datetime.fromisoformat(m["originalTimestamp"]),
                total=m["properties"]["total"],
            )
            for m in messages
            if m.get("event") == "Order Completed"
        ]
        batches.append((messages, min(moment, start + timedelta(minutes=1))))
    for number in range(ANONYMOUS_VISITORS):
        at = moment - timedelta(minutes=rng.uniform(1, 60 * 24 * 7))
        path, title = rng.choice(PAGES)
        batches.append(
            (
                [
                    _message(
                        rng,
                        "page",
                        at,
                        anonymousId=f"demo-visitor-{number}",
                        name=title,
                        properties={"url": SITE + path, "path": path, "title": title},
                    )
                ],
                at,
            )
        )
    batches += _live_readers(rng=rng, library=library, members=members, contacts=contacts[VISITED_CONTACTS:])
    batches.sort(key=lambda batch: batch[1])
    return batches


def _live_readers(
    *, rng: random.Random, library: _Library, members: dict[str, Member], contacts: list[tuple[Any, str, Any]]
) -> list[tuple[list[dict[str, Any]], datetime]]:
    """Owned contacts reading the reps' content in the last half hour: what the radar shows right now."""
    moment = now()
    batches = []
    by_owner: dict[Any, list[tuple[Any, str, Any]]] = {}
    for contact in contacts:
        by_owner.setdefault(contact[2], []).append(contact)
    for username in ("demo-sales1", "demo-sales2"):
        member = members[username]
        for number, (_contact_id, phone, _owner) in enumerate(
            by_owner.get(member.id, [])[:LIVE_READERS_PER_REP]
        ):
            anonymous_id = f"demo-live-{username}-{number}"
            at = moment - timedelta(minutes=rng.uniform(2, 25))
            identify = _message(rng, "identify", at, anonymousId=anonymous_id, traits={"phone": phone})
            content = rng.choice(library.contents)
            reading = _reading(
                rng,
                anonymous_id=anonymous_id,
                user_id="",
                content=content,
                link=library.links.get((member.id, content.id)),
                at=at + timedelta(seconds=5),
            )
            batches.append(
                ([identify, *[m for m in reading if m["originalTimestamp"] < moment.isoformat()]], at)
            )
    return batches


def _order_items(rng: random.Random) -> tuple[str, int]:
    """What one order holds ("name×quantity; …" as shop exports write it) and what it cost."""
    lines, total = [], 0
    for name, price in rng.sample(PRODUCTS, rng.choice((1, 1, 1, 2, 2, 3))):
        quantity = rng.choice((1, 1, 1, 2))
        lines.append(f"{name}×{quantity}")
        total += price * quantity
    return "; ".join(lines), total


def _history_rows(*, rng: random.Random, tracked: list[TrackedOrder]) -> list[list[str]]:
    """The export's rows: order no., phone, name, time, amount, items, channel; oldest first.

    Every time is reckoned from one moment, and order numbers do not hold dates, so a second run a few
    minutes later exports the same orders. A customer's history starts after it was acquired (its
    first order 30 to 330 days ago, never before its creation); one acquired less than 30 days ago
    has none.
    """
    moment = now()
    customers = list(
        Contact.objects.filter(stage__in=[Stage.CUSTOMER, Stage.MEMBER])
        .exclude(phone="")
        .order_by("id")
        .values_list("phone", "name", "channel__name", "created_at")
    )
    rows: list[tuple[datetime, list[str]]] = []
    for phone, name, channel, created_at in rng.sample(customers, min(HISTORY_CUSTOMERS, len(customers))):
        # Drawn for every customer, so one too new for a history leaves the others' orders as they were.
        count: int = rng.choices([n for n, _w in HISTORY_ORDERS], weights=[w for _n, w in HISTORY_ORDERS])[0]
        share = rng.random()
        oldest = min(moment - created_at, timedelta(days=HISTORY_DAYS))
        newest = timedelta(days=HISTORY_NEWEST_START_DAYS)
        if oldest <= newest:
            continue
        placed = moment - (newest + share * (oldest - newest))
        for _ in range(count):
            if placed > moment - timedelta(days=1):
                break
            items, total = _order_items(rng)
            if rng.random() < 0.2:
                total = round(total * 0.9)  # a member discount
            order_no = f"YZ{rng.randrange(10**16):016d}"
            when = f"{timezone.localtime(placed):%Y-%m-%d %H:%M}"
            rows.append((placed, [order_no, phone[3:], name, when, f"{total}.00", items, channel]))
            placed += timedelta(days=rng.randint(14, 80), minutes=rng.randint(-300, 300))
    for order in rng.sample(tracked, min(TRACKED_IN_EXPORT, len(tracked))):
        when = f"{timezone.localtime(order.placed_at):%Y-%m-%d %H:%M}"
        rows.append(
            (order.placed_at, [order.order_no, order.phone[3:], "", when, f"{order.total}.00", "", ""])
        )
    if rows:
        first_at, first = rows[0]
        refund = [f"{first[0]}-R", *first[1:4], f"-{first[4]}", *first[5:]]
        cut_off = [f"{first[0]}-X", first[1][:7], *first[2:]]
        rows += [(first_at, refund), (first_at, cut_off)]
    rows.sort(key=lambda row: row[0])
    return [row for _placed, row in rows]


def _order_history(*, actor: Actor, rng: random.Random, tracked: list[TrackedOrder]) -> OrderImportJob:
    """Import the shop's export of past orders through the order import, as a user would."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["订单号", "手机号", "客户姓名", "下单时间", "实付金额", "商品", "渠道"])
    writer.writerows(_history_rows(rng=rng, tracked=tracked))
    data = io.BytesIO(("\ufeff" + buffer.getvalue()).encode("utf-8"))
    job = order_import_job_create(actor=actor, upload=data, file_name=HISTORY_FILE, language="zh-hans")
    order_import_job_confirm(actor=actor, job=job)
    return order_import_job_run(actor=actor, job=job)
