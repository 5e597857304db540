"""Benchmark: import N realistic contacts from a CSV (and optionally an .xlsx) through the real import service.

    .venv/bin/python bench/import_contacts.py --rows 100000
    .venv/bin/python bench/import_contacts.py --rows 100000 --xlsx
    .venv/bin/python bench/import_contacts.py --rows 100000 \
        --database postgres://postgres@127.0.0.1:5432/siyu_bench_import

Each run uses a fresh database (a new SQLite file in a temporary directory, or a scratch PostgreSQL
database that is created and dropped), generates the file, runs `import_job_create` +
`import_job_run` (validation pass, cleaning, `contacts_upsert` in batches of 1,000, error report),
and prints rows/s beside the baseline measured in the same run: a plain `bulk_create` of the same
rows into the contact table (no cleaning, no identities, no history) — the raw insert ceiling.
With --record the figures are appended to docs/benchmarks.md under "Contact import".
"""

import argparse
import csv
import os
import platform
import random
import secrets
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彩春菊兰凤洁梅琳素云莲真环雪荣爱妹霞香月莺媛艳瑞凡佳嘉琼勤珍贞莉桂娣叶璧璐娅琦晶妍茜秋珊莎锦黛青倩婷姣婉娴瑾颖露瑶怡婵雁蓓纨仪荷丹蓉眉君琴蕊薇菁梦岚苑婕馨瑗琰韵融园艺咏卿聪澜纯毓悦昭冰爽琬茗羽希宁欣飘育滢馥筠柔竹霭凝晓欢霄枫芸菲寒伊亚宜可姬舒影荔枝思丽"
CITIES = [
    ("上海", "上海"),
    ("北京", "北京"),
    ("广东", "广州"),
    ("广东", "深圳"),
    ("浙江", "杭州"),
    ("江苏", "南京"),
    ("四川", "成都"),
    ("湖北", "武汉"),
    ("陕西", "西安"),
    ("福建", "厦门"),
]
CHANNELS = ["公众号文章", "朋友圈广告", "门店", "老带新", "信息流广告"]
STAGES = ["访客", "游客", "粉丝", "好友", "客户", "会员"]
TAGS = ["敏感肌", "油皮", "干皮", "复购", "高客单", "618活动", "直播间", "会员日"]
COMPANIES = ["", "", "", "花漾美妆", "星辰科技", "悦己生活馆", "云上电商", "青禾贸易"]
PREFIXES = ["138", "139", "137", "136", "135", "150", "151", "152", "158", "159", "186", "187", "188", "177"]
HEADER = [
    "姓名",
    "手机号",
    "邮箱",
    "性别",
    "生日",
    "省份",
    "城市",
    "公司",
    "标签",
    "渠道",
    "阶段",
    "肤质",
    "备注",
]


def generate_rows(count: int, seed: int = 20240601) -> list[list[str]]:
    rng = random.Random(seed)
    phones = rng.sample(range(100_000_000), count)
    rows = []
    for i in range(count):
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
        region, city = rng.choice(CITIES)
        birthday = date(1970, 1, 1) + timedelta(days=rng.randrange(365 * 35)) if rng.random() < 0.5 else None
        rows.append(
            [
                name,
                f"{PREFIXES[i % len(PREFIXES)]}{phones[i]:08d}",
                f"user{i}@example.com" if rng.random() < 0.6 else "",
                rng.choice(("男", "女", "女", "")),
                birthday.isoformat() if birthday else "",
                region,
                city,
                rng.choice(COMPANIES),
                "、".join(rng.sample(TAGS, rng.choice((0, 1, 2)))),
                rng.choice(CHANNELS),
                rng.choice(STAGES),
                rng.choice(("干性", "油性", "混合", "")),
                "喜欢面霜和精华" if rng.random() < 0.2 else "",
            ]
        )
    return rows


def write_csv(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)


def write_xlsx(path: Path, rows: list[list[str]]) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("客户")
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    workbook.save(path)


def admin_url(database_url: str) -> tuple[str, str]:
    parsed = urlparse(database_url)
    name = parsed.path.lstrip("/")
    if not name or name in ("postgres", "test", "template0", "template1"):
        sys.exit("Give a scratch database name (it is created and dropped), e.g. .../siyu_bench_import")
    return urlunparse(parsed._replace(path="/postgres")), name


def postgres_create(database_url: str) -> None:
    import psycopg

    maintenance, name = admin_url(database_url)
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def postgres_drop(database_url: str) -> None:
    import psycopg

    maintenance, name = admin_url(database_url)
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def setup_django(database_url: str, var_dir: Path) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["SIYU_VAR_DIR"] = str(var_dir)
    os.environ["SIYU_SECRET_KEY"] = secrets.token_urlsafe(48)
    os.environ.pop("SIYU_DEBUG", None)
    os.environ.setdefault("SIYU_LOG_LEVEL", "WARNING")
    os.environ["DJANGO_SETTINGS_MODULE"] = "siyu.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def workspace_with_owner(slug: str) -> Any:
    from siyu.tenancy.services import user_get_or_create, workspace_create

    owner = user_get_or_create(username=f"{slug}-owner")
    return workspace_create(name=f"Bench {slug}", slug=slug, owner=owner, owner_name="老板")


