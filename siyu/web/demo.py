"""The demo workspace: 花漾美妆, a cosmetics e-commerce brand, with about a year of believable history.

Everything comes from one seeded random source, so two runs on the same day give the same data.
The setup (workspace, teams, members, channels, tags, custom fields) goes through the services and
is reused on a refresh. Contacts and their history are wiped and generated again on every run, with
dates relative to today, so the sales reps always find follow-ups due today and overdue.

Contacts are written by `contacts_upsert`, the batch engine behind import and the API, so every demo
row passes the same cleaning rules as real data. Their past (stage paths, follow-ups, timeline) is
bulk-inserted through the tenant managers and backdated: no service writes history in the past, and
a demo of a CRM without history shows nothing.
"""

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

import phonenumbers
from django.db import connections, models, router, transaction

from siyu.contacts.cleaning import name_search_keys
from siyu.contacts.models import (
    STAGE_ORDER,
    ChannelKind,
    Contact,
    FieldType,
    FollowUp,
    FollowUpKind,
    Stage,
    StageChange,
    TimelineEntry,
    TimelineKind,
)
from siyu.contacts.selectors import channel_list, custom_field_list, tag_group_list
from siyu.contacts.services import (
    UpsertKey,
    channel_create,
    contact_statistics_refresh,
    contacts_upsert,
    custom_field_create,
    tag_create,
    tag_group_create,
)
from siyu.core.errors import NotFound
from siyu.core.ids import uuid7
from siyu.core.tenancy import active_workspace_id, workspace_scope
from siyu.core.time import now, today
from siyu.tenancy.actor import Actor
from siyu.tenancy.models import Member, Team, Workspace
from siyu.tenancy.roles import Role
from siyu.tenancy.selectors import actor_for_member, member_list, team_list, workspace_get_by_slug
from siyu.tenancy.services import (
    member_create,
    member_update,
    team_create,
    user_get_or_create,
    workspace_create,
)
from siyu.web.demo_segments import demo_segments_load
from siyu.web.demo_tracking import demo_tracking_load

DEMO_SLUG = "demo"
DEMO_NAME = "花漾美妆"
DEMO_PASSWORD = "huayang-demo-2025"  # noqa: S105 - printed for everyone to use
DEMO_SEED = 20250618
DEMO_CONTACTS = 5000
DEMO_SOURCE = "demo"
WECHAT_APP_ID = "wx5f1c8a9d3e2b7460"  # the brand's official account, namespace of its openids
BATCH = 1000  # contacts per upsert call and per transaction
DUE_TODAY_PER_REP = 5
OVERDUE_PER_REP = 4
_M = TypeVar("_M", bound=models.Model)


@dataclass(frozen=True)
class MemberSpec:
    username: str
    display_name: str
    role: Role
    team: str  # "" for none


ROOT_TEAM = "销售部"
EAST_TEAM = "华东销售组"
SOUTH_TEAM = "华南销售组"
MEMBERS = (
    MemberSpec("demo-admin", "林晓雯", Role.OWNER, ""),
    MemberSpec("demo-manager", "周建华", Role.MANAGER, EAST_TEAM),
    MemberSpec("demo-sales1", "王丽娜", Role.SALES, EAST_TEAM),
    MemberSpec("demo-sales2", "陈思远", Role.SALES, SOUTH_TEAM),
    MemberSpec("demo-service", "赵雨桐", Role.SERVICE, ROOT_TEAM),
    MemberSpec("demo-marketing", "孙佳琪", Role.MARKETING, ""),
)

# (code, name, kind, weight)
CHANNELS = (
    ("wechat-article", "公众号文章", ChannelKind.ARTICLE, 25),
    ("moments-ad", "朋友圈广告", ChannelKind.SOCIAL_AD, 20),
    ("store", "门店", ChannelKind.STORE, 20),
    ("referral", "老带新", ChannelKind.REFERRAL, 15),
    ("feed-ad", "信息流广告", ChannelKind.FEED_AD, 20),
)

