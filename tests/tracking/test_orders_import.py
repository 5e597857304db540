"""The order import: a spreadsheet's rows become `Order Completed` events on the customers they name."""

import csv
import io
import zipfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone, translation
from openpyxl import Workbook

from siyu.contacts.models import Contact, Identity, IdentityType, JobStatus, Stage, TimelineEntry
from siyu.core.errors import NotFound, PayloadTooLarge, PermissionDenied, ValidationError
from siyu.core.tenancy import workspace_scope
from siyu.tenancy.actor import Actor
from siyu.tenancy.models import Member
from siyu.tenancy.roles import Permission, Role
from siyu.tenancy.selectors import actor_for_member
from siyu.tracking.models import ContactActivity, Event, OrderImportJob, Purchase, Source, SourceKind
from siyu.tracking.selectors.purchases import order_import_job_get
from siyu.tracking.services import orders as order_services
from siyu.tracking.services.orders import (
    order_import_job_configure,
    order_import_job_confirm,
    order_import_job_create,
    order_import_job_run,
    order_import_preview,
    order_import_report_path,
)
from siyu.tracking.tasks import order_import_enqueue
from tests.conftest import client_for
from tests.factories import ChannelFactory, ContactFactory, MemberFactory
from tests.tracking.events import process_all

pytestmark = pytest.mark.django_db

HEADER = ["订单号", "手机号", "客户姓名", "下单时间", "金额", "商品", "渠道"]
PHONE = "+8613800001234"
NEW_PHONE = "+8613900005678"


@pytest.fixture(autouse=True)
def _media_and_english(settings: Any, tmp_path: Path) -> Iterator[None]:
    settings.MEDIA_ROOT = tmp_path / "media"
    with translation.override("en"):
        yield


@pytest.fixture
def store(workspace: Any) -> Any:
    return ChannelFactory(name="门店", code="store")


@pytest.fixture
def customer(workspace: Any) -> Contact:
    return ContactFactory(name="张三", phone=PHONE)


def day(days_ago: int) -> str:
    return (timezone.localdate() - timedelta(days=days_ago)).isoformat()


def local(text: str) -> datetime:
    return timezone.make_aware(datetime.fromisoformat(text))


def rows() -> list[list[Any]]:
    return [
        HEADER,
        ["SO-1001", "13800001234", "张三", f"{day(10)} 14:30", "￥1,299.50", "修护面霜×2; 洁面乳", "门店"],
        ["SO-1002", "139 0000 5678", "李四", f"{day(9).replace('-', '/')} 09:05", "88", "", "store"],
        ["", "13800001234", "", day(8), "10", "", ""],
        ["SO-1004", "13800001234", "", "yesterday", "10", "", ""],
        ["SO-1005", "13800001234", "", day(8), "abc", "", ""],
        ["SO-1006", "13800001234", "", day(8), "10", "", "抖音"],
        ["SO-1007", "", "", day(8), "10", "", ""],
        ["SO-1001", "13800001234", "", day(7), "5", "", ""],
        ["SO-1009", "12345", "", day(7), "5", "", ""],
    ]