def run_import(path: Path) -> tuple[float, float, Any]:
    from siyu.contacts.models import FieldType
    from siyu.contacts.services import custom_field_create
    from siyu.contacts.services.importing import import_job_confirm, import_job_create, import_job_run
    from siyu.core.tenancy import workspace_scope
    from siyu.tenancy.selectors import actor_for_member, workspace_owner

    workspace = workspace_with_owner(f"import-{path.stem}-{path.suffix[1:]}")
    with workspace_scope(workspace.id):
        owner = workspace_owner()
        assert owner is not None
        actor = actor_for_member(member=owner)
        custom_field_create(
            actor=actor, key="skin", label="肤质", type=FieldType.SELECT, options=["干性", "油性", "混合"]
        )
        started, cpu = time.perf_counter(), time.process_time()
        with path.open("rb") as upload:
            job = import_job_create(actor=actor, upload=upload, file_name=path.name)
        import_job_confirm(actor=actor, job=job)
        import_job_run(actor=actor, job=job)
        return time.perf_counter() - started, time.process_time() - cpu, job


def run_baseline(rows: list[list[str]]) -> tuple[float, float]:
    """The raw ceiling: bulk_create the same rows into the contact table, values as given."""
    from django.db import transaction

    from siyu.contacts.models import Contact
    from siyu.core.tenancy import workspace_scope

    workspace = workspace_with_owner("baseline")
    started, cpu = time.perf_counter(), time.process_time()
    with workspace_scope(workspace.id):
        for start in range(0, len(rows), 1000):
            with transaction.atomic():
                Contact.objects.bulk_create(
                    [
                        Contact(
                            name=row[0],
                            phone=f"+86{row[1]}",
                            email=row[2],
                            region=row[5],
                            city=row[6],
                            company=row[7],
                            notes=row[12],
                        )
                        for row in rows[start : start + 1000]
                    ]
                )
    return time.perf_counter() - started, time.process_time() - cpu


def machine() -> str:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPU, {model or platform.processor()}, Python {platform.python_version()}"


def record(lines: list[str]) -> None:
    docs = ROOT / "docs" / "benchmarks.md"
    docs.parent.mkdir(exist_ok=True)
    text = docs.read_text(encoding="utf-8") if docs.exists() else "# Benchmarks\n"
    heading = "## Contact import"
    block = "\n".join(lines) + "\n"
    if heading not in text:
        text = text.rstrip("\n") + f"\n\n{heading}\n\n" + block
    else:
        start = text.index(heading)
        following = text.find("\n## ", start + len(heading))
        end = len(text) if following == -1 else following + 1
        section = text[start:end].rstrip("\n") + "\n\n" + block
        text = text[:start] + section + ("\n" + text[end:] if following != -1 else "")
    docs.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--xlsx", action="store_true", help="also import the same rows from an .xlsx file")
    parser.add_argument(
        "--database", default="", help="postgres://…/<scratch db> (default: a fresh SQLite file)"
    )
    parser.add_argument("--record", action="store_true", help="append the figures to docs/benchmarks.md")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="siyu-bench-") as tmp:
        tmp_dir = Path(tmp)
        database_url = args.database or f"sqlite:///{tmp_dir / 'bench.sqlite3'}"
        engine = "PostgreSQL" if database_url.startswith("postgres") else "SQLite"
        if engine == "PostgreSQL":
            postgres_create(database_url)
        try:
            setup_django(database_url, tmp_dir / "var")
            rows = generate_rows(args.rows)
            files = [tmp_dir / "contacts.csv"]
            write_csv(files[0], rows)
            if args.xlsx:
                files.append(tmp_dir / "contacts.xlsx")
                write_xlsx(files[1], rows)
            results = []
            for path in files:
                seconds, cpu, job = run_import(path)
                print(
                    f"{engine} import {path.suffix}: {job.total_rows} rows in {seconds:.1f} s = "
                    f"{job.total_rows / seconds:,.0f} rows/s (process CPU {cpu:.1f} s; "
                    f"created {job.created_count}, failed {job.failed_count}, status {job.status})"
                )
                results.append((path.suffix, seconds, cpu, job))
            baseline, baseline_cpu = run_baseline(rows)
            print(
                f"{engine} baseline bulk_create: {len(rows)} rows in {baseline:.1f} s = "
                f"{len(rows) / baseline:,.0f} rows/s (process CPU {baseline_cpu:.1f} s)"
            )
            load = os.getloadavg()[0]
            print(f"load average at the end: {load:.1f} on {os.cpu_count()} CPUs")
        finally:
            from django.db import connections

            connections.close_all()
            if engine == "PostgreSQL":
                postgres_drop(database_url)

    if args.record:
        command = " ".join([".venv/bin/python bench/import_contacts.py", *sys.argv[1:]])
        lines = [
            f"- {datetime.now(tz=UTC).date().isoformat()} · `{command}` · {machine()} · {engine} · "
            f"load average {load:.1f} at the end (the import keeps one of the {os.cpu_count()} cores busy)"
        ]
        lines += [
            f"  - import {suffix}: {job.total_rows:,} rows in {seconds:.1f} s = "
            f"{job.total_rows / seconds:,.0f} rows/s (process CPU {cpu:.1f} s; "
            f"{job.created_count:,} created, {job.failed_count} failed)"
            for suffix, seconds, cpu, job in results
        ]
        lines.append(
            f"  - baseline, plain bulk insert of the same rows into the contact table: {baseline:.1f} s = "
            f"{len(rows) / baseline:,.0f} rows/s (process CPU {baseline_cpu:.1f} s)"
        )
        record(lines)


if __name__ == "__main__":
    main()
