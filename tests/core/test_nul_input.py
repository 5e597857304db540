"""A NUL character in any input becomes U+FFFD before anything is kept (`siyu.core.text`): PostgreSQL
stores NUL in neither text nor JSONB, so without it these inputs were server errors or half-written
imports there, and stored NUL as is on SQLite."""

import io
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from siyu.contacts.models import Channel, Contact, ImportJob, JobStatus, SavedView, Tag, TagGroup
from siyu.contacts.services.importing import import_job_create
from siyu.core.errors import ValidationError
from siyu.core.tenancy import workspace_scope
from siyu.segments.models import Segment
from siyu.tenancy.actor import Actor
from siyu.tracking.models import OrderImportJob, Purchase
from siyu.tracking.services.orders import (
    order_import_job_confirm,
    order_import_job_create,
    order_import_job_run,
)
from tests.api.helpers import ApiClient, in_english, make_key, other_workspace_client
from tests.conftest import client_for
from tests.contacts.test_import import csv_bytes, run, upload, xlsx_bytes
from tests.factories import CustomFieldFactory
from tests.tracking.events import process_all

pytestmark = pytest.mark.django_db
N, R = "\x00", "\ufffd"


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> Iterator[None]:
    settings.MEDIA_ROOT = tmp_path / "media"
    with translation.override("en"):
        yield


@pytest.fixture
def api(admin_actor: Actor) -> ApiClient:
    return in_english(ApiClient(make_key(admin_actor, ["read", "write"])))


def test_api_bodies_and_query_strings_keep_the_input_with_nul_replaced(
    api: ApiClient, workspace: Any, other_workspace: Any
) -> None:
    CustomFieldFactory(key="note", label="备注", type="text")
    created = api.post(
        "/contacts",
        {
            "name": f"张{N}三",
            "custom": {"note": f"a{N}b"},
            "tags": [f"V{N}IP"],
            "identities": [{"type": "wechat_openid", "value": f"o{N}1"}],
        },
    )
    assert created.status_code == 201, created.content
    contact = Contact.objects.get()
    assert (contact.name, contact.custom["note"]) == (f"张{R}三", f"a{R}b")
    assert list(Tag.objects.values_list("name", flat=True)) == [f"V{R}IP"]
    assert [i.value for i in contact.identities.all()] == [f"o{R}1"]

    bulk = api.post(
        "/contacts/bulk-upsert",
        {
            "rows": [
                {"phone": "13800000001", "name": "好"},
                {"phone": "13800000002", "name": f"坏{N}", "channel": f"c{N}h"},
            ]
        },
    )
    assert bulk.status_code == 200, bulk.content
    assert [row["status"] for row in bulk.json()["results"]] == ["created", "created"]
    assert Contact.objects.filter(name=f"坏{R}").exists()
    assert Channel.objects.filter(name=f"c{R}h").exists()

    # A lone surrogate (JSON's "\\ud800") is no more storable than NUL, in either database.
    assert api.post("/tag-groups", {"name": "a\ud800b"}).status_code == 201
    assert TagGroup.objects.filter(name=f"a{R}b").exists()

    rule = {"version": 1, "root": {"kind": "field", "field": "city", "op": "eq", "value": f"上{N}海"}}
    assert api.post("/segments", {"name": f"s{N}", "rules": rule}).status_code == 201
    assert Segment.objects.get().rules["root"]["value"] == f"上{R}海"

    for path, params in (
        ("/contacts", {"q": f"张{N}"}),
        ("/contacts", {"cf_note": f"a{N}"}),
        ("/segments", {"q": N}),
    ):
        answer = api.get(path, params)
        assert answer.status_code == 200, (path, answer.content)
    assert [c["name"] for c in api.get("/contacts", {"q": f"张{N}三"}).json()["items"]] == [f"张{R}三"]

    stranger = other_workspace_client(other_workspace)
    assert stranger.get("/contacts", {"q": f"张{N}三"}).json()["items"] == []
    with workspace_scope(other_workspace.id):
        assert not Contact.objects.exists()