# (group, single choice, [(tag, colour)])
TAG_GROUPS = (
    ("肤质", True, (("干性", "orange"), ("油性", "yellow"), ("混合", "teal"), ("敏感", "red"))),
    (
        "兴趣",
        False,
        (("美白", "azure"), ("抗老", "purple"), ("保湿", "cyan"), ("彩妆", "pink"), ("防晒", "lime")),
    ),
    ("客户价值", True, (("高价值", "red"), ("潜力客户", "green"), ("沉睡客户", "secondary"))),
)

MEMBER_LEVELS = ("普通会员", "银卡会员", "金卡会员", "钻石会员")
STORES = ("上海南京西路店", "杭州湖滨银泰店", "南京德基广场店", "广州天河城店", "深圳万象城店")
# (key, label, type, options)
CUSTOM_FIELDS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("member_level", "会员等级", FieldType.SELECT, MEMBER_LEVELS),
    ("total_spent", "累计消费", FieldType.NUMBER, ()),
    ("preferred_store", "偏好门店", FieldType.TEXT, ()),
    ("subscribed", "是否订阅", FieldType.BOOLEAN, ()),
)

# The most common surnames with their approximate share (per cent) of the population.
SURNAMES = (
    ("王", 7.2), ("李", 7.2), ("张", 6.8), ("刘", 5.4), ("陈", 4.5), ("杨", 3.1), ("黄", 2.2),
    ("赵", 2.3), ("吴", 2.1), ("周", 2.0), ("徐", 1.6), ("孙", 1.5), ("马", 1.5), ("朱", 1.4),
    ("胡", 1.3), ("郭", 1.2), ("何", 1.2), ("林", 1.1), ("高", 1.1), ("罗", 1.1), ("郑", 1.0),
    ("梁", 1.0), ("谢", 0.9), ("宋", 0.8), ("唐", 0.8), ("许", 0.8), ("韩", 0.7), ("冯", 0.7),
    ("邓", 0.7), ("曹", 0.7), ("彭", 0.7), ("曾", 0.6), ("肖", 0.6), ("田", 0.6), ("董", 0.5),
    ("袁", 0.5), ("潘", 0.5), ("于", 0.5), ("蒋", 0.5), ("蔡", 0.5), ("余", 0.5), ("杜", 0.5),
    ("叶", 0.5), ("程", 0.4), ("苏", 0.4), ("魏", 0.4), ("吕", 0.4), ("丁", 0.4), ("任", 0.4),
    ("沈", 0.4), ("姚", 0.4), ("卢", 0.4), ("姜", 0.3), ("崔", 0.3), ("钟", 0.3), ("谭", 0.3),
    ("陆", 0.3), ("汪", 0.3), ("范", 0.3), ("金", 0.3), ("石", 0.3), ("廖", 0.3), ("贾", 0.3),
    ("夏", 0.3), ("韦", 0.3), ("方", 0.2), ("白", 0.2), ("邹", 0.2), ("孟", 0.2), ("熊", 0.2),
    ("秦", 0.2), ("邱", 0.2), ("江", 0.2), ("尹", 0.2), ("薛", 0.2), ("段", 0.2), ("雷", 0.2),
    ("侯", 0.2), ("龙", 0.2), ("史", 0.2), ("陶", 0.2), ("黎", 0.2), ("贺", 0.2), ("顾", 0.2),
    ("毛", 0.2), ("郝", 0.2), ("龚", 0.2), ("邵", 0.2), ("万", 0.2), ("钱", 0.2), ("严", 0.2),
    ("欧阳", 0.05), ("上官", 0.02), ("司马", 0.02),
)  # fmt: skip
FEMALE_CHARACTERS = (
    "静丽敏婷雪琳娜颖欣怡佳悦雨萱梓涵诗晓慧倩芳燕玲艳琪瑶思若可馨嘉月桐妍璐菲彤蕾薇楠丹洁莹雯冰霞梦媛蓉"
)
MALE_CHARACTERS = "伟强磊军洋勇杰涛斌超明刚平辉鹏浩宇轩俊博文昊晨峰建志海东凯睿哲"

