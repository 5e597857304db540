"""Helpers for tracking tests: a source, Segment messages, sending through the real HTTP endpoints."""

import base64
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from django.test import Client

from siyu.tracking.ingest.keys import forget_write_keys
from siyu.tracking.models import Source, SourceKind
from siyu.tracking.services.processing import inbound_process

_numbers = itertools.count(1)


def make_source(*, name: str = "官网", kind: str = SourceKind.WEBSITE, **fields: Any) -> Source:
    forget_write_keys()
    number = next(_numbers)
    return Source.objects.create(name=f"{name}{number}", kind=kind, write_key=f"wk_test_{number}", **fields)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def message(kind: str = "track", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": kind, "messageId": f"m-{next(_numbers)}"}
    if kind == "track":
        body["event"] = "Product Viewed"
    body.update(fields)
    return body


def page(
    anonymous_id: str, *, path: str = "/articles/1", title: str = "秋冬护肤指南", **fields: Any
) -> dict[str, Any]:
    properties = fields.pop("properties", {})
    context = fields.pop("context", {})
    return message(
        "page",
        anonymousId=anonymous_id,
        name=title,
        properties={"path": path, "url": f"https://shop.example.com{path}", "title": title, **properties},
        context={"page": {"path": path, "url": f"https://shop.example.com{path}", "title": title}, **context},
        **fields,
    )


def basic_auth(write_key: str) -> str:
    return "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()


def send(source: Source, messages: list[dict[str, Any]], *, client: Client | None = None, **body: Any) -> Any:
    client = client or Client()
    payload = {"batch": messages, "sentAt": iso(datetime.now(UTC)), **body}
    return client.post(
        "/v1/batch",
        data=orjson.dumps(payload),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic_auth(source.write_key),
    )


def send_and_process(source: Source, messages: list[dict[str, Any]]) -> None:
    response = send(source, messages)
    assert response.status_code == 200, response.content
    process_all()


def process_all() -> None:
    while inbound_process().batches:
        pass


def ago(**delta: float) -> datetime:
    return datetime.now(UTC) - timedelta(**delta)