def test_pages_take_nul_in_searches_and_saved_views(admin: Any, workspace: Any) -> None:
    client = client_for(admin)
    assert client.get(reverse("contacts:list"), {"q": f"a{N}"}).status_code == 200
    assert client.get(reverse("segments:list"), {"q": f"a{N}"}).status_code == 200
    saved = client.post(reverse("contacts:saved_view_create"), {"name": "近期", "query": "q=a%00b"})
    assert saved.status_code == 302
    assert SavedView.objects.get().filters["q"] == f"a{R}b"
    # Queries and rules carried inside a form field, decoded by the view.
    Contact.objects.create(name=f"a{R}b", stage="visitor")
    bulk = client.post(
        reverse("contacts:bulk"),
        {"action": "stage", "target": "all", "stage": "customer", "query": "q=a%00b"},
    )
    assert bulk.status_code == 302
    assert Contact.objects.get().stage == "customer"
    assert client.post(reverse("imports:export_create"), {"query": "q=a%00b"}).status_code in (200, 302)
    rules = '{"version": 1, "root": {"kind": "field", "field": "city", "op": "eq", "value": "上\\u0000海"}}'
    assert client.post(reverse("segments:preview"), {"rules": rules}).status_code == 200
    assert client.post(reverse("segments:create"), {"name": "上海", "rules": rules}).status_code == 302
    assert Segment.objects.get().rules["root"]["value"] == f"上{R}海"


def test_imports_keep_every_row_with_nul_replaced(admin_actor: Actor) -> None:
    rows = [
        ["姓名", "手机号", "标签", f"备{N}注"],
        ["好", "13800000001", "", ""],
        [f"坏{N}", "13800000002", f"t{N}", "x"],
    ]
    job = run(admin_actor, upload(admin_actor, csv_bytes(rows, encoding="utf-16")))
    assert (job.status, job.created_count) == (JobStatus.DONE, 2), job.message
    assert job.headers[-1] == f"备{R}注"
    assert set(Contact.objects.values_list("name", flat=True)) == {"好", f"坏{R}"}
    assert list(Tag.objects.values_list("name", flat=True)) == [f"t{R}"]

    # Past the 64 KB sample the upload checks for binary files, and in the second batch of rows.
    many = [["姓名", "手机号"]] + [[f"客户{i}" + "x" * 40, f"139{i:08d}"] for i in range(1500)]
    many[1201][0] = f"客{N}户"
    data = csv_bytes(many)
    assert data.index(b"\x00") > 64 * 1024
    job = run(admin_actor, upload(admin_actor, data))
    assert (job.status, job.created_count) == (JobStatus.DONE, 1500), job.message
    assert Contact.objects.filter(name=f"客{R}户").exists()

    day = f"{(timezone.localdate() - timedelta(days=3)).isoformat()} 10:00"
    orders = [
        ["订单号", "手机号", "客户姓名", "下单时间", "金额"],
        ["SO-1", "13700000001", "甲", day, "10"],
        [f"SO{N}2", "13700000002", f"乙{N}", day, "20"],
    ]
    order_job = order_import_job_create(
        actor=admin_actor,
        upload=io.BytesIO(csv_bytes(orders, encoding="utf-16")),
        file_name="o.csv",
        language="en",
    )
    order_import_job_confirm(actor=admin_actor, job=order_job)
    order_import_job_run(actor=admin_actor, job=order_job)
    order_job = OrderImportJob.objects.get()
    assert (order_job.status, order_job.failed_count) == (JobStatus.DONE, 0), order_job.message
    process_all()
    assert sorted(Purchase.objects.values_list("order_no", flat=True)) == ["SO-1", f"SO{R}2"]


def test_a_workbook_cell_holding_nul_is_refused_with_a_sentence(admin_actor: Actor) -> None:
    # A cell can carry NUL only as “&#0;”, which is not XML: the reader fails, and the upload is refused.
    workbook = zipfile.ZipFile(io.BytesIO(xlsx_bytes([["姓名", "手机号"], ["ZZ", "13800000001"]])))
    patched = io.BytesIO()
    with zipfile.ZipFile(patched, "w") as out:
        for item in workbook.infolist():
            out.writestr(item, workbook.read(item.filename).replace(b">ZZ<", b">a&#0;b<"))
    with pytest.raises(ValidationError) as caught:
        import_job_create(actor=admin_actor, upload=io.BytesIO(patched.getvalue()), file_name="c.xlsx")
    assert "damaged" in str(caught.value.message)
    assert not ImportJob.objects.exists()