# (province, city, weight, area) — the brand sells mostly in East and South China.
PLACES = (
    ("上海", "上海", 16, "east"), ("浙江", "杭州", 10, "east"), ("浙江", "宁波", 4, "east"),
    ("江苏", "南京", 7, "east"), ("江苏", "苏州", 6, "east"), ("江苏", "无锡", 3, "east"),
    ("安徽", "合肥", 3, "east"), ("山东", "青岛", 3, "east"), ("福建", "厦门", 3, "east"),
    ("广东", "广州", 10, "south"), ("广东", "深圳", 10, "south"), ("广东", "佛山", 3, "south"),
    ("广东", "东莞", 3, "south"), ("广西", "南宁", 2, "south"), ("海南", "海口", 1, "south"),
    ("北京", "北京", 6, "other"), ("四川", "成都", 4, "other"), ("湖北", "武汉", 3, "other"),
    ("湖南", "长沙", 3, "other"), ("重庆", "重庆", 2, "other"), ("陕西", "西安", 2, "other"),
)  # fmt: skip
MOBILE_PREFIXES = tuple(
    f"1{n}"
    for n in (
        *range(30, 40),
        50,
        51,
        52,
        53,
        55,
        56,
        57,
        58,
        59,
        66,
        73,
        75,
        76,
        77,
        78,
        *range(80, 90),
        91,
        93,
        95,
        98,
        99,
    )
)
EMAIL_DOMAINS = (("163.com", 30), ("126.com", 12), ("qq.com", 35), ("sina.com", 5), ("outlook.com", 10))
COMPANY_WORDS = "星禾云悦锦沐合诚嘉宏盛源"
COMPANY_TRADES = ("科技", "文化传媒", "贸易", "网络", "教育咨询", "电子商务", "设计", "餐饮管理")
NOTES = (
    "敏感肌，偏好无香精配方",
    "双十一囤货型客户，关注满减",
    "喜欢小样试用，转化周期长",
    "在小红书种草后来咨询",
    "给妈妈买抗老套装",
    "对价格敏感，等活动再下单",
    "门店体验过水光精华",
    "朋友推荐来的，信任度高",
    "咨询过祛痘产品，需要跟进效果",
    "公司团购联系人",
)
# (stage, weight, chance of being in the public pool, reason for reaching it)
STAGES = (
    (Stage.VISITOR, 18, 0.5, "首次访问商城"),
    (Stage.ENGAGED, 17, 0.35, "领取新人试用装"),
    (Stage.FOLLOWER, 22, 0.2, "关注公众号"),
    (Stage.FRIEND, 18, 0.05, "添加企业微信好友"),
    (Stage.CUSTOMER, 16, 0.03, "首次下单"),
    (Stage.MEMBER, 9, 0.0, "开通会员"),
)
FOLLOW_UP_KINDS = (
    (FollowUpKind.WECHAT, 45),
    (FollowUpKind.CALL, 25),
    (FollowUpKind.NOTE, 15),
    (FollowUpKind.VISIT, 10),
    (FollowUpKind.EMAIL, 5),
)
FOLLOW_UP_TEXTS = {
    FollowUpKind.WECHAT: (
        "微信发了新品精华的试用反馈问卷，客户说用了一周肤色更亮",
        "推送了618会员专享券，客户说晚上下单",
        "客户咨询敏感肌能不能用水杨酸，推荐了修护系列",
        "发了防晒新品视频，客户有兴趣，约下周再聊",
        "回访上次购买的面霜，客户反馈很滋润，想买大瓶装",
    ),
    FollowUpKind.CALL: (
        "电话回访：物流已签收，客户满意，顺便介绍了会员积分",
        "电话沟通换购活动，客户想等周年庆",
        "打电话确认地址变更，客户顺便问了眼霜",
    ),
    FollowUpKind.NOTE: (
        "客户在朋友圈点赞了新品海报，下次可以推送试用",
        "客户提到皮肤换季干燥，适合推荐保湿套装",
    ),
    FollowUpKind.VISIT: (
        "门店到访：做了皮肤检测，试用了水光精华",
        "门店到访：参加了彩妆沙龙，买了口红礼盒",
    ),
    FollowUpKind.EMAIL: ("邮件发送了企业团购报价单",),
}
# What the last follow-up said when it set a date to follow up again.
NEXT_STEP_TEXTS = {
    FollowUpKind.WECHAT: (
        "客户说月底发工资再下单，约好到时提醒她用会员券",
        "试用装已寄出，约好一周后问问使用感受",
        "客户在比较两款防晒，答应整理一份对比发给她",
        "客户想给妈妈买抗老套装，等她确认预算后再联系",
    ),
    FollowUpKind.CALL: (
        "电话里客户说最近出差，约好回来后再聊会员升级",
        "客户对周年庆活动感兴趣，活动上线当天电话通知",
    ),
    FollowUpKind.VISIT: ("门店做了皮肤检测，约好两周后回店复测",),
    FollowUpKind.NOTE: ("客户生日快到了，记得发生日礼券",),
    FollowUpKind.EMAIL: ("团购报价已发，等对方采购回复",),
}
SERVICE_TEXTS = (
    "咨询快递进度，已催促仓库发货",
    "申请退换货，已登记并告知流程",
    "询问正品查询方式，已发防伪指引",
)