def csv_bytes(table: list[list[Any]], *, encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(table)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(table: list[list[Any]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in table:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def upload(actor: Actor, data: bytes, name: str = "订单.csv") -> OrderImportJob:
    return order_import_job_create(actor=actor, upload=io.BytesIO(data), file_name=name, language="en")


def run(actor: Actor, job: OrderImportJob) -> OrderImportJob:
    order_import_job_confirm(actor=actor, job=job)
    job = order_import_job_run(actor=actor, job=job)
    process_all()
    return job


def counts(job: OrderImportJob) -> tuple[str, int, int, int, int, int]:
    return (
        job.status,
        job.total_rows,
        job.accepted_count,
        job.duplicate_count,
        job.failed_count,
        job.contacts_created_count,
    )


def report(job: OrderImportJob) -> list[list[str]]:
    path = order_import_report_path(job)
    assert path is not None
    return list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))


EXPECTED_REPORT = [
    ["Row", *HEADER, "Result", "Reason"],
    [
        "3",
        "SO-1002",
        "139 0000 5678",
        "李四",
        "",
        "88",
        "",
        "store",
        "Imported",
        "A new customer was created for this order.",
    ],
    ["4", "", "13800001234", "", "", "10", "", "", "Not imported", "订单号: The order no. is missing."],
    ["5", "SO-1004", "13800001234", "", "yesterday", "10", "", "", "Not imported", ""],
    [
        "6",
        "SO-1005",
        "13800001234",
        "",
        "",
        "abc",
        "",
        "",
        "Not imported",
        "金额: “abc” is not an amount of money.",
    ],
    [
        "7",
        "SO-1006",
        "13800001234",
        "",
        "",
        "10",
        "",
        "抖音",
        "Not imported",
        "渠道: There is no channel “抖音”.",
    ],
    [
        "8",
        "SO-1007",
        "",
        "",
        "",
        "10",
        "",
        "",
        "Not imported",
        "Give the customer's phone or an identity (email, unionid, external id …).",
    ],
    [
        "9",
        "SO-1001",
        "13800001234",
        "",
        "",
        "5",
        "",
        "",
        "Duplicate",
        "The same order no. is on row 2; only that row is imported.",
    ],
    [
        "10",
        "SO-1009",
        "12345",
        "",
        "",
        "5",
        "",
        "",
        "Not imported",
        "手机号: “12345” is not a valid phone number.",
    ],
]


def _assert_report(job: OrderImportJob, table: list[list[Any]]) -> None:
    got = report(job)
    expected = [list(row) for row in EXPECTED_REPORT]
    for line in expected[1:]:  # the time cells, as uploaded
        line[4] = str(table[int(line[0]) - 1][3])
    expected[3][-1] = (
        "下单时间: “yesterday” is not a time (use YYYY-MM-DD HH:MM, for example 2024-03-05 14:30)."
    )
    assert got == expected


def _assert_imported(admin: Member, store: Any, customer: Contact) -> None:
    purchases = {p.order_no: p for p in Purchase.objects.all()}
    assert set(purchases) == {"SO-1001", "SO-1002"}
    first, second = purchases["SO-1001"], purchases["SO-1002"]
    assert (first.contact_id, first.amount, first.placed_at, first.channel_id, first.origin) == (
        customer.id,
        Decimal("1299.50"),
        local(f"{day(10)} 14:30"),
        store.id,
        "import",
    )
    assert first.items == [{"name": "修护面霜", "quantity": 2}, {"name": "洁面乳"}]
    assert first.message_id == "order:SO-1001"
    created = Contact.objects.get(phone=NEW_PHONE)
    assert (created.name, created.stage, created.channel_id, created.owner_id) == (
        "李四",
        Stage.CUSTOMER,
        store.id,
        admin.id,
    )
    assert (second.contact_id, second.amount, second.placed_at) == (
        created.id,
        Decimal("88.00"),
        local(f"{day(9)} 09:05"),
    )
    activity = {a.contact_id: (a.orders, a.revenue) for a in ContactActivity.objects.all()}
    assert activity == {customer.id: (1, Decimal("1299.50")), created.id: (1, Decimal("88.00"))}
    source = Source.objects.get(kind=SourceKind.IMPORT)
    assert set(Event.objects.values_list("source_id", flat=True)) == {source.id}


def test_a_utf8_csv_is_mapped_previewed_and_imported(admin_actor, admin, store, customer):
    table = rows()
    job = upload(admin_actor, csv_bytes(table))
    assert job.mapping == {
        "0": "order_no",
        "1": "phone",
        "2": "name",
        "3": "placed_at",
        "4": "amount",
        "5": "items",
        "6": "channel",
    }

    preview = order_import_preview(actor=admin_actor, job=job)
    assert [(row.number, row.error, sorted(row.error_columns), row.note) for row in preview] == [
        (2, "", [], ""),
        (3, "", [], "A new customer will be created."),
        (4, "订单号: The order no. is missing.", [0], ""),
        (5, f"下单时间: {EXPECTED_REPORT_TIME_ERROR}", [3], ""),
        (6, "金额: “abc” is not an amount of money.", [4], ""),
        (7, "渠道: There is no channel “抖音”.", [6], ""),
        (8, "Give the customer's phone or an identity (email, unionid, external id …).", [1], ""),
        (9, "", [], "Repeats the order no. of row 2; skipped."),
        (10, "手机号: “12345” is not a valid phone number.", [1], ""),
    ]
    assert not Contact.objects.filter(phone=NEW_PHONE).exists()  # the preview writes nothing

    job = run(admin_actor, job)

    assert counts(job) == ("done", 9, 2, 1, 6, 1)
    assert not (Path(django_settings.MEDIA_ROOT) / job.file_path).exists()  # the upload is not kept
    _assert_imported(admin, store, customer)
    _assert_report(job, table)


EXPECTED_REPORT_TIME_ERROR = "“yesterday” is not a time (use YYYY-MM-DD HH:MM, for example 2024-03-05 14:30)."


def test_a_gbk_csv_imports_the_same(admin_actor, admin, store, customer):
    table = rows()
    job = run(admin_actor, upload(admin_actor, csv_bytes(table, encoding="gbk")))
    assert job.encoding == "gb18030"
    assert counts(job) == ("done", 9, 2, 1, 6, 1)
    _assert_imported(admin, store, customer)
    _assert_report(job, table)


def test_an_xlsx_with_real_times_and_numbers_imports_the_same(admin_actor, admin, store, customer):
    table = rows()
    table[1][1], table[1][3], table[1][4] = (
        13800001234,
        local(f"{day(10)} 14:30").replace(tzinfo=None),
        1299.5,
    )
    table[2][4] = 88
    job = run(admin_actor, upload(admin_actor, xlsx_bytes(table), name="订单.xlsx"))
    assert counts(job) == ("done", 9, 2, 1, 6, 1)
    _assert_imported(admin, store, customer)


def test_importing_the_same_file_again_records_and_counts_nothing_twice(admin_actor, store, customer):
    data = csv_bytes(rows())
    run(admin_actor, upload(admin_actor, data))
    before = sorted(ContactActivity.objects.values_list("contact_id", "orders", "revenue", "events"))

    again = run(admin_actor, upload(admin_actor, data))

    assert counts(again) == ("done", 9, 0, 3, 6, 0)
    assert Purchase.objects.count() == 2
    assert Contact.objects.count() == 2
    assert sorted(ContactActivity.objects.values_list("contact_id", "orders", "revenue", "events")) == before
    assert report(again)[1] == [
        "2",
        "SO-1001",
        "13800001234",
        "张三",
        f"{day(10)} 14:30",
        "￥1,299.50",
        "修护面霜×2; 洁面乳",
        "门店",
        "Duplicate",
        "This order is already recorded; it was left as it is.",
    ]


def test_a_file_imported_twice_before_the_processor_ran_still_counts_once(admin_actor, store, customer):
    data = csv_bytes(rows())
    for _ in range(2):
        job = upload(admin_actor, data)
        order_import_job_confirm(actor=admin_actor, job=job)
        assert counts(order_import_job_run(actor=admin_actor, job=job))[2] == 2
    process_all()
    assert Purchase.objects.count() == 2
    assert Event.objects.filter(name="Order Completed").count() == 2  # same messageIds: stored once
    assert sorted(ContactActivity.objects.values_list("orders", flat=True)) == [1, 1]


def test_customers_are_found_by_any_identity_and_named_by_an_id_the_resolver_knows(admin_actor):
    with_user_id = ContactFactory(name="有账号")
    Identity.objects.create(contact=with_user_id, type=IdentityType.USER_ID, value="shop-42")
    Identity.objects.create(contact=with_user_id, type=IdentityType.WECHAT_UNIONID, value="u-42")
    by_phone = ContactFactory(name="王五", phone=PHONE)
    other = ContactFactory(name="赵六", phone="+8613700001111")
    table = [
        ["订单号", "手机号", "unionid", "外部ID", "下单时间", "金额"],
        ["U-1", "", "u-42", "", day(3), "10"],
        ["U-2", "13800001234", "", "", day(3), "20"],
        ["U-3", "", "u-new", "crm-7", day(3), "30"],
        ["U-4", "", "", "crm-7", day(2), "40"],  # the customer the row above created
        ["U-5", "13700001111", "u-42", "", day(2), "50"],  # two different customers
    ]
    job = upload(admin_actor, csv_bytes(table))
    assert job.mapping == {
        "0": "order_no",
        "1": "phone",
        "2": "identity.wechat_unionid",
        "3": "identity.external_id",
        "4": "placed_at",
        "5": "amount",
    }
    job = run(admin_actor, job)

    assert counts(job) == ("done", 5, 4, 0, 1, 1)
    created = Identity.objects.get(type=IdentityType.EXTERNAL, value="crm-7").contact
    assert created.stage == Stage.CUSTOMER
    assert Identity.objects.get(type=IdentityType.WECHAT_UNIONID, value="u-new").contact_id == created.id
    assert dict(Purchase.objects.values_list("order_no", "contact_id")) == {
        "U-1": with_user_id.id,
        "U-2": by_phone.id,
        "U-3": created.id,
        "U-4": created.id,
    }
    # A contact with a userId is named by it; the others by their order handle, attached once.
    assert Event.objects.get(properties__order_id="U-1").user_id == "shop-42"
    handles = dict(Identity.objects.filter(type=IdentityType.ANONYMOUS).values_list("contact_id", "value"))
    assert handles == {by_phone.id: f"siyu-contact-{by_phone.id}", created.id: f"siyu-contact-{created.id}"}
    assert other.id not in handles
    assert report(job)[-1][-2:] == [
        "Not imported",
        "The phone and identities of this row belong to 2 different customers. "
        "Keep one of them in the row, or merge the customers first.",
    ]
    # A second import for the same customers adds no handle twice.
    run(admin_actor, upload(admin_actor, csv_bytes([table[0], ["U-6", "13800001234", "", "", day(1), "60"]])))
    assert Identity.objects.filter(type=IdentityType.ANONYMOUS).count() == 2
    assert ContactActivity.objects.get(contact_id=by_phone.id).orders == 2


def test_a_member_who_cannot_create_customers_gets_the_unknown_ones_reported(workspace, make_member):
    member = make_member(Role.MANAGER)
    actor = actor_for_member(member=member)
    actor.permissions = actor.permissions - {Permission.CONTACTS_WRITE}
    results = order_services.orders_submit(
        actor=actor, orders=[{"order_no": "N-1", "placed_at": day(1), "amount": "1", "phone": NEW_PHONE}]
    )
    assert [(r.status, r.errors) for r in results] == [
        (
            "failed",
            {"contact": "No customer has this phone or identity, and your role cannot create customers."},
        )
    ]
    assert not Contact.objects.exists()


def test_big_files_go_in_batches_and_a_resumed_job_skips_committed_rows(admin_actor, customer, monkeypatch):
    monkeypatch.setattr(order_services, "MAX_ORDERS", 2)
    table = [HEADER, *[[f"B-{n}", "13800001234", "", day(5), str(n), "", ""] for n in range(1, 6)]]
    job = upload(admin_actor, csv_bytes(table))
    order_import_job_confirm(actor=admin_actor, job=job)
    progress: list[int] = []
    job = order_import_job_run(
        actor=admin_actor, job=job, progress=lambda j: progress.append(j.processed_rows)
    )
    assert progress == [0, 2, 4, 5]
    assert counts(job) == ("done", 5, 5, 0, 0, 0)

    # A worker killed after two committed batches: the job is still running, its counters say 4 rows.
    resumed = upload(
        admin_actor,
        csv_bytes(table[:1] + [[f"R-{n}", "13800001234", "", day(5), "1", "", ""] for n in range(1, 6)]),
    )
    order_import_job_confirm(actor=admin_actor, job=resumed)
    OrderImportJob.objects.filter(id=resumed.id).update(
        status=JobStatus.RUNNING, processed_rows=4, accepted_count=4
    )
    resumed.refresh_from_db()
    resumed = order_import_job_run(actor=admin_actor, job=resumed)
    process_all()
    assert counts(resumed) == ("done", 5, 5, 0, 0, 0)
    assert sorted(Purchase.objects.filter(order_no__startswith="R-").values_list("order_no", flat=True)) == [
        "R-5"
    ]


def test_bad_files_are_refused_whole_and_leave_nothing(admin_actor, settings):
    with pytest.raises(ValidationError, match=r"named \.xlsx but is not an Excel workbook"):
        upload(admin_actor, csv_bytes(rows()), name="订单.xlsx")
    with pytest.raises(ValidationError, match="first row holds data"):
        upload(admin_actor, csv_bytes(rows()[1:]))
    with pytest.raises(ValidationError, match="column names but no rows"):
        upload(admin_actor, csv_bytes(rows()[:1]))
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (4 * 1024 * 1024))
    with pytest.raises(ValidationError, match="zip bomb"):
        upload(admin_actor, bomb.getvalue(), name="订单.xlsx")
    settings.SIYU_IMPORT_MAX_BYTES = 100
    with pytest.raises(PayloadTooLarge, match="larger than 0 MB"):
        upload(admin_actor, csv_bytes(rows()))
    assert not OrderImportJob.objects.exists()
    media = Path(settings.MEDIA_ROOT)
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))


