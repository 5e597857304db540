"""Import wizard and exports through the Django test client: upload → preview → confirm → progress → done."""

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from siyu.contacts.models import Contact, ExportJob, ImportJob, JobStatus
from siyu.core.tenancy import workspace_scope
from siyu.tenancy.models import AuditAction, AuditEntry, Member, Workspace
from siyu.tenancy.roles import Role
from tests.conftest import client_for
from tests.contacts.test_import import csv_bytes
from tests.factories import ContactFactory, MemberFactory


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def admin_client(client: Client, admin: Member) -> Client:
    return client_for(admin, client=client)


ROWS = [["姓名", "手机", "邮箱"], ["张三", "13800138000", "zs@example.com"], ["李四", "12345", ""]]


def upload(client: Client, data: bytes, name: str = "客户.csv") -> Any:
    return client.post(
        reverse("imports:new"), {"file": SimpleUploadedFile(name, data, content_type="text/csv")}
    )


def test_wizard_upload_preview_confirm_progress_done(admin_client: Client) -> None:
    response = upload(admin_client, csv_bytes(ROWS))
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("imports:detail", args=[job.id])

    page = admin_client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    assert '<option value="phone" selected>Phone</option>' in html
    assert "手机: “12345” is not a valid phone number." in html
    assert Contact.objects.count() == 0

    # change the mapping (ignore the email column) and refresh the preview
    page = admin_client.post(
        reverse("imports:detail", args=[job.id]),
        {
            "column_0": "name",
            "column_1": "phone",
            "column_2": "",
            "dedupe_by": "phone",
            "on_duplicate": "skip",
            "action": "preview",
        },
    )
    job.refresh_from_db()
    assert (page.status_code, job.mapping, job.on_duplicate, job.confirmed_at) == (
        200,
        {"0": "name", "1": "phone"},
        "skip",
        None,
    )

    done = admin_client.post(
        reverse("imports:detail", args=[job.id]),
        {
            "column_0": "name",
            "column_1": "phone",
            "column_2": "email",
            "dedupe_by": "phone",
            "on_duplicate": "update",
            "action": "start",
        },
    )
    assert done.status_code == 302
    job.refresh_from_db()
    assert (job.status, job.created_count, job.failed_count) == (JobStatus.DONE, 1, 1)
    assert list(Contact.objects.values_list("name", "email")) == [("张三", "zs@example.com")]

    progress = admin_client.get(reverse("imports:detail", args=[job.id]), headers={"HX-Request": "true"})
    fragment = progress.content.decode()
    assert 'id="import-progress"' in fragment
    assert "every 1s" not in fragment  # finished: the polling stops
    assert "Import finished" in fragment
    assert reverse("imports:error_report", args=[job.id]) in fragment

    report = admin_client.get(reverse("imports:error_report", args=[job.id]))
    assert report.status_code == 200
    assert report["Content-Disposition"] == "attachment; filename*=utf-8''%E5%AE%A2%E6%88%B7-errors.csv"
    rows = list(csv.reader(io.StringIO(b"".join(report.streaming_content).decode("utf-8-sig"))))  # type: ignore[attr-defined]
    assert rows == [
        ["Row", "姓名", "手机", "邮箱", "Reason"],
        ["3", "李四", "12345", "", "手机: “12345” is not a valid phone number."],
    ]

    listing = admin_client.get(reverse("imports:list"))
    assert "客户.csv" in listing.content.decode()


def test_running_job_polls_every_second(admin_client: Client, admin: Member) -> None:
    upload(admin_client, csv_bytes(ROWS))
    job = ImportJob.objects.get()
    job.mapping, job.status = {"0": "name", "1": "phone"}, JobStatus.RUNNING
    job.total_rows, job.processed_rows = 2, 1
    from siyu.core.time import now

    job.confirmed_at = now()
    job.save()

    fragment = admin_client.get(
        reverse("imports:detail", args=[job.id]), headers={"HX-Request": "true"}
    ).content.decode()
    assert 'hx-trigger="every 1s"' in fragment
    assert 'aria-valuenow="50"' in fragment