@dataclass
class DemoSummary:
    workspace: Workspace
    logins: list[tuple[str, str, str]]  # (username, display name, role label)
    password: str
    contacts: int
    events: int
    seconds: float


@dataclass
class _FollowUpPlan:
    author: Member
    kind: str
    content: str
    at: datetime
    next_on: date | None = None


@dataclass
class _ContactPlan:
    row: dict[str, Any]
    created_at: datetime
    stage_rank: int
    owner: Member | None
    tags: list[str]
    last_seen_at: datetime | None = None
    follow_ups: list[_FollowUpPlan] = field(default_factory=list)


def demo_load(
    *, contacts: int = DEMO_CONTACTS, seed: int = DEMO_SEED, password: str = DEMO_PASSWORD
) -> DemoSummary:
    """Create the demo workspace, or refresh it: running it again never duplicates anything."""
    started = time.monotonic()
    workspace = _workspace(password=password)
    with workspace_scope(workspace.id):
        with transaction.atomic():
            members = _members(password=password)
            actor = actor_for_member(member=members["demo-admin"])
            _setup(actor=actor)
        rng = random.Random(seed)  # noqa: S311 - reproducible fake data, not secrets
        plans = _plans(rng=rng, members=members, count=contacts)
        _contacts_replace(actor=actor, plans=plans, rng=rng)
        events = demo_tracking_load(actor=actor, members=members, rng=rng)
        demo_segments_load(actor=actor)
    contact_statistics_refresh()
    return DemoSummary(
        workspace=workspace,
        logins=[(m.username, m.display_name, str(Role(m.role).label)) for m in MEMBERS],
        password=password,
        contacts=len(plans),
        events=events,
        seconds=time.monotonic() - started,
    )


# Setup: through the services, reused on a refresh.


def _workspace(*, password: str) -> Workspace:
    owner = MEMBERS[0]
    user = user_get_or_create(username=owner.username, password=password)
    try:
        return workspace_get_by_slug(slug=DEMO_SLUG)
    except NotFound:
        return workspace_create(name=DEMO_NAME, slug=DEMO_SLUG, owner=user, owner_name=owner.display_name)


def _members(*, password: str) -> dict[str, Member]:
    existing = {m.user.username: m for m in member_list(active_only=False)}
    owner = existing.get(MEMBERS[0].username)
    if owner is None or owner.role != Role.OWNER:
        raise RuntimeError(
            f"The workspace “{DEMO_SLUG}” exists but {MEMBERS[0].username} is not its owner; "
            "it is not the demo workspace, so the demo leaves it alone."
        )
    owner_actor = actor_for_member(member=owner)
    teams = _teams(actor=owner_actor)
    members: dict[str, Member] = {}
    for spec in MEMBERS:
        team = teams.get(spec.team)
        member = existing.get(spec.username)
        if member is None:
            member = member_create(
                actor=owner_actor,
                username=spec.username,
                display_name=spec.display_name,
                role=spec.role,
                team=team,
                password=password,
            )
        else:
            user_get_or_create(username=spec.username, password=password)  # the demo password, again
            if (member.role, member.team_id, member.display_name) != (
                spec.role,
                team.id if team else None,
                spec.display_name,
            ):
                member = member_update(
                    actor=owner_actor,
                    member=member,
                    role=spec.role,
                    team=team,
                    display_name=spec.display_name,
                )
        members[spec.username] = member
    return members