def test_a_file_broken_further_down_fails_the_job_before_any_write(admin_actor, customer):
    good = [HEADER, *[[f"G-{n}", "13800001234", "", day(5), "1", "", ""] for n in range(3000)]]
    data = csv_bytes(good) + b"G-X,\xff\xfe\xfa,1\n"
    job = run(admin_actor, upload(admin_actor, data))
    assert job.status == JobStatus.FAILED
    assert job.message == (
        f"The file's text is broken on line {len(good) + 1}: it is not valid UTF-8. "
        "Save it again as “CSV UTF-8” or as an .xlsx workbook."
    )
    assert job.processed_rows == 0
    assert not Purchase.objects.exists()


def test_the_mapping_needs_the_order_fields_and_a_customer_column(admin_actor):
    job = upload(admin_actor, csv_bytes(rows()))
    with pytest.raises(ValidationError) as duplicate:
        order_import_job_configure(actor=admin_actor, job=job, mapping={"0": "order_no", "1": "order_no"})
    assert duplicate.value.fields == {
        "mapping.1": "Columns “订单号” and “手机号” are both matched to the same field."
    }
    order_import_job_configure(actor=admin_actor, job=job, mapping={"0": "order_no", "3": "placed_at"})
    with pytest.raises(ValidationError) as missing:
        order_import_job_confirm(actor=admin_actor, job=job)
    assert missing.value.fields == {
        "amount": "Match a column to “Amount (¥)”.",
        "contact": "Match a column to the customer's phone or an identity (email, unionid, external id …).",
    }
    job.refresh_from_db()
    assert job.confirmed_at is None


