"""Keyset ("cursor") pagination: never counts a huge table, stable under inserts."""

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model, QuerySet

from siyu.core.errors import InvalidCursor

T = TypeVar("T", bound=Model)


@dataclass
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None
    has_more: bool


def encode_cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps([str(value)]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        (value,) = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return str(value)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise InvalidCursor() from exc


def decode_id_cursor(cursor: str, model: type[Model]) -> Any:
    """The primary key a cursor holds, as the model's key type; a cursor that decodes but holds no such
    key (edited by hand) is refused like a broken one rather than failing in the query."""
    try:
        return model._meta.pk.to_python(decode_cursor(cursor))
    except DjangoValidationError as exc:
        raise InvalidCursor() from exc


def paginate_by_id(queryset: QuerySet[T], *, cursor: str | None, limit: int) -> Page[T]:
    """Pages of `limit` rows ordered by descending (time-ordered) id."""
    rows = queryset.order_by("-id")
    if cursor:
        rows = rows.filter(id__lt=decode_id_cursor(cursor, queryset.model))
    items = list(rows[: limit + 1])
    has_more = len(items) > limit
    items = items[:limit]
    return Page(items=items, next_cursor=encode_cursor(items[-1].pk) if has_more else None, has_more=has_more)