def _teams(*, actor: Actor) -> dict[str, Team]:
    known = {(t.name, t.parent_id): t for t in team_list()}
    root = known.get((ROOT_TEAM, None)) or team_create(actor=actor, name=ROOT_TEAM)
    teams = {ROOT_TEAM: root}
    for name in (EAST_TEAM, SOUTH_TEAM):
        teams[name] = known.get((name, root.id)) or team_create(actor=actor, name=name, parent=root)
    return teams


def _setup(*, actor: Actor) -> None:
    channels = {c.code for c in channel_list()}
    for code, name, channel_kind, _weight in CHANNELS:
        if code not in channels:
            channel_create(actor=actor, name=name, kind=channel_kind, code=code)
    groups = {g.name: g for g in tag_group_list()}
    for group_name, is_exclusive, tags in TAG_GROUPS:
        group = groups.get(group_name) or tag_group_create(
            actor=actor, name=group_name, is_exclusive=is_exclusive
        )
        have = {t.name for t in group.tags.all()}
        for tag_name, colour in tags:
            if tag_name not in have:
                tag_create(actor=actor, group=group, name=tag_name, color=colour)
    fields = {f.key for f in custom_field_list()}
    for key, label, kind, options in CUSTOM_FIELDS:
        if key not in fields:
            custom_field_create(actor=actor, key=key, label=label, type=kind, options=list(options))


# Contacts: planned in memory from the seed, then written in batches.


def _weighted(rng: random.Random, options: Sequence[tuple[Any, float]]) -> Any:
    return rng.choices([o for o, _w in options], weights=[w for _o, w in options])[0]


def _name(rng: random.Random, *, female: bool) -> str:
    surname: str = _weighted(rng, SURNAMES)
    characters = FEMALE_CHARACTERS if female else MALE_CHARACTERS
    size = 1 if rng.random() < 0.3 else 2
    return surname + "".join(rng.choice(characters) for _ in range(size))


def _phone(rng: random.Random, used: set[str]) -> str:
    while True:
        number = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
        if number not in used and phonenumbers.is_valid_number(phonenumbers.parse(number, "CN")):
            used.add(number)
            return number


def _email(rng: random.Random, name: str, used: set[str]) -> str:
    domain = _weighted(rng, EMAIL_DOMAINS)
    while True:
        if domain == "qq.com":
            local = str(rng.randrange(10**6, 10**10))
        else:
            local = f"{name_search_keys(name)[0] or 'user'}{rng.randrange(10, 9999)}"
        email = f"{local}@{domain}"
        if email not in used:
            used.add(email)
            return email


def _moment_between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    span = max((end - start).total_seconds(), 0.0)
    return start + timedelta(seconds=rng.uniform(0, span))


