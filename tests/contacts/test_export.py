"""Contact export: formula escaping, phone masking, data scope, audit, creator-only access, tenancy."""

import csv
import dataclasses
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.utils import translation
from openpyxl import load_workbook

from siyu.contacts.models import ExportJob, FieldType, JobStatus
from siyu.contacts.selectors import ContactFilters, export_job_get, export_job_list
from siyu.contacts.services.exporting import export_file_path, export_job_create, export_job_run
from siyu.contacts.tasks import export_enqueue
from siyu.core.errors import NotFound, PermissionDenied, ValidationError
from siyu.core.tenancy import workspace_scope
from siyu.tenancy.actor import Actor
from siyu.tenancy.models import AuditAction, AuditEntry, Member
from siyu.tenancy.roles import Permission, Role
from siyu.tenancy.selectors import actor_for_member
from tests.factories import ContactFactory, CustomFieldFactory, MemberFactory, TagFactory


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> Iterator[None]:
    settings.MEDIA_ROOT = tmp_path / "media"
    with translation.override("en"):
        yield


def read_xlsx(job: ExportJob) -> list[list[Any]]:
    path = export_file_path(job)
    assert path is not None
    workbook = load_workbook(path, read_only=True)
    try:
        return [list(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]
    finally:
        workbook.close()


def read_csv(job: ExportJob) -> list[list[str]]:
    path = export_file_path(job)
    assert path is not None
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def export(
    actor: Actor, *, file_format: str = "xlsx", columns: list[str], filters: ContactFilters | None = None
) -> ExportJob:
    job = export_job_create(
        actor=actor, filters=filters or ContactFilters(), columns=columns, file_format=file_format
    )
    return export_job_run(actor=actor, job=job)


DANGEROUS = {
    "name": '=HYPERLINK("http://evil","x")',
    "company": "+SUM(1,2)",
    "city": "-2+3",
    "region": "@cmd",
    "notes": "\tindented",
}


@pytest.mark.parametrize("file_format", ["xlsx", "csv"])
def test_formula_cells_are_escaped(admin_actor: Actor, file_format: str) -> None:
    CustomFieldFactory(key="memo", label="备忘", type=FieldType.TEXT)
    ContactFactory(**DANGEROUS, phone="+8613800138000", custom={"memo": "\r=1+1"})
    ContactFactory(name="安全", company="正常公司", city="", region="", notes="")

    job = export(
        admin_actor,
        file_format=file_format,
        columns=["name", "company", "city", "region", "notes", "custom.memo", "phone"],
    )

    rows = read_xlsx(job) if file_format == "xlsx" else read_csv(job)
    empty: Any = None if file_format == "xlsx" else ""
    carriage_return = "\n" if file_format == "xlsx" else "\r"  # XML turns a stored CR into LF on reading
    assert rows == [
        ["Name", "Company", "City", "Region", "Notes", "备忘", "Phone"],
        ["安全", "正常公司", empty, empty, empty, empty, empty],
        [
            '\'=HYPERLINK("http://evil","x")',
            "'+SUM(1,2)",
            "'-2+3",
            "'@cmd",
            "'\tindented",
            f"'{carriage_return}=1+1",
            "13800138000",
        ],
    ]


def test_phone_masked_without_reveal_permission(make_member: Any) -> None:
    marketing = actor_for_member(member=make_member(Role.MARKETING))
    assert not marketing.can(Permission.CONTACTS_REVEAL_PHONE)
    ContactFactory(name="张三", phone="+8613800138000")

    job = export(marketing, file_format="csv", columns=["name", "phone"])

    assert read_csv(job) == [["Name", "Phone"], ["张三", "138****8000"]]
    entry = AuditEntry.objects.get(action=AuditAction.CONTACTS_EXPORTED)
    assert entry.data["phones_revealed"] is False


def test_tags_custom_fields_and_choices_are_exported(admin_actor: Actor, admin: Member) -> None:
    CustomFieldFactory(key="skin", label="肤质", type=FieldType.MULTI_SELECT, options=["干", "油"])
    CustomFieldFactory(key="vip", label="VIP", type=FieldType.BOOLEAN)
    contact = ContactFactory(
        name="张三",
        gender="female",
        stage="customer",
        owner=admin,
        custom={"skin": ["干", "油"], "vip": True},
    )
    tag = TagFactory(name="复购")
    contact.contact_tags.create(tag=tag, workspace_id=contact.workspace_id)

    job = export(
        admin_actor,
        file_format="csv",
        columns=["name", "gender", "stage", "owner", "tags", "custom.skin", "custom.vip"],
    )

    assert read_csv(job) == [
        ["Name", "Gender", "Lifecycle stage", "Owner", "Tags", "肤质", "VIP"],
        ["张三", "Female", "Customer", "管理员", "复购", "干、油", "Yes"],
    ]


def test_export_respects_data_scope(make_member: Any) -> None:
    rep = make_member(Role.SALES, display_name="小王")
    other_rep = make_member(Role.SALES, display_name="小李")
    ContactFactory(name="我的客户", owner=rep)
    ContactFactory(name="公海客户", owner=None)
    ContactFactory(name="别人的客户", owner=other_rep)
    rep_actor = actor_for_member(member=rep)
    with pytest.raises(PermissionDenied):
        export_job_create(actor=rep_actor, filters=ContactFilters(), columns=["name"])
    # a sales rep allowed to export (a custom grant) still sees only their own contacts and the pool
    exporting_rep = dataclasses.replace(
        rep_actor, permissions=rep_actor.permissions | {Permission.CONTACTS_EXPORT}
    )

    job = export(exporting_rep, file_format="csv", columns=["name", "owner"])

    assert sorted(read_csv(job)[1:]) == [["公海客户", "Public pool"], ["我的客户", "小王"]]
    assert job.total_rows == job.processed_rows == 2


def test_filters_apply_and_export_is_audited(admin_actor: Actor, admin: Member) -> None:
    ContactFactory(name="甲", stage="customer")
    ContactFactory(name="乙", stage="visitor")
    filters = ContactFilters(stages=["customer"])

    job = export(admin_actor, file_format="xlsx", columns=["name"], filters=filters)

    assert read_xlsx(job) == [["Name"], ["甲"]]
    entry = AuditEntry.objects.get(action=AuditAction.CONTACTS_EXPORTED)
    assert (entry.member_id, entry.target_id) == (admin.id, str(job.id))
    assert entry.data == {
        "count": 1,
        "filters": filters.to_dict(),
        "columns": ["name"],
        "format": "xlsx",
        "phones_revealed": False,
    }


def test_large_export_goes_in_batches(
    admin_actor: Actor, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from siyu.contacts.services import exporting

    monkeypatch.setattr(exporting, "EXPORT_BATCH", 7)
    for i in range(20):
        ContactFactory(name=f"客户{i:02d}")

    job = export(admin_actor, file_format="csv", columns=["name"])

    assert sorted(r[0] for r in read_csv(job)[1:]) == [f"客户{i:02d}" for i in range(20)]
    assert (job.status, job.total_rows, job.processed_rows) == (JobStatus.DONE, 20, 20)


def test_bad_columns_and_format_are_refused(admin_actor: Actor) -> None:
    with pytest.raises(ValidationError):
        export_job_create(actor=admin_actor, filters=ContactFilters(), columns=["password"])
    with pytest.raises(ValidationError):
        export_job_create(actor=admin_actor, filters=ContactFilters(), columns=["name"], file_format="pdf")
    assert ExportJob.objects.count() == 0


def test_background_task_and_creator_only_access(
    admin_actor: Actor, make_member: Any, other_workspace: Any
) -> None:
    ContactFactory(name="甲")
    job = export_job_create(actor=admin_actor, filters=ContactFilters(), columns=["name"], file_format="csv")

    export_enqueue(job)

    job.refresh_from_db()
    assert (job.status, job.processed_rows) == (JobStatus.DONE, 1)
    assert export_job_get(actor=admin_actor, job_id=job.id) == job
    colleague = actor_for_member(member=make_member(Role.ADMIN))
    with pytest.raises(NotFound):
        export_job_get(actor=colleague, job_id=job.id)
    assert export_job_list(actor=colleague) == []
    with workspace_scope(other_workspace.id):
        stranger = actor_for_member(member=MemberFactory(role=Role.ADMIN, workspace=other_workspace))
        with pytest.raises(NotFound):
            export_job_get(actor=stranger, job_id=job.id)
        assert export_job_list(actor=stranger) == []
