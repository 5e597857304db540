"""Fill a database with a realistic workspace for the segment and analytics benchmarks.

    .venv/bin/python bench/generate_data.py --database-url sqlite:////tmp/siyu-big/siyu.sqlite3 \\
        --contacts 1000000 --events 10000000 [--seed 1] [--force]
    .venv/bin/python bench/generate_data.py --database-url postgres://postgres@127.0.0.1:5432/siyu_big ...

The database is migrated first (a missing PostgreSQL database is created), then workspace "bench" is
made through the product's own services: the owner `bench-admin` and a sales rep `bench-rep`
(password `bench-password-123`), eight teams (three regions, five groups) with 24 reps and three
managers, ten acquisition channels with costs (two with entered monthly spend), four tag groups
with 16 tags, four custom fields (select, number, date, select) and a website source whose write key
is the one bench/ingest_events.py sends with.

The bulk rows are written straight into the tables, as the product itself would have left them:

- contacts: Chinese names (with their pinyin search keys), mobile phones, cities and provinces,
  birthdays, genders, companies, lifecycle stages with realistic shares, owners (70%, the rest in the
  public pool), first-touch channels (85%), custom values, created over the last two years (more of
  them recently); their ids are UUIDv7 of their creation time, as the product makes them;
- identities: phone, email, the web anonymous id of every contact with events, a WeChat unionid for
  about a third, a WeCom external user id for about a fifth;
- tags on about 30% of the contacts (1–3 each), one stage history row per contact;
- events over the last `--days` days (180): page views, `Article Read` (article, category, dwell
  seconds), `Page Left` (dwell and scroll, what the SDK reports), `Product Viewed` (product,
  category, price) and `Order Completed` (order_id, revenue, products) for customers and members
  only; each event's context (page, library, locale, user agent, campaign) in its own table and
  its numeric and short text properties in theirs (`EventNumber`, `EventText`), as the processor
  stores them; events per
  contact are skewed (log-normal weights, more for later stages), grouped into sessions; every
  contact's first event carries its channel's campaign;
- what the event processor would have written for them (siyu/tracking/services/effects.py and
  purchases.py): one ContactActivity row per contact with events (first/last seen, sessions split
  by the 30-minute timeout, page views, events, active dwell from `Page Left`, orders, revenue,
  last order, first and last touch), one Purchase per `Order Completed`, and `last_seen_at` on the
  contact.

Not generated: timeline entries, content readers, per-minute event counts, radar alerts.

Speed: the secondary indexes of the bulk tables are dropped and rebuilt afterwards with the very
statements the migrations made them with (unique constraints that SQLite keeps inside the table
stay; the generator feeds them ids in ascending order); rows go in with `executemany` on SQLite and
`COPY` on PostgreSQL, in chunks of contacts, so memory stays flat; events are staged and then moved
into their table sorted by arrival time, as a live workspace would have stored them; ANALYZE at the end, then the RFM
cut points are computed as the daily refresh would.

The run refuses a database that already has workspace "bench"; `--force` wipes the WHOLE database
first (all tables: use it on scratch databases only) — and refuses if any other workspace is there.
"""

from __future__ import annotations

import argparse
import importlib
import os
import random
import sqlite3
import sys
import tempfile
import time
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson
import psycopg
from _common import PREFIXES, peak_rss_mb, say

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORKSPACE_SLUG = "bench"
PASSWORD = "bench-password-123"  # noqa: S105 - a throwaway benchmark account
WRITE_KEY = "wk_bench_ingest_events_0001"  # the key bench/ingest_events.py sends with
CHUNK_CONTACTS = 10_000
SESSION_TIMEOUT = 30 * 60
RETENTION_DAYS = (30, 60, 90)  # the windows of siyu.contacts.reporting.retention_window: days N-29 … N
MAX_DWELL_DELTA_MS = 60 * 60 * 1000
BULK_TABLES = (
    "contacts_contact",
    "contacts_identity",
    "contacts_contacttag",
    "contacts_stagechange",
    "tracking_event",
    "tracking_eventnumber",
    "tracking_eventtext",
    "tracking_contactactivity",
    "tracking_purchase",
)

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范"
    "金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建文辉晶婷玲雪琳慧欣怡佳悦梦雨思涵诗琪子轩浩宇"
)
# (city, province, weight)
CITIES = (
    ("上海", "上海", 14),
    ("北京", "北京", 11),
    ("杭州", "浙江", 9),
    ("广州", "广东", 8),
    ("深圳", "广东", 9),
    ("成都", "四川", 7),
    ("南京", "江苏", 6),
    ("苏州", "江苏", 6),
    ("武汉", "湖北", 5),
    ("西安", "陕西", 4),
    ("重庆", "重庆", 5),
    ("天津", "天津", 3),
    ("长沙", "湖南", 3),
    ("郑州", "河南", 3),
    ("青岛", "山东", 2),
    ("宁波", "浙江", 2),
    ("厦门", "福建", 2),
    ("福州", "福建", 2),
    ("合肥", "安徽", 2),
    ("济南", "山东", 2),
)
MAIL_DOMAINS = ("qq.com", "163.com", "126.com", "gmail.com", "sina.com", "outlook.com")
COMPANIES = ("华阳贸易", "星河科技", "蓝海咨询", "优品生活", "悦己美业", "云帆教育", "金禾餐饮", "安心母婴")
# stage, share of contacts, activity weight factor, share with events
STAGES = (
    ("visitor", 0.44, 0.5, 0.55),
    ("engaged", 0.20, 0.9, 0.70),
    ("follower", 0.12, 1.0, 0.72),
    ("friend", 0.11, 1.3, 0.78),
    ("customer", 0.09, 1.8, 0.88),
    ("member", 0.04, 2.3, 0.92),
)
BUYER_STAGES = frozenset({4, 5})
# name, code, kind, cost unit, unit cost, share of contacts, entered monthly spend (yuan) or 0
CHANNELS = (
    ("公众号文章", "wechat-article", "article", "month", "20000", 18, 0),
    ("朋友圈广告", "moments-ad", "social_ad", "contact", "35", 15, 0),
    ("抖音信息流", "douyin-feed", "feed_ad", "click", "1.2", 14, 90000),
    ("百度搜索", "baidu-search", "search", "contact", "28", 10, 0),
    ("线下门店", "store", "store", "month", "50000", 12, 0),
    ("老带新", "referral", "referral", "contact", "20", 9, 0),
    ("企业微信", "wecom", "wecom", "", "0", 8, 0),
    ("小程序", "mini-program", "mini_program", "", "0", 6, 45000),
    ("官网", "website", "website", "", "0", 5, 0),
    ("展会", "expo", "other", "month", "8000", 3, 0),
)
TEAMS = (("华东大区", ("上海组", "杭州组")), ("华南大区", ("广州组", "深圳组")), ("华北大区", ("北京组",)))
TAG_GROUPS = (
    ("兴趣", False, ("护肤", "彩妆", "母婴", "健康", "穿搭", "美食")),
    ("客户价值", True, ("高价值", "中价值", "低价值")),
    ("活动", False, ("双11", "618", "会员日", "直播")),
    ("服务", False, ("待回访", "已加微信", "投诉过")),
)
LEVELS = ("普通", "银卡", "金卡", "钻石")
SKINS = ("干性", "油性", "混合", "敏感")
CATEGORIES = ("护肤", "彩妆", "母婴", "健康", "穿搭", "美食")
USER_AGENT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN"
)
SITE = "https://m.huayang.cn"