def _plans(*, rng: random.Random, members: dict[str, Member], count: int) -> list[_ContactPlan]:
    moment = now()
    used_phones: set[str] = set()
    used_emails: set[str] = set()
    stage_options = [(rank, weight) for rank, (_s, weight, _p, _r) in enumerate(STAGES)]
    east_rep, south_rep, manager = members["demo-sales1"], members["demo-sales2"], members["demo-manager"]
    plans: list[_ContactPlan] = []
    for _ in range(count):
        female = rng.random() < 0.85
        gender = "female" if female else ("male" if rng.random() < 0.8 else "")
        name = _name(rng, female=female)
        rank: int = _weighted(rng, stage_options)
        stage, _weight, pool_chance, _reason = STAGES[rank]
        province, city, area = _weighted(rng, [((p, c, a), w) for p, c, w, a in PLACES])
        owner: Member | None
        if rng.random() < pool_chance:
            owner = None
        elif area == "east":
            owner = manager if rng.random() < 0.15 else east_rep
        elif area == "south":
            owner = south_rep
        else:
            owner = rng.choice((east_rep, south_rep))
        channel_code = _weighted(rng, [(code, w) for code, _n, _k, w in CHANNELS])
        created_at = moment - timedelta(days=395 * rng.random() ** 1.6, seconds=rng.randrange(86400))
        row: dict[str, Any] = {
            "name": name,
            "phone": _phone(rng, used_phones),
            "gender": gender,
            "region": province,
            "city": city,
            "owner": owner.user.username if owner else "",
            "channel": channel_code,
            "stage": stage.value,
        }
        if rng.random() < 0.3:
            row["email"] = _email(rng, name, used_emails)
        if rng.random() < 0.7:
            age = int(rng.triangular(18, 55, 30))
            row["birthday"] = date(2025 - age, rng.randint(1, 12), rng.randint(1, 28))
        if rng.random() < 0.18:
            row["company"] = (
                f"{city}{''.join(rng.sample(COMPANY_WORDS, 2))}{rng.choice(COMPANY_TRADES)}有限公司"
            )
        if rng.random() < 0.12:
            row["notes"] = rng.choice(NOTES)
        if channel_code in ("wechat-article", "moments-ad") and rng.random() < 0.6:
            openid = "o" + "".join(
                rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-", k=27)
            )
            row["identities"] = [{"type": "wechat_openid", "namespace": WECHAT_APP_ID, "value": openid}]
        custom, value_tag = _custom_values(rng, rank=rank, channel_code=channel_code)
        if custom:
            row["custom"] = custom
        tags = _tags(rng, value_tag=value_tag)
        if tags:
            row["tags"] = tags
        plan = _ContactPlan(row=row, created_at=created_at, stage_rank=rank, owner=owner, tags=tags)
        if rank >= 1:
            plan.last_seen_at = _moment_between(rng, created_at, moment)
        plans.append(plan)
    _plan_follow_ups(rng=rng, plans=plans, members=members)
    return plans


def _custom_values(rng: random.Random, *, rank: int, channel_code: str) -> tuple[dict[str, Any], str]:
    custom: dict[str, Any] = {}
    value_tag = ""
    if rank >= STAGE_ORDER.index(Stage.CUSTOMER):
        spent = int(min(rng.lognormvariate(7.0, 0.9), 30000)) + 99
        custom["total_spent"] = spent
        if rank == STAGE_ORDER.index(Stage.MEMBER):
            level = 3 if spent > 8000 else 2 if spent > 3000 else 1 if spent > 1000 else 0
            custom["member_level"] = MEMBER_LEVELS[level]
        value_tag = "高价值" if spent > 5000 else ("沉睡客户" if rng.random() < 0.15 else "潜力客户")
    if channel_code == "store" or (rank >= 4 and rng.random() < 0.3):
        custom["preferred_store"] = rng.choice(STORES)
    if rank >= STAGE_ORDER.index(Stage.FOLLOWER):
        custom["subscribed"] = rng.random() < 0.7
    return custom, value_tag


def _tags(rng: random.Random, *, value_tag: str) -> list[str]:
    tags: list[str] = []
    if rng.random() < 0.7:
        tags.append(_weighted(rng, [("干性", 25), ("油性", 25), ("混合", 35), ("敏感", 15)]))
    if rng.random() < 0.75:
        tags += rng.sample(["美白", "抗老", "保湿", "彩妆", "防晒"], rng.randint(1, 3))
    if value_tag:
        tags.append(value_tag)
    return tags


