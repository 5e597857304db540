"""Helpers for content tests: real images and files as uploads, content rows and reading records."""

import io
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from siyu.core.time import now
from siyu.tenancy.models import Member
from siyu.tracking.models import Content, ContentKind, ContentViewer


def image_bytes(
    width: int = 600, height: int = 400, *, image_format: str = "PNG", color: str = "#3b82f6"
) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format=image_format)
    return buffer.getvalue()


def image_upload(
    width: int = 600,
    height: int = 400,
    *,
    name: str = "poster.png",
    image_format: str = "PNG",
    color: str = "#3b82f6",
) -> SimpleUploadedFile:
    data = image_bytes(width, height, image_format=image_format, color=color)
    return SimpleUploadedFile(name, data, content_type=f"image/{image_format.lower()}")


def file_upload(data: bytes = b"%PDF-1.4 price list", *, name: str = "报价单.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/pdf")


def article(**fields: Any) -> Content:
    """A published article, written straight to the table (the services are tested on their own)."""
    values: dict[str, Any] = {
        "kind": ContentKind.ARTICLE,
        "title": "秋冬护肤指南",
        "summary": "换季护肤三步走",
        "body": "<p>第一步：清洁。</p>",
        "is_published": True,
    }
    values.update(fields)
    return Content.objects.create(**values)


def product(**fields: Any) -> Content:
    values: dict[str, Any] = {"kind": ContentKind.PRODUCT, "title": "玻尿酸精华", "price": Decimal("199.00")}
    values.update(fields)
    return article(**values)


def viewer(
    content: Content,
    *,
    sharer: Member | None = None,
    views: int = 1,
    dwell_ms: int = 0,
    depth: int = 0,
    contact_id: UUID | None = None,
    days_ago: int = 0,
) -> ContentViewer:
    """One contact's reading of `content`, as the event processor keeps it."""
    moment = now() - timedelta(days=days_ago)
    return ContentViewer.objects.create(
        content=content,
        contact_id=contact_id or uuid4(),
        sharer=sharer,
        views=views,
        active_dwell_ms=dwell_ms,
        max_read_depth=depth,
        first_viewed_at=moment,
        last_viewed_at=moment,
    )
