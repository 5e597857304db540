"""Bad files are refused whole, with a clear message, and nothing is written (no job, no contact, no bytes)."""

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.utils import translation

from siyu.contacts import spreadsheets
from siyu.contacts.models import Contact, ImportJob, JobStatus
from siyu.contacts.services.importing import import_job_confirm, import_job_create, import_job_run
from siyu.core.errors import PayloadTooLarge, ValidationError
from siyu.core.tenancy import workspace_scope
from siyu.tenancy.actor import Actor
from tests.contacts.test_import import csv_bytes, xlsx_bytes


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> Iterator[None]:
    settings.MEDIA_ROOT = tmp_path / "media"
    with translation.override("en"):
        yield


def refused(actor: Actor, data: bytes, name: str, media: Path) -> str:
    with pytest.raises((ValidationError, PayloadTooLarge)) as caught:
        import_job_create(actor=actor, upload=io.BytesIO(data), file_name=name)
    assert ImportJob.objects.count() == 0
    assert Contact.objects.count() == 0
    stored = list((media / "imports").rglob("*")) if (media / "imports").exists() else []
    assert [p for p in stored if p.is_file()] == []
    return str(caught.value.message)


GOOD_CSV = csv_bytes([["姓名", "手机"], ["张三", "13800138000"]])


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (
            GOOD_CSV,
            "客户.pdf",
            "“客户.pdf” is not a spreadsheet Siyu can read. Upload an .xlsx or .csv file.",
        ),
        (b"", "empty.csv", "The file is empty."),
        (b"%PDF-1.7 fake", "contacts.csv", "This file is not a spreadsheet (it looks like a pdf)."),
        (
            b"\x89PNG\r\n\x1a\n....",
            "contacts.xlsx",
            "This file is not a spreadsheet (it looks like a image).",
        ),
        (GOOD_CSV, "contacts.xlsx", "This file is named .xlsx but is not an Excel workbook."),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100,
            "old.xlsx",
            "This is an old Excel .xls file or a password-protected workbook. "
            "Open it in Excel or WPS, remove any password and save it as .xlsx.",
        ),
        (
            xlsx_bytes([["姓名"], ["张三"]]),
            "contacts.csv",
            "This file is named .csv but is an archive or an Excel workbook. Rename it to .xlsx if it is one.",
        ),
        (b"\x00\x01\x02binary\x00", "contacts.csv", "This file is not a text CSV file."),
        (
            "name,city\ncafé,Zürich\n".encode("cp1252"),
            "contacts.csv",
            "The text encoding of this file is not recognised. "
            "Save it as “CSV UTF-8” (Excel) or as an .xlsx workbook.",
        ),
        (
            csv_bytes([["张三", "13800138000"], ["李四", "13900139000"]]),
            "contacts.csv",
            "The first row holds data, not column names. Add a header row "
            "(for example 姓名, 手机, 邮箱) and upload the file again.",
        ),
        (b"\n\n,,\n", "contacts.csv", "The file has no rows."),
        (csv_bytes([["姓名", "手机"]]), "contacts.csv", "The file has column names but no rows to import."),
        (xlsx_bytes([["姓名", "手机"]]), "contacts.xlsx", "The file has column names but no rows to import."),
    ],
)
def test_bad_files_are_refused(
    admin_actor: Actor, settings: Any, data: bytes, name: str, message: str
) -> None:
    assert refused(admin_actor, data, name, Path(settings.MEDIA_ROOT)) == message


def test_too_large_is_refused(admin_actor: Actor, settings: Any) -> None:
    settings.SIYU_IMPORT_MAX_BYTES = 1024 * 1024
    data = csv_bytes([["姓名", "手机"]] + [["张三" * 20, "13800138000"]] * 20_000)
    assert len(data) > 1024 * 1024

    message = refused(admin_actor, data, "big.csv", Path(settings.MEDIA_ROOT))
    assert message == "The file is larger than 1 MB. Split it into smaller files."


def zip_with(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_zip_bomb_by_ratio_is_refused_before_openpyxl(admin_actor: Actor, settings: Any) -> None:
    bomb = zip_with(
        {
            "[Content_Types].xml": b"<Types/>",
            "xl/workbook.xml": b"<workbook/>",
            "xl/worksheets/sheet1.xml": b"<" + b"a" * (20 * 1024 * 1024),
        }
    )
    assert len(bomb) < 100_000

    message = refused(admin_actor, bomb, "bomb.xlsx", Path(settings.MEDIA_ROOT))
    assert message == "The workbook is compressed suspiciously much (a “zip bomb”) and was refused."


def test_zip_with_too_many_members_or_too_big_unpacked_is_refused(
    admin_actor: Actor, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    many = zip_with({f"xl/part{i}.xml": b"<x/>" for i in range(1001)})
    assert refused(admin_actor, many, "many.xlsx", Path(settings.MEDIA_ROOT)) == (
        "The workbook has too many parts to be a normal spreadsheet."
    )

    monkeypatch.setattr(spreadsheets, "ZIP_MAX_UNCOMPRESSED", 1024 * 1024)
    big = zip_with({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": bytes(range(256)) * 8192})
    assert refused(admin_actor, big, "big.xlsx", Path(settings.MEDIA_ROOT)) == (
        "The workbook unpacks to more than 1 MB. Split it into smaller files."
    )


def test_a_zip_that_is_not_a_workbook_is_refused(admin_actor: Actor, settings: Any) -> None:
    data = zip_with({"word/document.xml": b"<doc/>"})
    assert refused(admin_actor, data, "letter.xlsx", Path(settings.MEDIA_ROOT)) == (
        "This file is named .xlsx but is not an Excel workbook."
    )


def test_broken_encoding_late_in_the_file_fails_the_whole_job_before_any_write(admin_actor: Actor) -> None:
    good = csv_bytes([["姓名", "手机"]] + [[f"客户{i}", f"1380000{i:04d}"] for i in range(3000)])
    assert len(good) > spreadsheets.SAMPLE_BYTES
    data = good + "最后一位,13900139000\n".encode()[:-8] + b"\xff\xfe\n"
    job = import_job_create(actor=admin_actor, upload=io.BytesIO(data), file_name="late.csv")
    assert job.encoding == "utf-8"
    import_job_confirm(actor=admin_actor, job=job)

    import_job_run(actor=admin_actor, job=job)

    assert job.status == JobStatus.FAILED
    assert job.message == (
        "The file's text is broken on line 3002: it is not valid UTF-8. "
        "Save it again as “CSV UTF-8” or as an .xlsx workbook."
    )
    assert (job.processed_rows, job.created_count) == (0, 0)
    assert Contact.objects.count() == 0


def test_refusals_do_not_leak_across_workspaces(admin_actor: Actor, other_workspace: Any) -> None:
    job = import_job_create(actor=admin_actor, upload=io.BytesIO(GOOD_CSV), file_name="ok.csv")
    with workspace_scope(other_workspace.id):
        assert ImportJob.objects.filter(id=job.id).count() == 0
