"""Contact import: file formats, header mapping, preview, dedupe, error report, audit, tenancy."""

import csv
import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.utils import translation
from openpyxl import Workbook

from siyu.contacts.models import Channel, Contact, FieldType, Identity, ImportJob, JobStatus, Stage
from siyu.contacts.selectors import contact_tags, import_job_get, import_job_list
from siyu.contacts.services.importing import (
    import_error_report_path,
    import_job_configure,
    import_job_confirm,
    import_job_create,
    import_job_run,
    import_preview,
    import_source_path,
)
from siyu.contacts.tasks import import_enqueue
from siyu.core.errors import NotFound, PermissionDenied, ValidationError
from siyu.core.tenancy import workspace_scope
from siyu.tenancy.actor import Actor
from siyu.tenancy.models import AuditAction, AuditEntry, Member
from siyu.tenancy.roles import Role
from siyu.tenancy.selectors import actor_for_member
from tests.factories import ContactFactory, CustomFieldFactory, MemberFactory

HEADER = ["姓名", "手机号", "邮箱", "性别", "生日", "城市", "公司", "标签", "阶段"]
ROWS = [
    ["张三", "13800138000", "zhangsan@example.com", "男", "1990-05-01", "上海", "花漾", "VIP、复购", "客户"],
    ["李四", "13900139000", "", "女", "", "杭州", "", "", "粉丝"],
]


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> Iterator[None]:
    settings.MEDIA_ROOT = tmp_path / "media"
    with translation.override("en"):
        yield