def _plan_follow_ups(*, rng: random.Random, plans: list[_ContactPlan], members: dict[str, Member]) -> None:
    """Follow-ups by each contact's owner; every rep gets some due today and some overdue."""
    moment = now()
    day = today()
    due_left: dict[UUID, list[int]] = {
        m.id: [0] * DUE_TODAY_PER_REP + list(range(1, OVERDUE_PER_REP + 1))
        for m in (members["demo-sales1"], members["demo-sales2"], members["demo-manager"])
    }
    service = members["demo-service"]
    for plan in plans:
        owner = plan.owner
        if owner is None or plan.stage_rank < 1:
            if plan.stage_rank >= 4 and rng.random() < 0.1:
                at = _moment_between(rng, plan.created_at, moment)
                plan.follow_ups.append(
                    _FollowUpPlan(
                        author=service, kind=FollowUpKind.WECHAT, content=rng.choice(SERVICE_TEXTS), at=at
                    )
                )
            continue
        old_enough = moment - plan.created_at > timedelta(days=20)
        next_on: date | None = None
        pending = due_left.get(owner.id, [])
        if pending and old_enough:
            next_on = day - timedelta(days=pending.pop(0))
        elif rng.random() < 0.6:
            next_on = None if rng.random() < 0.5 else day + timedelta(days=rng.randint(1, 21))
        else:
            continue
        # The last follow-up happened before its next date came due.
        latest = (
            moment if next_on is None or next_on >= day else moment - timedelta(days=(day - next_on).days + 2)
        )
        times = sorted(_moment_between(rng, plan.created_at, latest) for _ in range(rng.randint(1, 3)))
        for index, at in enumerate(times):
            kind = _weighted(rng, FOLLOW_UP_KINDS)
            is_last = index == len(times) - 1
            texts = NEXT_STEP_TEXTS if is_last and next_on is not None else FOLLOW_UP_TEXTS
            plan.follow_ups.append(
                _FollowUpPlan(
                    author=owner,
                    kind=kind,
                    content=rng.choice(texts[kind]),
                    at=at,
                    next_on=next_on if is_last else None,
                )
            )


def _contacts_replace(*, actor: Actor, plans: list[_ContactPlan], rng: random.Random) -> None:
    """Replace the demo's contacts, committing batch by batch.

    Short transactions keep a running server (and its worker) responsive on SQLite, where a writer
    holds the whole database; a refresh interrupted half-way is completed by running it again.
    """
    with transaction.atomic():
        Contact.objects.all().delete()  # a refresh starts from a clean slate (satellites cascade)
    key = UpsertKey(type="phone")
    for start in range(0, len(plans), BATCH):
        batch = plans[start : start + BATCH]
        with transaction.atomic():
            results = contacts_upsert(actor=actor, rows=[p.row for p in batch], key=key, source=DEMO_SOURCE)
            failed = [(r.index + start, r.errors) for r in results if r.status != "created"]
            if failed:
                raise RuntimeError(f"The demo generator produced rows the services refuse: {failed[:3]}")
            contact_ids = [r.contact_id for r in results if r.contact_id is not None]
            # The upsert recorded today's creation; replace it with each contact's past.
            StageChange.objects.filter(contact_id__in=contact_ids).delete()
            TimelineEntry.objects.filter(contact_id__in=contact_ids).delete()
            _history_write(plans=batch, contact_ids=contact_ids, rng=rng)