def test_bad_file_upload_shows_the_reason_and_keeps_nothing(admin_client: Client) -> None:
    response = upload(admin_client, b"", name="empty.csv")
    # Django refuses an empty upload before the service sees it
    assert response.status_code == 400
    response = upload(admin_client, b"%PDF-1.4 ...", name="contacts.xlsx")
    assert response.status_code == 400
    assert "This file is not a spreadsheet (it looks like a pdf)." in response.content.decode()
    assert ImportJob.objects.count() == 0
    assert Contact.objects.count() == 0


def test_roles_without_import_get_403(client: Client, rep: Member) -> None:
    client_for(rep, client=client)
    assert client.get(reverse("imports:new")).status_code == 403
    assert client.get(reverse("imports:list")).status_code == 403
    assert client.post(reverse("imports:export_create")).status_code == 403


def test_export_from_the_list_query_then_download(admin_client: Client, admin: Member) -> None:
    ContactFactory(name="=cmd|' /C calc'!A0", stage="customer", phone="+8613800138000")
    ContactFactory(name="访客乙", stage="visitor")

    response = admin_client.post(
        reverse("imports:export_create"), {"query": "stage=customer&col=name&col=phone", "format": "csv"}
    )
    job = ExportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("imports:export_detail", args=[job.id])
    assert (job.status, job.columns, job.filters["stages"]) == (
        JobStatus.DONE,
        ["name", "phone"],
        ["customer"],
    )

    detail = admin_client.get(response["Location"]).content.decode()
    assert reverse("imports:export_download", args=[job.id]) in detail
    download = admin_client.get(reverse("imports:export_download", args=[job.id]))
    assert download.status_code == 200
    assert download["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(download.streaming_content)  # type: ignore[attr-defined]
    assert list(csv.reader(io.StringIO(body.decode("utf-8-sig")))) == [
        ["Name", "Phone"],
        ["'=cmd|' /C calc'!A0", "13800138000"],
    ]
    assert AuditEntry.objects.filter(action=AuditAction.CONTACTS_EXPORTED, member=admin).count() == 1


def test_export_is_only_for_its_creator(admin_client: Client, client: Client, make_member: Any) -> None:
    ContactFactory(name="甲")
    admin_client.post(reverse("imports:export_create"), {"format": "xlsx"})
    job = ExportJob.objects.get()
    colleague = make_member(Role.ADMIN)
    other = client_for(colleague)
    assert other.get(reverse("imports:export_detail", args=[job.id])).status_code == 404
    assert other.get(reverse("imports:export_download", args=[job.id])).status_code == 404


def test_another_workspace_gets_404(admin_client: Client, other_workspace: Workspace) -> None:
    upload(admin_client, csv_bytes(ROWS))
    job = ImportJob.objects.get()
    admin_client.post(
        reverse("imports:detail", args=[job.id]),
        {
            "column_0": "name",
            "column_1": "phone",
            "dedupe_by": "phone",
            "on_duplicate": "update",
            "action": "start",
        },
    )
    ContactFactory(name="甲")
    admin_client.post(reverse("imports:export_create"), {"format": "csv"})
    export = ExportJob.objects.get()

    with workspace_scope(other_workspace.id):
        stranger = MemberFactory(role=Role.OWNER, workspace=other_workspace)
    foreign = client_for(stranger)
    for name, job_id in [
        ("imports:detail", job.id),
        ("imports:error_report", job.id),
        ("imports:export_detail", export.id),
        ("imports:export_download", export.id),
    ]:
        assert foreign.get(reverse(name, args=[job_id])).status_code == 404, name
    listing = foreign.get(reverse("imports:list")).content.decode()
    assert "客户.csv" not in listing
    assert reverse("imports:export_detail", args=[export.id]) not in listing
