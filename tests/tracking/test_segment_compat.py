"""The unmodified Python Segment library (`segment-analytics-python`) sending to a really running Siyu.

`siyu serve` runs in subprocesses on its own database. Between the library and Siyu sits a proxy that
answers the first request with 503 and swallows the acknowledgement of the second (Siyu stored that
batch, the library never hears so): the library retries, and each message must be stored exactly once.
"""

import gzip
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from segment.analytics import Client
from segment.analytics.version import VERSION

from tests.tracking.live import live_siyu

pytestmark = pytest.mark.slow
WRITE_KEY = "wk_live_segment_compat_1"
FORWARDED_HEADERS = ("Authorization", "Content-Type", "Content-Encoding", "User-Agent", "X-Retry-Count")


class FlakyProxy:
    """An HTTP proxy that fails the first requests in two ways, then passes everything through."""

    def __init__(self, target: str, *, refuse: int, drop_ack: int) -> None:
        self.target = target
        self.refuse = refuse
        self.drop_ack = drop_ack
        self.seen: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.upstream = httpx.Client(base_url=target, timeout=30)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {name: value for name in FORWARDED_HEADERS if (value := self.headers.get(name))}
                plain = gzip.decompress(body) if headers.get("Content-Encoding") == "gzip" else body
                record: dict[str, Any] = {
                    "headers": headers,
                    "message_ids": [m["messageId"] for m in orjson.loads(plain)["batch"]],
                }
                with proxy.lock:
                    number = len(proxy.seen) + 1
                    proxy.seen.append(record)
                if number <= proxy.refuse:
                    record["outcome"] = "refused"
                    self._answer(503, b'{"code": "unavailable", "message": "try again"}')
                    return
                answer = proxy.upstream.post(self.path, content=body, headers=headers)
                record["status"] = answer.status_code
                if number <= proxy.refuse + proxy.drop_ack:
                    record["outcome"] = "ack dropped"
                    self.close_connection = True  # Siyu stored it; the sender never hears so
                    return
                record["outcome"] = "forwarded"
                self._answer(answer.status_code, answer.content)

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    @contextmanager
    def running(self) -> Iterator["FlakyProxy"]:
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()
            self.upstream.close()


def _client(*, host: str, errors: list[Any], **options: Any) -> Client:
    return Client(
        WRITE_KEY,
        host=host,
        sync_mode=False,
        max_retries=5,
        timeout=10,
        upload_interval=0.1,
        on_error=lambda error, batch: errors.append(error),
        **options,
    )


def _near(moment: Any, expected: datetime, *, seconds: float) -> bool:
    stored = datetime.fromisoformat(str(moment))
    return abs((stored - expected).total_seconds()) <= seconds