def _history_write(*, plans: list[_ContactPlan], contact_ids: list[UUID], rng: random.Random) -> None:
    moment = now()
    contact_times: list[tuple[UUID, list[datetime | None]]] = []
    stage_rows: list[tuple[StageChange, datetime]] = []
    timeline: list[tuple[TimelineEntry, datetime]] = []
    follow_ups: list[tuple[FollowUp, datetime]] = []
    done: dict[UUID, datetime] = {}
    for plan, contact_id in zip(plans, contact_ids, strict=True):
        created = plan.created_at
        timeline.append(
            (
                TimelineEntry(contact_id=contact_id, kind=TimelineKind.CREATED, data={"source": DEMO_SOURCE}),
                created,
            )
        )
        # The path through the stages, from visitor to where the contact is today.
        steps = sorted(_moment_between(rng, created, moment) for _ in range(plan.stage_rank))
        previous = ""
        for rank, at in enumerate([created, *steps]):
            stage, _w, _p, reason = STAGES[rank]
            stage_rows.append(
                (StageChange(contact_id=contact_id, from_stage=previous, to_stage=stage, reason=reason), at)
            )
            if previous:
                data = {"from": previous, "to": stage.value, "reason": reason, "manual": False}
                timeline.append(
                    (TimelineEntry(contact_id=contact_id, kind=TimelineKind.STAGE_CHANGED, data=data), at)
                )
            previous = stage.value
        if plan.tags:
            tagged = min(created + timedelta(hours=rng.uniform(1, 48)), moment)
            timeline.append(
                (
                    TimelineEntry(
                        contact_id=contact_id, kind=TimelineKind.TAGS_ADDED, data={"tags": plan.tags}
                    ),
                    tagged,
                )
            )
        for index, planned in enumerate(plan.follow_ups):
            follow_up = FollowUp(
                id=uuid7(),
                contact_id=contact_id,
                author=planned.author,
                kind=planned.kind,
                content=planned.content,
                next_follow_up_on=planned.next_on,
            )
            follow_ups.append((follow_up, planned.at))
            if index < len(plan.follow_ups) - 1:
                done[follow_up.id] = plan.follow_ups[index + 1].at  # closed by the next one
            data = {
                "kind": planned.kind,
                "content": planned.content,
                "next_follow_up_on": planned.next_on.isoformat() if planned.next_on else None,
                "follow_up_id": str(follow_up.id),
            }
            entry = TimelineEntry(
                contact_id=contact_id, kind=TimelineKind.FOLLOW_UP, data=data, member=planned.author
            )
            timeline.append((entry, planned.at))
        last_event = max([created, *steps, *(f.at for f in plan.follow_ups)])
        contact_times.append((contact_id, [created, last_event, plan.last_seen_at]))
    _times_set(Contact, ["created_at", "updated_at", "last_seen_at"], contact_times)
    _insert_backdated(StageChange, stage_rows, "changed_at")
    _insert_backdated(TimelineEntry, timeline, "created_at")
    for follow_up, _at in follow_ups:
        follow_up.done_at = done.get(follow_up.id)
    _insert_backdated(FollowUp, follow_ups, "created_at")


def _insert_backdated(model: type[_M], rows: list[tuple[_M, datetime]], field_name: str) -> None:
    """Insert rows whose creation time (an auto_now_add field, set on insert) lies in the past."""
    model._default_manager.bulk_create([obj for obj, _at in rows], batch_size=500)
    _times_set(model, [field_name], [(obj.pk, [at]) for obj, at in rows])


def _concrete_field(model: type[models.Model], name: str) -> "models.Field[Any, Any]":
    found = model._meta.get_field(name)
    if not isinstance(found, models.Field) or found.column is None:
        raise TypeError(f"{model.__name__}.{name} is not a column.")
    return found


def _times_set(
    model: type[models.Model],
    field_names: Sequence[str],
    rows: Sequence[tuple[Any, Sequence[datetime | None]]],
) -> None:
    """Set timestamps row by row with one prepared UPDATE (Django's bulk_update is 50× slower here).

    Scoped like the tenant managers: the statement only touches rows of the active workspace.
    """
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    fields = [_concrete_field(model, name) for name in field_names]
    workspace_field = _concrete_field(model, "workspace")
    pk_field = _concrete_field(model, "id")
    assignments = ", ".join(f"{quote(str(f.column))} = %s" for f in fields)
    sql = (
        f"UPDATE {quote(model._meta.db_table)} SET {assignments} "  # noqa: S608 - identifiers from model metadata
        f"WHERE {quote(str(workspace_field.column))} = %s AND {quote(str(pk_field.column))} = %s"
    )
    workspace_id = workspace_field.get_db_prep_value(active_workspace_id(), connection)
    params = [
        [
            *(f.get_db_prep_value(v, connection) for f, v in zip(fields, values, strict=True)),
            workspace_id,
            pk_field.get_db_prep_value(pk, connection),
        ]
        for pk, values in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