# -- database preparation (before Django is set up) --------------------------------------------------


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def prepare_database(url: str, *, force: bool) -> None:
    """Make sure the database exists; with --force, wipe it (after checking it is ours to wipe)."""
    if is_sqlite(url):
        path = sqlite_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        if force and path.exists():
            _refuse_foreign_workspaces_sqlite(path)
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
            return
    if force:
        with psycopg.connect(url, autocommit=True) as conn:
            has_table = conn.execute("SELECT to_regclass('public.tenancy_workspace')").fetchone()
            if has_table and has_table[0] is not None:
                slugs = [r[0] for r in conn.execute("SELECT slug FROM tenancy_workspace").fetchall()]
                _refuse_foreign(slugs)
            conn.execute("DROP SCHEMA public CASCADE")
            conn.execute("CREATE SCHEMA public")


def _refuse_foreign_workspaces_sqlite(path: Path) -> None:
    conn = sqlite3.connect(path)
    try:
        slugs = [r[0] for r in conn.execute("SELECT slug FROM tenancy_workspace").fetchall()]
    except sqlite3.OperationalError:
        slugs = []
    finally:
        conn.close()
    _refuse_foreign(slugs)


def _refuse_foreign(slugs: Sequence[str]) -> None:
    others = [slug for slug in slugs if slug != WORKSPACE_SLUG]
    if others:
        raise SystemExit(f"--force refused: the database holds other workspaces too ({', '.join(others)})")


def django_setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("SIYU_SECRET_KEY", "bench-secret-key-that-is-long-enough-0123456789")
    os.environ.setdefault("SIYU_VAR_DIR", str(Path(tempfile.gettempdir()) / "siyu-bench-var"))
    os.environ.setdefault("SIYU_LOG_LEVEL", "WARNING")
    os.environ.pop("SIYU_TESTING", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "siyu.settings")
    import django

    django.setup()


# -- the small things, through the product's services -------------------------------------------------


@dataclass
class Workspace:
    workspace_id: str
    source_id: str
    owners: list[str]  # member ids (hex) of the sales reps, the contacts' owners
    channels: list[tuple[str, str, int]]  # (id hex, code, share)
    tags: dict[str, list[str]]  # group name → tag ids (hex)
    member_count: int = 0
    team_count: int = 0


def setup_workspace(*, now: datetime) -> Workspace:
    from decimal import Decimal

    from siyu.analytics.models import ChannelSpend
    from siyu.contacts.services.channels import channel_create, channel_update
    from siyu.contacts.services.fields import custom_field_create
    from siyu.contacts.services.tags import tag_create, tag_group_create
    from siyu.core.tenancy import workspace_scope
    from siyu.tenancy.models import Member, Team
    from siyu.tenancy.models import Workspace as WorkspaceModel
    from siyu.tenancy.roles import Role
    from siyu.tenancy.selectors import actor_for_member
    from siyu.tenancy.services import member_create, team_create, user_get_or_create, workspace_create
    from siyu.tracking.models import Source
    from siyu.tracking.services.sources import source_create

    if WorkspaceModel.objects.filter(slug=WORKSPACE_SLUG).exists():
        raise SystemExit(
            f"workspace “{WORKSPACE_SLUG}” exists in this database already: it was generated before. "
            "Use it as it is, or run again with --force to wipe the database and start over."
        )
    owner_user = user_get_or_create(username="bench-admin", password=PASSWORD)
    workspace = workspace_create(
        name="华阳生活 (基准)", slug=WORKSPACE_SLUG, owner=owner_user, owner_name="基准管理员"
    )
    with workspace_scope(workspace.id):
        admin = actor_for_member(member=Member.objects.get(user=owner_user))
        rng = random.Random(99)
        reps: list[Member] = []
        teams = 0
        for region, groups in TEAMS:
            parent = team_create(actor=admin, name=region)
            teams += 1
            member_create(
                actor=admin,
                username=f"bench-mgr-{teams}",
                display_name=f"{region}经理",
                role=Role.MANAGER,
                team=parent,
            )
            for group in groups:
                team = team_create(actor=admin, name=group, parent=parent)
                teams += 1
                for _ in range(5 if group != "北京组" else 4):
                    number = len(reps) + 1
                    name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
                    reps.append(
                        member_create(
                            actor=admin,
                            username="bench-rep" if number == 1 else f"bench-rep-{number:02d}",
                            display_name=f"{name}",
                            role=Role.SALES,
                            team=team,
                            password=PASSWORD if number == 1 else None,
                        )
                    )
        channels = []
        months = []
        first = (now.date() - timedelta(days=760)).replace(day=1)
        while first <= now.date():
            months.append(first)
            first = (first + timedelta(days=32)).replace(day=1)
        for name, code, kind, unit, cost, share, monthly in CHANNELS:
            channel = channel_create(actor=admin, name=name, kind=kind, code=code)
            channel_update(
                actor=admin,
                channel=channel,
                name=name,
                kind=kind,
                code=code,
                utm_sources=[code],
                cost_unit=unit,
                unit_cost=cost,
            )
            channels.append((channel.id.hex, code, share))
            if monthly:
                ChannelSpend.objects.bulk_create(
                    ChannelSpend(
                        channel=channel,
                        month=month,
                        amount=Decimal(monthly) * Decimal(str(round(rng.uniform(0.7, 1.3), 2))),
                    )
                    for month in months
                )
        tags: dict[str, list[str]] = {}
        colors = ("blue", "green", "orange", "red", "purple", "cyan")
        for group_name, exclusive, tag_names in TAG_GROUPS:
            tag_group = tag_group_create(actor=admin, name=group_name, is_exclusive=exclusive)
            tags[group_name] = [
                tag_create(actor=admin, group=tag_group, name=tag, color=colors[i % len(colors)]).id.hex
                for i, tag in enumerate(tag_names)
            ]
        custom_field_create(actor=admin, label="会员等级", key="level", type="select", options=list(LEVELS))
        custom_field_create(actor=admin, label="预算", key="budget", type="number")
        custom_field_create(actor=admin, label="首次到店", key="first_visit", type="date")
        custom_field_create(actor=admin, label="肤质", key="skin", type="select", options=list(SKINS))
        source = source_create(actor=admin, name="官网")
        Source.objects.filter(id=source.id).update(write_key=WRITE_KEY)
        member_count = Member.objects.count()
        team_count = Team.objects.count()
    return Workspace(
        workspace_id=workspace.id.hex,
        source_id=source.id.hex,
        owners=[m.id.hex for m in reps],
        channels=channels,
        tags=tags,
        member_count=member_count,
        team_count=team_count,
    )