def test_the_segment_python_library_sends_every_call_once_through_retries_and_gzip(tmp_path: Path) -> None:
    with live_siyu(tmp_path, write_key=WRITE_KEY) as live:
        url = live.serve()
        errors: list[Any] = []
        two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
        with FlakyProxy(url, refuse=1, drop_ack=1).running() as proxy:
            client = _client(host=proxy.url, errors=errors)
            calls = [
                client.identify(
                    "u-compat-1",
                    {"name": "张三", "email": "zhangsan@example.com", "plan": "gold"},
                    anonymous_id="anon-compat-1",
                ),
                client.track(
                    "u-compat-1",
                    "Order Completed",
                    {"order_id": "A-1001", "revenue": 199.5, "currency": "CNY", "items": [{"sku": "X1"}]},
                    timestamp=two_hours_ago,
                ),
                client.page(
                    "u-compat-1",
                    "Docs",
                    "秋冬护肤指南",
                    {"url": "https://shop.example.com/articles/1", "path": "/articles/1"},
                ),
                client.screen("u-compat-1", "App", "Home", {"tab": "首页"}),
                client.group("u-compat-1", "company-9", {"name": "花漾", "employees": 42}),
                client.alias("anon-compat-2", "u-compat-1"),
            ]
            client.flush()
            client.join()
            zipped = _client(host=proxy.url, errors=errors, gzip=True)
            calls += [
                zipped.track(event="Signed In", anonymous_id="anon-compat-1", properties={"via": "gzip"}),
                zipped.page(anonymous_id="anon-compat-1", name="Pricing", properties={"path": "/pricing"}),
            ]
            zipped.flush()
            zipped.join()
            seen = list(proxy.seen)

        assert errors == []
        assert all(ok for ok, _message in calls)
        sent = {message["messageId"]: message for _ok, message in calls}
        assert len(sent) == 8

        # The library really retried: the same messages came three times, the last with X-Retry-Count.
        first_ids = seen[0]["message_ids"]
        assert [r["outcome"] for r in seen[:3]] == ["refused", "ack dropped", "forwarded"]
        assert [r["message_ids"] for r in seen[:3]] == [first_ids] * 3
        assert seen[1]["status"] == 200
        assert [r["headers"].get("X-Retry-Count") for r in seen[:3]] == [None, "1", "2"]
        assert seen[-1]["headers"]["Content-Encoding"] == "gzip"
        assert sorted(i for r in seen[2:] for i in r["message_ids"]) == sorted(sent)

        live.wait_until_processed(timeout=30)
        dump = live.dump()

    # Siyu stored the swallowed batch and its retry (two inbound batches with the same messages)…
    assert dump["batches"] == {"total": len(seen) - 1, "pending": 0, "failed": 0}
    # …and every message once.
    events = {e["message_id"]: e for e in dump["event_rows"]}
    assert len(dump["event_rows"]) == len(events) == len(sent)
    assert set(events) == set(sent)

    def stored(message_id: str) -> tuple[Any, ...]:
        e = events[message_id]
        return (e["type"], e["name"], e["user_id"], e["anonymous_id"], e["properties"])

    ids = list(sent)
    assert stored(ids[0]) == (
        "identify",
        "",
        "u-compat-1",
        "anon-compat-1",
        {"name": "张三", "email": "zhangsan@example.com", "plan": "gold"},
    )
    assert stored(ids[1]) == (
        "track",
        "Order Completed",
        "u-compat-1",
        "",
        {"order_id": "A-1001", "revenue": 199.5, "currency": "CNY", "items": [{"sku": "X1"}]},
    )
    assert stored(ids[2]) == (
        "page",
        "秋冬护肤指南",
        "u-compat-1",
        "",
        {"url": "https://shop.example.com/articles/1", "path": "/articles/1", "category": "Docs"},
    )
    assert stored(ids[3]) == ("screen", "Home", "u-compat-1", "", {"tab": "首页", "category": "App"})
    assert stored(ids[4]) == ("group", "company-9", "u-compat-1", "", {"name": "花漾", "employees": 42})
    assert stored(ids[5]) == ("alias", "anon-compat-2", "u-compat-1", "", {})
    assert stored(ids[6]) == ("track", "Signed In", "", "anon-compat-1", {"via": "gzip"})
    assert stored(ids[7]) == ("page", "Pricing", "", "anon-compat-1", {"path": "/pricing"})
    for event in events.values():
        assert event["context"]["library"] == {"name": "analytics-python", "version": VERSION}
        assert event["context"]["userAgent"] == f"analytics-python/{VERSION}"
    # The device's own time, corrected for the (zero) clock skew, is kept; the rest happened just now.
    assert _near(events[ids[1]]["timestamp"], two_hours_ago, seconds=30)
    assert _near(events[ids[0]]["timestamp"], datetime.now(UTC), seconds=120)

    # One person: identify joined the browser, alias the second browser id, all events on one contact.
    [contact] = dump["contact_rows"]
    assert (contact["name"], contact["email"]) == ("张三", "zhangsan@example.com")
    assert {
        ("anonymous_id", "anon-compat-1"),
        ("anonymous_id", "anon-compat-2"),
        ("user_id", "u-compat-1"),
    } <= {tuple(identity) for identity in contact["identities"]}
    assert {e["contact_id"] for e in events.values()} == {contact["id"]}
    activity = contact["activity"]
    assert (activity["events"], activity["page_views"], activity["orders"]) == (8, 3, 1)
    assert float(activity["revenue"]) == 199.5