def test_members_without_the_permission_cannot_import(rep_actor):
    with pytest.raises(PermissionDenied):
        upload(rep_actor, csv_bytes(rows()))


def test_another_workspace_cannot_see_the_import(admin_actor, other_workspace):
    job = upload(admin_actor, csv_bytes(rows()))
    with workspace_scope(other_workspace.id):
        owner = MemberFactory(role=Role.OWNER)
        with pytest.raises(NotFound):
            order_import_job_get(actor=actor_for_member(member=owner), job_id=job.id)
        assert not OrderImportJob.objects.exists()


def test_the_background_task_runs_as_the_member_who_started_it(admin_actor, customer, store):
    job = upload(admin_actor, csv_bytes(rows()))
    order_import_job_confirm(actor=admin_actor, job=job)
    order_import_enqueue(job)  # the test settings run tasks at once
    job.refresh_from_db()
    assert counts(job) == ("done", 9, 2, 1, 6, 1)
    assert TimelineEntry.objects.filter(contact__phone=NEW_PHONE, kind="imported").count() == 1


# --- the pages ------------------------------------------------------------------------------------


def test_the_wizard_upload_columns_preview_start_progress_report(client, admin, store, customer):
    client = client_for(admin, client=client)
    assert client.get(reverse("orders:import")).status_code == 200
    response = client.post(
        reverse("orders:import"),
        {"file": SimpleUploadedFile("订单.csv", csv_bytes(rows()), content_type="text/csv")},
    )
    job = OrderImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("orders:import_detail", args=[job.id])

    page = client.get(response["Location"]).content.decode()
    assert '<option value="order_no" selected>Order no.</option>' in page
    assert "金额: “abc” is not an amount of money." in page
    assert "A new customer will be created." in page

    started = client.post(
        reverse("orders:import_detail", args=[job.id]),
        {**{f"column_{i}": target for i, target in job.mapping.items()}, "action": "start"},
    )
    assert started.status_code == 302
    process_all()
    progress = client.get(reverse("orders:import_detail", args=[job.id]), headers={"HX-Request": "true"})
    html = progress.content.decode()
    assert 'data-count="accepted">2<' in html
    assert 'data-count="contacts">1<' in html
    assert "hx-trigger" not in html  # finished: no more polling
    download = client.get(reverse("orders:import_report", args=[job.id]))
    assert download["Content-Disposition"].startswith("attachment;")
    assert "report.csv" in download["Content-Disposition"]
    assert b"".join(download.streaming_content).decode("utf-8-sig").splitlines()[0] == ",".join(
        ["Row", *HEADER, "Result", "Reason"]
    )
    listing = client.get(reverse("orders:list")).content.decode()
    assert "SO-1001" in listing
    assert "SO-1002" in listing


