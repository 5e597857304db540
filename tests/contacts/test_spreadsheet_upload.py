"""The shared "store and check an uploaded spreadsheet" step that the contact and order imports use."""

import io
from pathlib import Path
from typing import Any

import pytest
from django.utils import translation

from siyu.contacts.spreadsheets import Cell, FileInfo, spreadsheet_upload_store
from siyu.core.errors import ValidationError


def _digits_are_data(cell: Cell) -> bool:
    return isinstance(cell, str) and cell.isdigit()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"name,phone\r\n", "The file has column names but no rows to import."),
        (b"13800138000,Zhang\r\n13900139000,Li\r\n", "The first row holds data."),
    ],
)
def test_a_refused_upload_leaves_no_stored_bytes(
    settings: Any, tmp_path: Path, data: bytes, message: str
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    with translation.override("en"), pytest.raises(ValidationError) as caught:
        spreadsheet_upload_store(
            upload=io.BytesIO(data),
            file_name="list.csv",
            relative_path="uploads/ws/job/source.csv",
            looks_like_data=_digits_are_data,
            data_in_header_message="The first row holds data.",
        )
    assert caught.value.message == message
    assert caught.value.code == "bad_file"
    assert [p for p in (tmp_path / "media").rglob("*") if p.is_file()] == []
    assert not (tmp_path / "media" / "uploads" / "ws" / "job").exists()


def test_an_accepted_upload_is_stored_with_its_headers(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    data = b"name,phone\r\nZhang,13800138000\r\n"
    stored = spreadsheet_upload_store(
        upload=io.BytesIO(data),
        file_name="list.csv",
        relative_path="uploads/ws/job/source.csv",
        looks_like_data=_digits_are_data,
        data_in_header_message="The first row holds data.",
    )
    assert stored.relative_path == "uploads/ws/job/source.csv"
    assert stored.size == len(data)
    assert stored.headers == ["name", "phone"]
    assert stored.info == FileInfo(format="csv", encoding="utf-8", delimiter=",")
    assert (tmp_path / "media" / "uploads" / "ws" / "job" / "source.csv").read_bytes() == data