# -- ids and times --------------------------------------------------------------------------------------


class Ids:
    """UUIDv7 as the product makes them (siyu.core.ids): a millisecond clock and a 12-bit counter."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.ms = 0
        self.counter = 0

    def at(self, unix_ms: int) -> int:
        """An id for a row made at `unix_ms` (never below the previous id: ids only go up)."""
        if unix_ms > self.ms:
            self.ms, self.counter = unix_ms, 0
        else:
            self.counter += 1
            if self.counter > 0xFFF:
                self.ms, self.counter = self.ms + 1, 0
        return (self.ms << 80) | (0x7 << 76) | (self.counter << 64) | (0b10 << 62) | self.rng.getrandbits(62)


def hex_id(value: int) -> str:
    return f"{value:032x}"


def dashed(value: int) -> str:
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class Times:
    """Timestamps as the database stores them: naive UTC text on SQLite, ISO with offset for COPY."""

    def __init__(self, sqlite: bool) -> None:
        self.suffix = "" if sqlite else "+00:00"
        self.days: dict[int, str] = {}

    def __call__(self, epoch: float) -> str:
        whole = int(epoch)
        day, seconds = divmod(whole, 86400)
        text = self.days.get(day)
        if text is None:
            text = self.days[day] = datetime.fromtimestamp(day * 86400, UTC).date().isoformat()
        hours, rest = divmod(seconds, 3600)
        minutes, secs = divmod(rest, 60)
        micros = int((epoch - whole) * 1_000_000)
        return f"{text} {hours:02d}:{minutes:02d}:{secs:02d}.{micros:06d}{self.suffix}"


# -- writing ------------------------------------------------------------------------------------------


class Sink:
    """Bulk rows into one table per call; indexes dropped before and rebuilt after."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite = is_sqlite(url)
        self.saved_indexes: list[tuple[str, str]] = []  # (name, statement to recreate)
        self.saved_constraints: list[tuple[str, str, str]] = []  # (table, name, definition)
        if self.sqlite:
            self.conn: Any = sqlite3.connect(sqlite_path(url), isolation_level=None)
            for pragma in (
                "journal_mode=DELETE",
                "synchronous=OFF",
                "cache_size=-600000",
                "temp_store=FILE",
                "foreign_keys=OFF",
            ):
                self.conn.execute(f"PRAGMA {pragma}")
            self.conn.execute("BEGIN")
        else:
            self.conn = psycopg.connect(url)
            self.conn.execute("SET session_replication_role = replica")  # no FK triggers during the load
            self.conn.execute("SET maintenance_work_mem = '512MB'")
            self.conn.execute("SET synchronous_commit = off")

    def drop_indexes(self, tables: Sequence[str]) -> None:
        if self.sqlite:
            for table in tables:
                rows = self.conn.execute(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
                    [table],
                ).fetchall()
                for name, sql in rows:
                    self.saved_indexes.append((name, sql))
                    self.conn.execute(f'DROP INDEX "{name}"')
            return
        for table in tables:
            constraints = self.conn.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = %s::regclass AND contype = 'u'",
                [table],
            ).fetchall()
            for name, definition in constraints:
                self.saved_constraints.append((table, name, definition))
                self.conn.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
            indexes = self.conn.execute(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = %s "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
                [table],
            ).fetchall()
            for name, definition in indexes:
                self.saved_indexes.append((name, definition))
                self.conn.execute(f'DROP INDEX "{name}"')
        self.conn.commit()

    def staging_create(self, table: str) -> str:
        """An empty table shaped like `table`, to collect rows that go in later in another order."""
        staging = f"bench_staging_{table}"
        self.conn.execute(f'DROP TABLE IF EXISTS "{staging}"')
        if self.sqlite:
            self.conn.execute(f'CREATE TABLE "{staging}" AS SELECT * FROM "{table}" WHERE 0')  # noqa: S608
        else:
            self.conn.execute(f'CREATE UNLOGGED TABLE "{staging}" (LIKE "{table}")')
        self.commit()
        return staging

    def staging_move(self, staging: str, table: str, columns: Sequence[str], order_by: str) -> None:
        """Move the staged rows into `table` sorted by `order_by`, then drop the staging table."""
        quoted = ", ".join(f'"{c}"' for c in columns)
        if not self.sqlite:
            self.conn.execute("SET work_mem = '256MB'")
        self.conn.execute(
            f'INSERT INTO "{table}" ({quoted}) SELECT {quoted} FROM "{staging}" ORDER BY "{order_by}", "id"'  # noqa: S608
        )
        self.conn.execute(f'DROP TABLE "{staging}"')
        self.commit()

    def numbers_fill(self) -> None:
        """Each event's numeric properties into `EventNumber`, as the processor writes them, with the
        statement the migration that made the table fills it with."""
        migration = importlib.import_module("siyu.tracking.migrations.0006_event_numbers")
        if not self.sqlite:
            self.conn.execute("SET work_mem = '256MB'")
        self.conn.execute(migration.numbers_fill_sql("sqlite" if self.sqlite else "postgresql"))
        self.commit()

    def texts_fill(self) -> None:
        """Each event's short text properties into `EventText`, likewise."""
        migration = importlib.import_module("siyu.tracking.migrations.0008_event_texts")
        self.conn.execute(migration.texts_fill_sql("sqlite" if self.sqlite else "postgresql"))
        self.commit()

    def rebuild_indexes(self) -> None:
        if not self.sqlite:
            self.conn.commit()
            for table, name, definition in self.saved_constraints:
                self.conn.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
                self.conn.commit()
        for _name, statement in self.saved_indexes:
            self.conn.execute(statement)
            if not self.sqlite:
                self.conn.commit()
        self.commit()

    def write(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        quoted = ", ".join(f'"{c}"' for c in columns)
        if self.sqlite:
            marks = ", ".join("?" * len(columns))
            self.conn.executemany(f'INSERT INTO "{table}" ({quoted}) VALUES ({marks})', rows)  # noqa: S608
            return
        with self.conn.cursor() as cursor, cursor.copy(f'COPY "{table}" ({quoted}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)

    def commit(self) -> None:
        if self.sqlite:
            self.conn.execute("COMMIT")
            self.conn.execute("BEGIN")
        else:
            self.conn.commit()

    def close(self) -> None:
        if self.sqlite:
            self.conn.execute("COMMIT")
            self.conn.execute("PRAGMA journal_mode=WAL")
        else:
            self.conn.commit()
        self.conn.close()

    def analyze(self) -> None:
        if self.sqlite:
            conn = sqlite3.connect(sqlite_path(self.url), isolation_level=None)
            conn.execute("ANALYZE")
            conn.close()
            return
        with psycopg.connect(self.url, autocommit=True) as pg:
            pg.execute("VACUUM ANALYZE")


CONTACT_COLUMNS = (
    "id",
    "workspace_id",
    "name",
    "name_pinyin",
    "name_initials",
    "phone",
    "phone_reversed",
    "email",
    "gender",
    "birthday",
    "region",
    "city",
    "company",
    "notes",
    "owner_id",
    "channel_id",
    "stage",
    "custom",
    "created_at",
    "updated_at",
    "last_seen_at",
    "retained_30",
    "retained_60",
    "retained_90",
)
IDENTITY_COLUMNS = ("id", "workspace_id", "contact_id", "type", "namespace", "value", "created_at")
TAG_COLUMNS = ("id", "workspace_id", "contact_id", "tag_id", "created_at")
STAGE_COLUMNS = (
    "id",
    "workspace_id",
    "contact_id",
    "from_stage",
    "to_stage",
    "reason",
    "is_manual",
    "member_id",
    "changed_at",
)
EVENT_COLUMNS = (
    "id",
    "workspace_id",
    "source_id",
    "message_id",
    "type",
    "name",
    "contact_id",
    "anonymous_id",
    "user_id",
    "properties",
    "timestamp",
    "received_at",
)
EVENT_CONTEXT_COLUMNS = ("event_id", "workspace_id", "context")
ACTIVITY_COLUMNS = (
    "id",
    "workspace_id",
    "contact_id",
    "first_seen_at",
    "last_seen_at",
    "sessions",
    "page_views",
    "events",
    "active_dwell_ms",
    "content_views",
    "category_views",
    "orders",
    "revenue",
    "last_order_at",
    "first_touch_channel_id",
    "last_touch_channel_id",
    "first_touch",
    "last_touch",
    "last_event",
    "last_page_url",
)
PURCHASE_COLUMNS = (
    "id",
    "workspace_id",
    "order_no",
    "contact_id",
    "placed_at",
    "amount",
    "items",
    "channel_id",
    "origin",
    "message_id",
    "created_at",
)


def check_columns() -> None:
    """The column lists above are every column of their models (a new field must be generated too)."""
    from siyu.contacts.models import Contact, ContactTag, Identity, StageChange
    from siyu.tracking.models import ContactActivity, Event, EventContext, Purchase

    for model, columns in (
        (Contact, CONTACT_COLUMNS),
        (Identity, IDENTITY_COLUMNS),
        (ContactTag, TAG_COLUMNS),
        (StageChange, STAGE_COLUMNS),
        (Event, EVENT_COLUMNS),
        (EventContext, EVENT_CONTEXT_COLUMNS),
        (ContactActivity, ACTIVITY_COLUMNS),
        (Purchase, PURCHASE_COLUMNS),
    ):
        actual = {str(f.column) for f in model._meta.local_concrete_fields}
        if actual != set(columns):
            raise SystemExit(f"{model.__name__}: columns changed: {sorted(actual ^ set(columns))}")


# -- the generated workspace ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    name: str
    properties: str  # JSON
    context: str  # JSON
    url: str


def _context(url: str, path: str, title: str, campaign: dict[str, str] | None = None) -> str:
    context: dict[str, Any] = {
        "page": {"url": url, "path": path, "title": title, "referrer": "", "search": ""},
        "library": {"name": "siyu.js", "version": "1.0.0"},
        "locale": "zh-CN",
        "userAgent": USER_AGENT,
    }
    if campaign:
        context["campaign"] = campaign
    return orjson.dumps(context).decode()


def page_templates() -> list[Template]:
    pages = [("/", "华阳生活 · 首页"), ("/campaign/member-day", "会员日 | 全场满 299 减 50")]
    pages += [(f"/articles/{n}", f"{CATEGORIES[n % 6]}专栏 · 第 {n} 期") for n in range(1, 25)]
    pages += [(f"/product/{n}", f"{CATEGORIES[n % 6]}精选 {n:03d}") for n in range(1, 15)]
    result = []
    for path, title in pages:
        url = SITE + path
        props = orjson.dumps(
            {"url": url, "path": path, "title": title, "referrer": "", "search": ""}
        ).decode()
        result.append(Template(title, props, _context(url, path, title), url))
    return result


@dataclass(frozen=True)
class Article:
    article_id: str
    title: str
    category: str
    context: str


def articles() -> list[Article]:
    result = []
    for n in range(1, 61):
        category = CATEGORIES[n % len(CATEGORIES)]
        path = f"/articles/{n}"
        title = f"{category}干货：第 {n} 篇"
        result.append(Article(f"A{n:04d}", title, category, _context(SITE + path, path, title)))
    return result


@dataclass(frozen=True)
class Product:
    product_id: str
    name: str
    category: str
    price: float
    view_properties: str
    context: str


def products() -> list[Product]:
    rng = random.Random(5)
    result = []
    for n in range(1, 101):
        category = CATEGORIES[n % len(CATEGORIES)]
        price = float(rng.choice((49, 69, 99, 129, 159, 199, 259, 299, 399, 599, 899)))
        name = f"{category}好物 {n:03d}"
        props = orjson.dumps(
            {
                "product_id": f"SKU-{n:04d}",
                "name": name,
                "category": category,
                "price": price,
                "currency": "CNY",
            }
        ).decode()
        path = f"/product/{n}"
        result.append(
            Product(f"SKU-{n:04d}", name, category, price, props, _context(SITE + path, path, name))
        )
    return result


@dataclass
class Counts:
    contacts: int = 0
    identities: int = 0
    tags: int = 0
    stage_changes: int = 0
    events: int = 0
    activities: int = 0
    purchases: int = 0
    by_name: dict[str, int] = field(default_factory=dict)


@dataclass
class Plan:
    """Pass 1: each contact's creation time, stage and number of events (compact arrays)."""

    created: array[float]
    stages: array[int]
    events: array[int]


def plan_contacts(*, contacts: int, events: int, now: float, days: int, seed: int) -> Plan:
    rng = random.Random(f"{seed}-plan")
    span = 730 * 86400
    created = array("d", sorted(now - span * (rng.random() ** 1.35) - 60 for _ in range(contacts)))
    cumulative = list(_cumulative(share for _s, share, _f, _a in STAGES))
    stages = array("b", (_pick(cumulative, rng.random()) for _ in range(contacts)))
    weights = array("d", bytes(8 * contacts))
    total = 0.0
    for i in range(contacts):
        _name, _share, factor, active = STAGES[stages[i]]
        if rng.random() < active:
            weight = rng.lognormvariate(0.0, 1.1) * factor
            weights[i] = weight
            total += weight
    scale = events / total if total else 0.0
    counts = array("l", bytes(8 * contacts))
    assigned = 0
    active_ids = []
    for i in range(contacts):
        if weights[i]:
            n = min(20_000, int(weights[i] * scale))
            counts[i] = n
            assigned += n
            active_ids.append(i)
    remainder = events - assigned
    while remainder > 0 and active_ids:
        for i in rng.sample(active_ids, min(remainder, len(active_ids))):
            counts[i] += 1
        remainder = events - sum(counts)
    return Plan(created=created, stages=stages, events=counts)


def _cumulative(shares: Iterator[float]) -> Iterator[float]:
    total = 0.0
    for share in shares:
        total += share
        yield total


def _pick(cumulative: Sequence[float], roll: float) -> int:
    for index, bound in enumerate(cumulative):
        if roll < bound:
            return index
    return len(cumulative) - 1


class Generator:
    def __init__(self, *, ws: Workspace, plan: Plan, now: float, days: int, seed: int, sqlite: bool) -> None:
        from siyu.contacts.cleaning import name_search_keys

        self.ws, self.plan, self.now, self.days, self.seed = ws, plan, now, days, seed
        self.name_keys: Callable[[str], tuple[str, str]] = name_search_keys
        self.time = Times(sqlite)
        self.pages = page_templates()
        self.articles = articles()
        self.products = products()
        self.city_cumulative = list(_cumulative(float(w) for _c, _p, w in CITIES))
        self.channel_cumulative = list(_cumulative(float(s) for _i, _c, s in ws.channels))
        self.all_tags = [t for group, ids in ws.tags.items() if group != "客户价值" for t in ids]
        self.tag_weights = list(_cumulative(1.0 / (rank + 1) ** 0.8 for rank in range(len(self.all_tags))))
        self.order_seq = 0
        self.counts = Counts()
        self.contact_ids = Ids(random.Random(f"{seed}-contact-ids"))
        self.ids = Ids(random.Random(f"{seed}-ids"))
        self.event_ids = Ids(random.Random(f"{seed}-event-ids"))
        self.event_ids.ms = int(now * 1000) - 86400_000  # events were stored as they arrived, before now
        self.bool_false: Any = 0 if sqlite else False
        self.bool_true: Any = 1 if sqlite else True

    def chunk(self, start: int, stop: int) -> dict[str, list[tuple[Any, ...]]]:
        rng = random.Random(f"{self.seed}-chunk-{start}")
        out: dict[str, list[tuple[Any, ...]]] = {
            name: []
            for name in (
                "contacts",
                "identities",
                "tags",
                "stages",
                "events",
                "event_contexts",
                "activities",
                "purchases",
            )
        }
        for index in range(start, stop):
            self._contact(index, rng, out)
        return out

    def _contact(self, index: int, rng: random.Random, out: dict[str, list[tuple[Any, ...]]]) -> None:
        ws = self.ws
        t = self.time
        created = self.plan.created[index]
        stage_index = self.plan.stages[index]
        stage = STAGES[stage_index][0]
        contact_int = self.contact_ids.at(int(created * 1000))
        cid = hex_id(contact_int)
        created_text = t(created)
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
        pinyin, initials = self.name_keys(name)
        phone = ""
        if rng.random() < 0.95:
            phone = f"+86{rng.choice(PREFIXES)}{index:08d}"
        email = f"u{index}@{rng.choice(MAIL_DOMAINS)}" if rng.random() < 0.25 else ""
        roll = rng.random()
        gender = "female" if roll < 0.58 else "male" if roll < 0.9 else ""
        birthday = None
        if rng.random() < 0.8:
            birthday = (date(1965, 1, 1) + timedelta(days=rng.randrange(14600))).isoformat()
        city, region, _w = CITIES[_pick(self.city_cumulative, rng.random() * self.city_cumulative[-1])]
        company = rng.choice(COMPANIES) if rng.random() < 0.15 else ""
        owner = rng.choice(ws.owners) if rng.random() < 0.7 else None
        channel: tuple[str, str, int] | None = None
        if rng.random() < 0.85:
            channel = ws.channels[_pick(self.channel_cumulative, rng.random() * self.channel_cumulative[-1])]
        custom: dict[str, Any] = {}
        if rng.random() < 0.6:
            custom["level"] = LEVELS[min(3, int(rng.expovariate(1.2)))]
        if rng.random() < 0.4:
            custom["budget"] = rng.randrange(5, 200) * 100
        if rng.random() < 0.3:
            custom["first_visit"] = (
                datetime.fromtimestamp(created, UTC).date() + timedelta(days=rng.randrange(60))
            ).isoformat()
        if rng.random() < 0.5:
            custom["skin"] = rng.choice(SKINS)

        # identities, tags, stage history
        identities = out["identities"]
        anonymous_id = ""
        n_events = self.plan.events[index]
        if phone:
            identities.append(
                (
                    hex_id(self.ids.at(int(created * 1000))),
                    ws.workspace_id,
                    cid,
                    "phone",
                    "",
                    phone,
                    created_text,
                )
            )
        if email:
            identities.append(
                (
                    hex_id(self.ids.at(int(created * 1000))),
                    ws.workspace_id,
                    cid,
                    "email",
                    "",
                    email,
                    created_text,
                )
            )
        if n_events:
            anonymous_id = dashed(rng.getrandbits(128))
            identities.append(
                (
                    hex_id(self.ids.at(int(created * 1000))),
                    ws.workspace_id,
                    cid,
                    "anonymous_id",
                    "",
                    anonymous_id,
                    created_text,
                )
            )
        if rng.random() < 0.35:
            unionid = "o6_bm" + "".join(
                rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
                for _ in range(23)
            )
            identities.append(
                (
                    hex_id(self.ids.at(int(created * 1000))),
                    ws.workspace_id,
                    cid,
                    "wechat_unionid",
                    "",
                    unionid,
                    created_text,
                )
            )
        if rng.random() < 0.2:
            external = "wm" + f"{rng.getrandbits(120):030x}"
            identities.append(
                (
                    hex_id(self.ids.at(int(created * 1000))),
                    ws.workspace_id,
                    cid,
                    "wecom_external_userid",
                    "ww_bench_corp",
                    external,
                    created_text,
                )
            )
        if rng.random() < 0.3:
            roll = rng.random()
            wanted = 1 if roll < 0.55 else 2 if roll < 0.85 else 3
            chosen: set[str] = set()
            while len(chosen) < wanted:
                chosen.add(self.all_tags[_pick(self.tag_weights, rng.random() * self.tag_weights[-1])])
            if rng.random() < 0.4:
                value_tags = ws.tags["客户价值"]
                chosen.add(
                    value_tags[2 - min(2, stage_index // 2)] if rng.random() < 0.7 else rng.choice(value_tags)
                )
            for tag_id in sorted(chosen):
                out["tags"].append(
                    (hex_id(self.ids.at(int(created * 1000))), ws.workspace_id, cid, tag_id, created_text)
                )
        out["stages"].append(
            (
                hex_id(self.ids.at(int(created * 1000))),
                ws.workspace_id,
                cid,
                "",
                stage,
                "导入",
                self.bool_false,
                None,
                created_text,
            )
        )

        last_seen = None
        retained: set[int] = set()
        if n_events:
            last_seen, retained = self._events(
                cid, anonymous_id, created, stage_index, channel, n_events, rng, out
            )
        out["contacts"].append(
            (
                cid,
                ws.workspace_id,
                name,
                pinyin,
                initials,
                phone,
                "".join(filter(str.isdigit, phone))[::-1],
                email,
                gender,
                birthday,
                region,
                city,
                company,
                "",
                owner,
                channel[0] if channel else None,
                stage,
                orjson.dumps(custom).decode(),
                created_text,
                t(last_seen) if last_seen and last_seen > created else created_text,
                t(last_seen) if last_seen else None,
                *(self.bool_true if days in retained else self.bool_false for days in RETENTION_DAYS),
            )
        )

    def _events(
        self,
        cid: str,
        anonymous_id: str,
        created: float,
        stage_index: int,
        channel: tuple[str, str, int] | None,
        n: int,
        rng: random.Random,
        out: dict[str, list[tuple[Any, ...]]],
    ) -> tuple[float, set[int]]:
        """The contact's events, purchases and counters into `out`; returns when it was last seen and
        the retention windows (30, 60, 90 days) it was active in, as the event processor sets them."""
        ws, t = self.ws, self.time
        now = self.now
        low = max(created + 1, now - self.days * 86400)
        high = now - 120
        if low >= high:
            low = high - 60
        per_session = rng.uniform(2.0, 6.0)
        sessions = max(1, min(n, round(n / per_session)))
        starts = sorted(rng.uniform(low, high) for _ in range(sessions))
        sizes = [1] * sessions
        for _ in range(n - sessions):
            sizes[int(rng.random() * sessions)] += 1
        orders = 0
        if stage_index in BUYER_STAGES and rng.random() < 0.8:
            orders = min(sessions, 1 + int(rng.expovariate(0.8)))
        order_sessions = set(rng.sample(range(sessions), orders)) if orders else set()

        events, contexts = out["events"], out["event_contexts"]
        first_seen = last_seen = 0.0
        retained: set[int] = set()
        sessions_counted = page_views = dwell_ms = orders_count = 0
        revenue = 0
        last_order_at: float | None = None
        last_event = ""
        last_page_url = ""
        first_touch = ""
        first_channel = channel[0] if channel else None
        source_id = ws.source_id
        workspace_id = ws.workspace_id
        by_name = self.counts.by_name
        for s in range(sessions):
            moment = max(starts[s], last_seen + rng.uniform(60, 600))  # sessions never overlap
            size = sizes[s]
            for k in range(size):
                if k:
                    moment += 4 + 146 * rng.random()
                moment = min(moment, now - 1)
                if moment - last_seen > SESSION_TIMEOUT:
                    sessions_counted += 1
                if not first_seen:
                    first_seen = moment
                last_seen = max(last_seen, moment)
                retained.update(
                    days
                    for days in RETENTION_DAYS
                    if (days - 29) * 86400 <= moment - created < (days + 1) * 86400
                )
                stamp = t(moment)
                received = t(moment + 0.05 + 2.45 * rng.random())
                event_int = self.event_ids.at(self.event_ids.ms)
                is_order = k == size - 1 and s in order_sessions
                if k == 0 or (not is_order and rng.random() < 0.3):
                    page = self.pages[int(rng.random() * len(self.pages))]
                    kind, name = "page", page.name
                    properties, context = page.properties, page.context
                    if not first_touch:
                        campaign = (
                            {
                                "source": channel[1],
                                "medium": "cpc" if channel[1].endswith("ad") else "social",
                                "name": "always-on",
                            }
                            if channel
                            else None
                        )
                        if campaign:
                            context = _context(page.url, page.url.removeprefix(SITE), page.name, campaign)
                        first_touch = orjson.dumps(
                            {
                                "source_id": _dashed_hex(source_id),
                                "channel": channel[1] if channel else "",
                                "campaign": campaign or {},
                                "referrer": "",
                                "url": page.url,
                                "at": datetime.fromtimestamp(moment, UTC).isoformat(),
                            }
                        ).decode()
                    page_views += 1
                    last_page_url = page.url
                elif is_order:
                    kind, name = "track", "Order Completed"
                    self.order_seq += 1
                    order_no = f"SO{self.order_seq:010d}"
                    picked = rng.sample(self.products, 1 + int(rng.random() < 0.35) + int(rng.random() < 0.1))
                    items = []
                    total = 0
                    for product in picked:
                        quantity = 1 + int(rng.random() < 0.2)
                        items.append(
                            {
                                "product_id": product.product_id,
                                "name": product.name,
                                "price": product.price,
                                "quantity": quantity,
                            }
                        )
                        total += int(product.price * 100) * quantity
                    amount = f"{total // 100}.{total % 100:02d}"
                    properties = orjson.dumps(
                        {"order_id": order_no, "revenue": total / 100, "currency": "CNY", "products": items}
                    ).decode()
                    context = picked[0].context
                    out["purchases"].append(
                        (
                            hex_id(event_int),
                            workspace_id,
                            order_no,
                            cid,
                            stamp,
                            amount,
                            orjson.dumps(items).decode(),
                            None,
                            "event",
                            dashed(event_int),
                            received,
                        )
                    )
                    orders_count += 1
                    revenue += total
                    last_order_at = moment if last_order_at is None else max(last_order_at, moment)
                else:
                    roll = rng.random()
                    if roll < 0.36:
                        article = self.articles[int(rng.random() * len(self.articles))]
                        kind, name = "track", "Article Read"
                        properties = (
                            f'{{"article_id":"{article.article_id}","title":"{article.title}",'
                            f'"category":"{article.category}","dwell_seconds":{int(rng.expovariate(1 / 40)) + 3},'
                            f'"read_percent":{10 + int(rng.random() * 91)}}}'
                        )
                        context = article.context
                    elif roll < 0.6:
                        page = self.pages[int(rng.random() * len(self.pages))]
                        kind, name = "track", "Page Left"
                        delta = min(MAX_DWELL_DELTA_MS, int(rng.expovariate(1 / 30000)) + 500)
                        dwell_ms += delta
                        properties = (
                            f'{{"url":"{page.url}","title":"{page.name}","active_dwell_ms":{delta},'
                            f'"dwell_delta_ms":{delta},"scroll_depth":{int(rng.random() * 101)}}}'
                        )
                        context = page.context
                    else:
                        product = self.products[int(rng.random() * len(self.products))]
                        kind, name = "track", "Product Viewed"
                        properties, context = product.view_properties, product.context
                by_name[name if kind == "track" else "(page)"] = (
                    by_name.get(name if kind == "track" else "(page)", 0) + 1
                )
                last_event = name or kind
                events.append(
                    (
                        hex_id(event_int),
                        workspace_id,
                        source_id,
                        dashed(event_int),
                        kind,
                        name,
                        cid,
                        anonymous_id,
                        "",
                        properties,
                        stamp,
                        received,
                    )
                )
                contexts.append((hex_id(event_int), workspace_id, context))
        out["activities"].append(
            (
                hex_id(self.ids.at(self.ids.ms)),
                workspace_id,
                cid,
                t(first_seen),
                t(last_seen),
                sessions_counted,
                page_views,
                n,
                dwell_ms,
                0,
                "{}",
                orders_count,
                f"{revenue // 100}.{revenue % 100:02d}",
                t(last_order_at) if last_order_at is not None else None,
                first_channel,
                first_channel,
                first_touch or "{}",
                first_touch or "{}",
                last_event[:200],
                last_page_url,
            )
        )
        return last_seen, retained


def _dashed_hex(value: str) -> str:
    return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"


# -- the run ------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", required=True, help="sqlite:////path/file.sqlite3 or postgres://…/name"
    )
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=180, help="events spread over the last N days")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--force", action="store_true", help="wipe the WHOLE database first (scratch only)")
    args = parser.parse_args()
    url = args.database_url
    started = time.perf_counter()
    prepare_database(url, force=args.force)
    django_setup(url)
    from django.core.management import call_command
    from django.db import connection

    say("migrating …")
    call_command("migrate", verbosity=0, interactive=False)
    check_columns()
    now_dt = datetime.now(UTC)
    now = now_dt.timestamp()
    ws = setup_workspace(now=now_dt)
    connection.close()
    setup_seconds = time.perf_counter() - started
    say(f"workspace made in {setup_seconds:.1f} s; planning {args.contacts:,} contacts …")

    plan = plan_contacts(contacts=args.contacts, events=args.events, now=now, days=args.days, seed=args.seed)
    generator = Generator(ws=ws, plan=plan, now=now, days=args.days, seed=args.seed, sqlite=is_sqlite(url))
    sink = Sink(url)
    sink.drop_indexes(BULK_TABLES)
    load_started = time.perf_counter()
    tables: tuple[tuple[str, str, Sequence[str]], ...] = (
        ("contacts", "contacts_contact", CONTACT_COLUMNS),
        ("identities", "contacts_identity", IDENTITY_COLUMNS),
        ("tags", "contacts_contacttag", TAG_COLUMNS),
        ("stages", "contacts_stagechange", STAGE_COLUMNS),
        ("events", "tracking_event", EVENT_COLUMNS),
        ("event_contexts", "tracking_eventcontext", EVENT_CONTEXT_COLUMNS),
        ("activities", "tracking_contactactivity", ACTIVITY_COLUMNS),
        ("purchases", "tracking_purchase", PURCHASE_COLUMNS),
    )
    counts = generator.counts
    write_seconds = 0.0
    # Events are generated contact by contact, but a live workspace stores them as they arrive: they
    # are staged and moved into the events table in order of arrival, so that a time window reads a
    # stretch of the table as it would in production, not rows scattered over all of it.
    events_staging = sink.staging_create("tracking_event")
    tables = tuple(
        (key, events_staging if key == "events" else table, columns) for key, table, columns in tables
    )
    for start in range(0, args.contacts, CHUNK_CONTACTS):
        stop = min(args.contacts, start + CHUNK_CONTACTS)
        rows = generator.chunk(start, stop)
        before = time.perf_counter()
        for key, table, columns in tables:
            sink.write(table, columns, rows[key])
        sink.commit()
        write_seconds += time.perf_counter() - before
        counts.contacts += len(rows["contacts"])
        counts.identities += len(rows["identities"])
        counts.tags += len(rows["tags"])
        counts.stage_changes += len(rows["stages"])
        counts.events += len(rows["events"])
        counts.activities += len(rows["activities"])
        counts.purchases += len(rows["purchases"])
        if (stop // CHUNK_CONTACTS) % 10 == 0 or stop == args.contacts:
            elapsed = time.perf_counter() - load_started
            say(
                f"  {stop:,} contacts, {counts.events:,} events in {elapsed:.0f} s "
                f"(writing {write_seconds:.0f} s; peak RSS {peak_rss_mb():,.0f} MB)"
            )
    say("events into arrival order …")
    order_started = time.perf_counter()
    sink.staging_move(events_staging, "tracking_event", EVENT_COLUMNS, order_by="received_at")
    order_seconds = time.perf_counter() - order_started
    say("event numbers and texts …")
    numbers_started = time.perf_counter()
    sink.numbers_fill()
    sink.texts_fill()
    numbers_seconds = time.perf_counter() - numbers_started
    load_seconds = time.perf_counter() - load_started
    say("rebuilding indexes …")
    index_started = time.perf_counter()
    sink.rebuild_indexes()
    sink.close()
    index_seconds = time.perf_counter() - index_started
    say("ANALYZE …")
    analyze_started = time.perf_counter()
    sink.analyze()
    analyze_seconds = time.perf_counter() - analyze_started

    from siyu.core.tenancy import workspace_scope
    from siyu.segments.services.rfm import rfm_refresh

    rfm_started = time.perf_counter()
    with workspace_scope(ws.workspace_id):
        settings = rfm_refresh()
    rfm_seconds = time.perf_counter() - rfm_started
    total = time.perf_counter() - started
    size = _database_size(url)
    print(
        orjson.dumps(
            {
                "database": "SQLite" if is_sqlite(url) else "PostgreSQL",
                "contacts": counts.contacts,
                "identities": counts.identities,
                "contact_tags": counts.tags,
                "stage_changes": counts.stage_changes,
                "events": counts.events,
                "events_by_name": counts.by_name,
                "activities": counts.activities,
                "purchases": counts.purchases,
                "members": ws.member_count,
                "teams": ws.team_count,
                "channels": len(ws.channels),
                "seconds": {
                    "setup": round(setup_seconds, 1),
                    "rows": round(load_seconds, 1),
                    "rows_writing": round(write_seconds, 1),
                    "events_ordering": round(order_seconds, 1),
                    "event_numbers_and_texts": round(numbers_seconds, 1),
                    "indexes": round(index_seconds, 1),
                    "analyze": round(analyze_seconds, 1),
                    "rfm": round(rfm_seconds, 1),
                    "total": round(total, 1),
                },
                "rfm_cuts": {
                    "recency": settings.recency_cuts,
                    "frequency": settings.frequency_cuts,
                    "monetary": settings.monetary_cuts,
                },
                "database_bytes": size,
                "peak_rss_mb": round(peak_rss_mb()),
            },
            option=orjson.OPT_INDENT_2,
        ).decode()
    )


def _database_size(url: str) -> int:
    if is_sqlite(url):
        return sum(
            Path(f"{sqlite_path(url)}{s}").stat().st_size
            for s in ("", "-wal")
            if Path(f"{sqlite_path(url)}{s}").exists()
        )
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        return int(row[0]) if row else 0


if __name__ == "__main__":
    main()