def test_a_bad_upload_is_shown_on_the_form(client, admin):
    client = client_for(admin, client=client)
    response = client.post(
        reverse("orders:import"),
        {"file": SimpleUploadedFile("订单.pdf", b"%PDF-1.4", content_type="application/pdf")},
    )
    assert response.status_code == 400
    assert "is not a spreadsheet Siyu can read" in response.content.decode()


def test_pages_refuse_members_without_the_permission_and_other_workspaces(
    client, admin, rep, other_workspace
):
    job = upload(actor_for_member(member=admin), csv_bytes(rows()))
    rep_client = client_for(rep)
    assert rep_client.get(reverse("orders:import")).status_code == 403
    assert rep_client.get(reverse("orders:import_detail", args=[job.id])).status_code == 403
    with workspace_scope(other_workspace.id):
        stranger = MemberFactory(role=Role.OWNER)
    stranger_client = client_for(stranger)
    for name in ("orders:import_detail", "orders:import_report"):
        assert stranger_client.get(reverse(name, args=[job.id])).status_code == 404


def test_a_later_copy_of_an_order_whose_row_failed_is_imported(admin_actor, monkeypatch):
    monkeypatch.setattr(order_services, "MAX_ORDERS", 2)
    ContactFactory(name="甲", phone=PHONE)
    ContactFactory(name="乙", phone=NEW_PHONE, email="yi@example.com")
    table = [
        ["订单号", "手机号", "邮箱", "下单时间", "金额"],
        ["F-1", "13800001234", "yi@example.com", day(3), "10"],  # two customers: fails
        ["F-2", "13800001234", "", day(3), "20"],
        ["F-1", "13800001234", "", day(2), "10"],  # the corrected row, in the next batch
    ]
    job = run(admin_actor, upload(admin_actor, csv_bytes(table)))
    assert counts(job) == ("done", 3, 2, 0, 1, 0)
    assert sorted(Purchase.objects.values_list("order_no", flat=True)) == ["F-1", "F-2"]