def csv_bytes(rows: list[list[Any]], *, encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def upload(actor: Actor, data: bytes, name: str = "客户.csv") -> ImportJob:
    return import_job_create(actor=actor, upload=io.BytesIO(data), file_name=name, language="en")


def run(actor: Actor, job: ImportJob, *, dedupe_by: str = "phone", on_duplicate: str = "update") -> ImportJob:
    import_job_configure(
        actor=actor, job=job, mapping=job.mapping, dedupe_by=dedupe_by, on_duplicate=on_duplicate
    )
    import_job_confirm(actor=actor, job=job)
    return import_job_run(actor=actor, job=job)


def test_utf8_csv_with_chinese_headers_is_mapped_and_imported(admin_actor: Actor, admin: Member) -> None:
    job = upload(admin_actor, csv_bytes([HEADER, *ROWS]))

    assert job.file_format == "csv"
    assert job.encoding == "utf-8"
    assert job.mapping == {
        "0": "name",
        "1": "phone",
        "2": "email",
        "3": "gender",
        "4": "birthday",
        "5": "city",
        "6": "company",
        "7": "tags",
        "8": "stage",
    }
    assert job.dedupe_by == "phone"

    job = run(admin_actor, job)

    assert (job.status, job.total_rows, job.processed_rows) == (JobStatus.DONE, 2, 2)
    assert (job.created_count, job.updated_count, job.skipped_count, job.failed_count) == (2, 0, 0, 0)
    zhang = Contact.objects.get(phone="+8613800138000")
    assert (zhang.name, zhang.email, zhang.gender, zhang.birthday) == (
        "张三",
        "zhangsan@example.com",
        "male",
        date(1990, 5, 1),
    )
    assert (zhang.city, zhang.company, zhang.stage, zhang.owner_id) == (
        "上海",
        "花漾",
        Stage.CUSTOMER,
        admin.id,
    )
    assert sorted(t.name for t in contact_tags(contact=zhang)) == ["VIP", "复购"]
    li = Contact.objects.get(phone="+8613900139000")
    assert (li.name, li.gender, li.stage, li.email) == ("李四", "female", Stage.FOLLOWER, "")
    assert not import_source_path(job).exists()  # the upload is not kept after the run


def test_utf8_bom_csv(admin_actor: Actor) -> None:
    job = upload(admin_actor, b"\xef\xbb\xbf" + csv_bytes([["姓名", "手机"], ["王五", "13700137000"]]))

    assert (job.encoding, job.headers, job.mapping) == (
        "utf-8-sig",
        ["姓名", "手机"],
        {"0": "name", "1": "phone"},
    )
    run(admin_actor, job)
    assert list(Contact.objects.values_list("name", "phone")) == [("王五", "+8613700137000")]


@pytest.mark.parametrize("encoding", ["gbk", "gb18030"])
def test_gbk_csv_is_detected(admin_actor: Actor, encoding: str) -> None:
    rows = [["姓名", "手机", "城市", "备注"]] + [
        [f"欧阳{i}号", f"1380013{i:04d}", "广州", "老客户，喜欢面霜和精华"] for i in range(30)
    ]
    job = upload(admin_actor, csv_bytes(rows, encoding=encoding))

    assert job.encoding == "gb18030"
    assert job.mapping == {"0": "name", "1": "phone", "2": "city", "3": "notes"}
    job = run(admin_actor, job)
    assert job.created_count == 30
    first = Contact.objects.get(phone="+8613800130000")
    assert (first.name, first.city, first.notes) == ("欧阳0号", "广州", "老客户，喜欢面霜和精华")


def test_semicolon_and_tab_delimiters(admin_actor: Actor) -> None:
    job = upload(admin_actor, "姓名\t手机\n赵六\t13600136000\n".encode())
    assert job.delimiter == "\t"
    run(admin_actor, job)
    assert list(Contact.objects.values_list("name", "phone")) == [("赵六", "+8613600136000")]


def test_xlsx_import(admin_actor: Actor) -> None:
    rows: list[list[Any]] = [
        ["Name", "Mobile", "Email", "Birthday", "省份/地区", "渠道"],
        ["Alice", 13800138000, "ALICE@EXAMPLE.COM", date(1992, 3, 4), "浙江", "门店"],
        ["Bob", 13900139000.0, None, None, None, None],
    ]
    job = upload(admin_actor, xlsx_bytes(rows), name="contacts.xlsx")

    assert job.file_format == "xlsx"
    assert job.mapping == {
        "0": "name",
        "1": "phone",
        "2": "email",
        "3": "birthday",
        "4": "region",
        "5": "channel",
    }
    job = run(admin_actor, job)

    assert (job.created_count, job.failed_count) == (2, 0)
    alice = Contact.objects.select_related("channel").get(phone="+8613800138000")
    assert (alice.name, alice.email, alice.birthday, alice.region) == (
        "Alice",
        "alice@example.com",
        date(1992, 3, 4),
        "浙江",
    )
    assert alice.channel is not None
    assert alice.channel.name == "门店"
    assert Contact.objects.get(phone="+8613900139000").name == "Bob"


def test_custom_field_columns_by_key_and_label_unknown_ignored(admin_actor: Actor) -> None:
    CustomFieldFactory(key="skin_type", label="肤质", type=FieldType.SELECT, options=["干性", "油性"])
    CustomFieldFactory(key="points", label="积分", type=FieldType.NUMBER)
    rows = [["姓名", "手机", "肤质", "points", "微信昵称"], ["张三", "13800138000", "油性", "120", "小张"]]
    job = upload(admin_actor, csv_bytes(rows))

    assert job.mapping == {"0": "name", "1": "phone", "2": "custom.skin_type", "3": "custom.points"}
    run(admin_actor, job)
    contact = Contact.objects.get()
    assert contact.custom == {"skin_type": "油性", "points": 120}


def test_unknown_column_can_be_mapped_to_a_custom_field(admin_actor: Actor) -> None:
    CustomFieldFactory(key="nickname", label="昵称")
    job = upload(admin_actor, csv_bytes([["姓名", "手机", "微信昵称"], ["张三", "13800138000", "小张"]]))
    assert "2" not in job.mapping

    run_mapping = {**job.mapping, "2": "custom.nickname"}
    import_job_configure(
        actor=admin_actor, job=job, mapping=run_mapping, dedupe_by="phone", on_duplicate="update"
    )
    import_job_confirm(actor=admin_actor, job=job)
    import_job_run(actor=admin_actor, job=job)
    assert Contact.objects.get().custom == {"nickname": "小张"}


def test_configure_refuses_duplicate_targets_and_missing_dedupe_column(admin_actor: Actor) -> None:
    job = upload(admin_actor, csv_bytes([["姓名", "手机", "电话"], ["张三", "13800138000", "13900139000"]]))
    assert job.mapping == {"0": "name", "1": "phone"}  # the second phone column is not guessed twice

    with pytest.raises(ValidationError) as duplicate:
        import_job_configure(
            actor=admin_actor,
            job=job,
            mapping={"0": "name", "1": "phone", "2": "phone"},
            dedupe_by="phone",
            on_duplicate="update",
        )
    assert duplicate.value.fields == {
        "mapping.2": "Columns “手机” and “电话” are both mapped to the same field."
    }

    with pytest.raises(ValidationError) as no_key:
        import_job_configure(
            actor=admin_actor, job=job, mapping={"0": "name"}, dedupe_by="email", on_duplicate="skip"
        )
    assert no_key.value.fields == {
        "dedupe_by": "Map a column to “Email”: it decides which rows are duplicates."
    }

    with pytest.raises(ValidationError):
        import_job_configure(
            actor=admin_actor, job=job, mapping=job.mapping, dedupe_by="fax", on_duplicate="skip"
        )


def test_preview_shows_per_row_errors_and_writes_nothing(admin_actor: Actor) -> None:
    rows = [
        ["姓名", "手机", "邮箱", "渠道"],
        ["张三", "13800138000", "zs@example.com", "新渠道"],
        ["李四", "12345", "not-an-email", ""],
        ["王五", "", "ww@example.com", ""],
    ]
    job = upload(admin_actor, csv_bytes(rows))

    preview = import_preview(actor=admin_actor, job=job)

    assert [(row.number, row.cells) for row in preview] == [
        (2, ["张三", "13800138000", "zs@example.com", "新渠道"]),
        (3, ["李四", "12345", "not-an-email", ""]),
        (4, ["王五", "", "ww@example.com", ""]),
    ]
    assert preview[0].error == ""
    assert (
        preview[1].error
        == "手机: “12345” is not a valid phone number.; 邮箱: “not-an-email” is not an email address."
    )
    assert preview[1].error_columns == {1, 2}
    assert preview[2].error == "手机: The key “phone” is missing in this row."
    assert Contact.objects.count() == 0
    assert Channel.objects.count() == 0  # the channel the cleaning created was rolled back


def test_bad_rows_are_reported_good_rows_committed_with_error_report(admin_actor: Actor) -> None:
    rows = [
        ["姓名", "手机", "性别"],
        ["张三", "13800138000", "男"],
        ['=HYPERLINK("x")', "12345", "男"],
        ["李四", "13900139000", "不知道"],
    ]
    job = run(admin_actor, upload(admin_actor, csv_bytes(rows)))

    assert (job.status, job.created_count, job.failed_count, job.processed_rows) == (JobStatus.DONE, 1, 2, 3)
    assert list(Contact.objects.values_list("name", flat=True)) == ["张三"]
    report = import_error_report_path(job)
    assert report is not None
    raw = report.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert list(csv.reader(io.StringIO(raw.decode("utf-8-sig")))) == [
        ["Row", "姓名", "手机", "性别", "Reason"],
        ["3", '\'=HYPERLINK("x")', "12345", "男", "手机: “12345” is not a valid phone number."],
        ["4", "李四", "13900139000", "不知道", "性别: “不知道” is not a gender (female/male, 女/男)."],
    ]


def test_dedupe_update_versus_skip(admin_actor: Actor) -> None:
    existing = ContactFactory(name="张三", phone="+8613800138000", company="旧公司", city="北京")
    rows = [["手机", "公司", "城市"], ["13800138000", "新公司", ""], ["13900139000", "别家", "上海"]]

    skipped = run(admin_actor, upload(admin_actor, csv_bytes(rows)), on_duplicate="skip")
    existing.refresh_from_db()
    assert (skipped.created_count, skipped.skipped_count, skipped.updated_count) == (1, 1, 0)
    assert existing.company == "旧公司"

    updated = run(admin_actor, upload(admin_actor, csv_bytes(rows)), on_duplicate="update")
    existing.refresh_from_db()
    assert (updated.created_count, updated.updated_count, updated.unchanged_count) == (0, 1, 1)
    assert (existing.company, existing.city) == ("新公司", "北京")  # an empty cell never erases
    assert Contact.objects.count() == 2


def test_dedupe_by_email_and_by_identity(admin_actor: Actor) -> None:
    by_email = ContactFactory(name="Old", email="a@example.com")
    job = run(
        admin_actor,
        upload(admin_actor, csv_bytes([["邮箱", "姓名"], ["A@example.com", "New"]])),
        dedupe_by="email",
    )
    by_email.refresh_from_db()
    assert (job.updated_count, by_email.name) == (1, "New")

    rows = [["openid", "姓名"], ["oX1", "甲"], ["oX1", "甲乙"], ["oX2", "丙"]]
    job = run(admin_actor, upload(admin_actor, csv_bytes(rows)), dedupe_by="wechat_openid")
    assert (job.created_count, job.updated_count) == (2, 1)
    owner = Identity.objects.get(type="wechat_openid", value="oX1").contact
    assert owner.name == "甲乙"


def test_many_rows_go_through_batches(admin_actor: Actor) -> None:
    rows = [["姓名", "手机"]] + [[f"客户{i}", f"1380000{i:04d}"] for i in range(2500)]
    seen: list[int] = []
    job = upload(admin_actor, csv_bytes(rows))
    import_job_confirm(actor=admin_actor, job=job)
    import_job_run(actor=admin_actor, job=job, progress=lambda j: seen.append(j.processed_rows))

    assert seen == [0, 1000, 2000, 2500]
    assert (job.created_count, Contact.objects.count()) == (2500, 2500)


def test_a_resumed_job_skips_committed_rows(admin_actor: Actor) -> None:
    rows = [["姓名", "手机"], ["甲", "13800138000"], ["乙", "13900139000"]]
    job = upload(admin_actor, csv_bytes(rows))
    import_job_confirm(actor=admin_actor, job=job)
    job.status, job.processed_rows, job.created_count = JobStatus.RUNNING, 1, 1  # as if a worker died
    job.save()

    import_job_run(actor=admin_actor, job=job)

    assert (job.processed_rows, job.created_count) == (2, 2)
    assert list(Contact.objects.values_list("name", flat=True)) == ["乙"]


def test_import_is_audited(admin_actor: Actor, admin: Member) -> None:
    job = run(admin_actor, upload(admin_actor, csv_bytes([HEADER, *ROWS])))

    entry = AuditEntry.objects.get(action=AuditAction.CONTACTS_IMPORTED)
    assert (entry.member_id, entry.target_type, entry.target_id) == (admin.id, "import_job", str(job.id))
    assert entry.data == {
        "file_name": "客户.csv",
        "rows": 2,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "failed": 0,
        "dedupe_by": "phone",
        "on_duplicate": "update",
    }


def test_the_background_task_runs_as_the_creator(admin_actor: Actor) -> None:
    job = upload(admin_actor, csv_bytes([HEADER, *ROWS]))
    import_job_confirm(actor=admin_actor, job=job)

    import_enqueue(job)

    job.refresh_from_db()
    assert (job.status, job.created_count) == (JobStatus.DONE, 2)


def test_permissions(make_member: Any) -> None:
    rep_actor = actor_for_member(member=make_member(Role.SALES))
    with pytest.raises(PermissionDenied):
        upload(rep_actor, csv_bytes([HEADER, *ROWS]))
    assert ImportJob.objects.count() == 0


def test_another_workspace_cannot_see_the_import(admin_actor: Actor, other_workspace: Any) -> None:
    job = upload(admin_actor, csv_bytes([HEADER, *ROWS]))
    run(admin_actor, job)
    with workspace_scope(other_workspace.id):
        stranger = actor_for_member(member=MemberFactory(role=Role.ADMIN, workspace=other_workspace))
        with pytest.raises(NotFound):
            import_job_get(actor=stranger, job_id=job.id)
        assert import_job_list(actor=stranger) == []
        assert Contact.objects.count() == 0
    assert import_job_get(actor=admin_actor, job_id=job.id) == job


def test_utf16_tab_separated_text_from_excel(admin_actor: Actor) -> None:
    job = upload(admin_actor, "姓名\t手机\n王五\t13700137000\n".encode("utf-16"), name="unicode.txt")

    assert (job.encoding, job.delimiter) == ("utf-16", "\t")
    run(admin_actor, job)
    assert list(Contact.objects.values_list("name", "phone")) == [("王五", "+8613700137000")]