def test_a_repeated_order_no_in_one_batch_is_tried_when_its_first_copy_fails(admin_actor):
    ContactFactory(name="甲", phone=PHONE, email="jia@example.com")
    ContactFactory(name="乙", phone=NEW_PHONE, email="yi@example.com")
    table = [
        ["订单号", "手机号", "邮箱", "下单时间", "金额"],
        ["F-1", "13800001234", "yi@example.com", day(3), "10"],  # two customers: fails
        ["F-1", "13800001234", "", day(2), "10"],  # the corrected copy: tried in its place
        ["F-1", "13900005678", "", day(2), "10"],  # a copy of an imported row: a duplicate
        ["G-1", "13800001234", "yi@example.com", day(3), "20"],  # fails
        ["G-1", "13900005678", "jia@example.com", day(3), "20"],  # fails too: reported, not dropped
    ]
    job = run(admin_actor, upload(admin_actor, csv_bytes(table)))

    assert counts(job) == ("done", 5, 1, 1, 3, 0)
    assert list(Purchase.objects.values_list("order_no", "amount")) == [("F-1", Decimal("10.00"))]
    two_customers = (
        "The phone and identities of this row belong to 2 different customers. "
        "Keep one of them in the row, or merge the customers first."
    )
    assert [line[0:1] + line[-2:] for line in report(job)[1:]] == [
        ["2", "Not imported", two_customers],
        ["4", "Duplicate", "The same order no. is on row 3; only that row is imported."],
        ["5", "Not imported", two_customers],
        ["6", "Not imported", two_customers],
    ]


def test_an_api_call_tries_a_later_copy_of_a_failed_order(admin_actor):
    ContactFactory(name="甲", phone=PHONE)
    ContactFactory(name="乙", phone=NEW_PHONE)
    results = order_services.orders_submit(
        actor=admin_actor,
        orders=[
            {"order_no": "A-1", "placed_at": day(2), "amount": "1", "phone": PHONE, "channel": "nowhere"},
            {"order_no": "A-1", "placed_at": day(2), "amount": "1", "phone": PHONE, "email": "x@example.com"},
            {"order_no": "A-1", "placed_at": day(2), "amount": "1", "phone": NEW_PHONE},
        ],
    )
    assert [(r.status, r.detail) for r in results] == [
        ("failed", ""),
        ("accepted", ""),
        ("duplicate", "The same order no. is at index 1 of this call; only that order is sent."),
    ]


def test_a_customer_made_for_old_orders_was_acquired_with_its_earliest_order(admin_actor, monkeypatch):
    monkeypatch.setattr(order_services, "MAX_ORDERS", 2)
    known = ContactFactory(name="老客", phone=PHONE)
    known_since = Contact.objects.get(id=known.id).created_at
    table = [
        ["订单号", "手机号", "下单时间", "金额"],
        ["H-1", "13900005678", f"{day(150)} 10:00", "10"],
        ["H-2", "13800001234", f"{day(300)} 10:00", "10"],  # a known customer keeps its time
        ["H-3", "13900005678", f"{day(200)} 09:30", "20"],  # earlier, in the next batch
        ["H-4", "13900005678", f"{day(100)} 09:30", "20"],
    ]
    job = run(admin_actor, upload(admin_actor, csv_bytes(table)))

    assert counts(job) == ("done", 4, 4, 0, 0, 1)
    created = Contact.objects.get(phone=NEW_PHONE)
    assert created.created_at == local(f"{day(200)} 09:30")
    assert Contact.objects.get(id=known.id).created_at == known_since

    # A later import is not the one that created the customer: its older order leaves the time alone.
    again = [table[0], ["H-5", "13900005678", f"{day(250)} 10:00", "5"]]
    assert counts(run(admin_actor, upload(admin_actor, csv_bytes(again))))[2] == 1
    assert Contact.objects.get(id=created.id).created_at == local(f"{day(200)} 09:30")


def test_an_unknown_buyer_of_orders_from_200_days_ago_is_created_then(admin_actor):
    placed_at = timezone.localtime().replace(microsecond=0) - timedelta(days=200)
    results = order_services.orders_submit(
        actor=admin_actor,
        orders=[
            {"order_no": "O-1", "placed_at": placed_at.isoformat(), "amount": "10", "phone": NEW_PHONE},
            {"order_no": "O-2", "placed_at": day(1), "amount": "10", "phone": NEW_PHONE},
        ],
    )
    assert [(r.status, r.contact_created) for r in results] == [("accepted", True), ("accepted", False)]
    contact = Contact.objects.get(phone=NEW_PHONE)
    assert contact.created_at == placed_at
    assert contact.id == results[0].contact_id == results[1].contact_id
