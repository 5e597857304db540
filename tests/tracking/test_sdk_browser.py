"""siyu.js in a real headless Chromium.

The SDK is served by Siyu (`live_server`, the real /sdk/siyu.js view). The customer's pages and the
collecting end of /v1/batch are a small HTTP server of the test's own (`Collector`): it records every
request, including the beacons a page sends while it unloads, which `page.route` cannot see, and
answers with the statuses a test scripts. So these tests do not depend on the ingestion endpoint.
The pages live on 127.0.0.1 and send to localhost: another origin, as on a real site.
"""

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route
from playwright.sync_api import Request as BrowserRequest

from siyu.tracking.snippet import loader_snippet

pytestmark = [pytest.mark.browser]

WRITE_KEY = "wk_browser_test"
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ARTICLE = "秋冬护肤指南"


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    status: int
    at: float

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("batch", []))


@dataclass
class Collector:
    """Serves test pages and records POST /v1/batch, answering with scripted statuses."""

    sdk_url: str
    port: int = 0
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered first, in order
    default_status: int = 200
    options: dict[str, Any] = field(default_factory=dict)  # extra siyu.load options for the pages
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def page_origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:  # where the SDK sends: another origin than the pages'
        return f"http://localhost:{self.port}"

    def html(self, path: str, query: dict[str, list[str]]) -> str:
        snippet = loader_snippet(write_key=WRITE_KEY, host=self.host).replace(
            f'"http://localhost:{self.port}/sdk/siyu.js"', json.dumps(self.sdk_url)
        )
        if self.options:
            options = json.dumps({"host": self.host, **self.options})
            snippet = snippet.replace(f"{{host:{json.dumps(self.host)}}}", options)
        if path == "/manual":  # the snippet without its page() call
            snippet = snippet.replace(";s.page()}", "}")
        tracked = "plain" not in query
        return (
            "<!doctype html><html><head><meta charset='utf-8'>"
            f"<title>{ARTICLE}</title>{snippet if tracked else ''}</head>"
            "<body style='margin:0'><h1>秋冬护肤指南</h1>"
            "<div id='body' style='height:4000px;background:linear-gradient(#fff,#eee)'>正文</div>"
            "<a id='next' href='/next?plain=1'>下一篇</a></body></html>"
        )

    def answer(self) -> int:
        with self.lock:
            return self.statuses.pop(0) if self.statuses else self.default_status

    def record(self, received: Received) -> None:
        with self.lock:
            self.requests.append(received)

    def batches(self, status: int | None = None) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.method == "POST" and (status is None or r.status == status)]

    def messages(self, status: int | None = None) -> list[dict[str, Any]]:
        return [m for r in self.batches(status) for m in r.messages]

    def delivered(self) -> list[dict[str, Any]]:
        """Messages the collector accepted, each messageId once (the server would keep it once)."""
        seen: dict[str, dict[str, Any]] = {}
        for message in self.messages(status=200):
            seen.setdefault(message["messageId"], message)
        return list(seen.values())

    def events(self, name: str) -> list[dict[str, Any]]:
        return [m for m in self.delivered() if m["type"] == "track" and m["event"] == name]


def _handler(collector: Collector) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            self._send(
                200, collector.html(parts.path, parse_qs(parts.query)).encode(), "text/html; charset=utf-8"
            )

        def do_OPTIONS(self) -> None:  # a preflight: recorded so a test can prove there is none
            collector.record(Received("OPTIONS", self.path, dict(self.headers), {}, 204, time.monotonic()))
            self._send(204, b"", "text/plain")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            status = collector.answer()
            collector.record(Received("POST", self.path, dict(self.headers), body, status, time.monotonic()))
            self._send(status, b'{"success": true}' if status == 200 else b"{}", "application/json")

    return Handler


@pytest.fixture
def collector(live_server: Any) -> Iterator[Collector]:
    collector = Collector(sdk_url=f"{live_server.url}/sdk/siyu.js")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(collector))
    collector.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield collector
    server.shutdown()
    server.server_close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    yield context.new_page()
    context.close()


@pytest.fixture
def console(page: Page) -> list[str]:
    """What the page wrote to the console, from the start of the test."""
    lines: list[str] = []
    page.on("console", lambda message: lines.append(message.text))
    return lines


def wait_until(page: Page, condition: Callable[[], bool], *, timeout: float = 10.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what or 'the condition'}")
        page.wait_for_timeout(50)


def set_visibility(page: Page, state: str) -> None:
    """What the browser does when the tab is switched away from and back: the state, then the event."""
    page.evaluate(
        """state => {
            Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => state});
            Object.defineProperty(document, 'hidden', {configurable: true, get: () => state === 'hidden'});
            document.dispatchEvent(new Event('visibilitychange'));
        }""",
        state,
    )


def stored_queue(page: Page) -> list[dict[str, Any]]:
    return list(json.loads(page.evaluate(f"localStorage.getItem('siyu_q_{WRITE_KEY}') || '[]'")))


# Page views, campaign and the message shape -------------------------------------------------------


def test_automatic_page_view_carries_utm_referrer_and_context(page, collector):
    collector.options = {"pageProperties": {"content_id": "c-1", "share_token": "st-9"}}
    page.goto(f"{collector.page_origin}/start?plain=1")
    query = "utm_source=wechat&utm_medium=social&utm_campaign=autumn&utm_term=serum&utm_content=hero&channel=moments"
    page.evaluate(f"location.href = '/article?{query}'")
    wait_until(page, lambda: collector.delivered(), what="the page view")
    page.wait_for_timeout(1500)  # the snippet's page() replaces the automatic one: still one view

    [batch] = collector.batches()
    assert batch.path == "/v1/batch"
    assert batch.headers["Content-Type"].startswith("text/plain")
    assert batch.headers["Origin"] == collector.page_origin  # sent across origins…
    assert not [r for r in collector.requests if r.method == "OPTIONS"]  # …without a preflight
    assert batch.body["writeKey"] == WRITE_KEY
    assert ISO.match(batch.body["sentAt"])
    [view] = batch.messages
    url = f"{collector.page_origin}/article?{query}"
    assert view["type"] == "page"
    assert UUID4.match(view["messageId"])
    assert UUID4.match(view["anonymousId"])
    assert "userId" not in view
    assert ISO.match(view["timestamp"])
    assert view["timestamp"] == view["originalTimestamp"]
    assert view["properties"] == {
        "url": url,
        "path": "/article",
        "title": ARTICLE,
        "referrer": f"{collector.page_origin}/start?plain=1",
        "search": f"?{query}",
        "content_id": "c-1",
        "share_token": "st-9",
        "view_id": view["properties"]["view_id"],
    }
    assert UUID4.match(view["properties"]["view_id"])
    context = view["context"]
    assert context["campaign"] == {
        "source": "wechat",
        "medium": "social",
        "name": "autumn",
        "term": "serum",
        "content": "hero",
        "channel": "moments",
    }
    assert context["page"] == {
        "url": url,
        "path": "/article",
        "title": ARTICLE,
        "referrer": f"{collector.page_origin}/start?plain=1",
        "search": f"?{query}",
    }
    assert context["library"] == {"name": "siyu.js", "version": "1.0.0"}
    assert context["locale"] == "zh-CN"
    assert "HeadlessChrome" in context["userAgent"]
    assert context["screen"]["width"] > 0
    assert context["screen"]["height"] > 0
    # The anonymous id is kept in localStorage and a first-party cookie for a year.
    assert page.evaluate("localStorage.getItem('siyu_aid')") == view["anonymousId"]
    [cookie] = [c for c in page.context.cookies() if c["name"] == "siyu_aid"]
    assert cookie["value"] == view["anonymousId"]
    assert 364 * 86400 < cookie["expires"] - time.time() < 366 * 86400
    assert stored_queue(page) == []  # delivered, so no longer queued


def test_without_autopage_only_explicit_page_calls_are_sent(page, collector):
    collector.options = {"autoPage": False}
    page.goto(f"{collector.page_origin}/manual")
    page.wait_for_function("window.siyu && window.siyu.initialized === true")
    page.wait_for_timeout(1500)
    assert collector.delivered() == []
    page.evaluate("siyu.page('Pricing', {plan: 'pro'})")
    wait_until(page, lambda: collector.delivered(), what="the named page view")
    [view] = collector.delivered()
    assert view["name"] == "Pricing"
    assert view["properties"]["name"] == "Pricing"
    assert view["properties"]["plan"] == "pro"


def test_the_default_host_is_where_the_script_came_from(page, live_server):
    """Without a host option the SDK sends to the origin it was loaded from (here: Siyu itself)."""
    captured: list[dict[str, Any]] = []

    def batch(route: Route, request: BrowserRequest) -> None:
        captured.append(json.loads(request.post_data or "{}"))
        route.fulfill(status=200, content_type="application/json", body='{"success": true}')

    snippet = loader_snippet(write_key=WRITE_KEY, host=live_server.url).replace(
        f"{{host:{json.dumps(live_server.url)}}}", "{}"
    )
    page.route(
        f"{live_server.url}/sdk-test/article",
        lambda route: route.fulfill(content_type="text/html", body=f"<title>t</title>{snippet}<p>x</p>"),
    )
    page.route(f"{live_server.url}/v1/batch", batch)
    page.goto(f"{live_server.url}/sdk-test/article")
    wait_until(page, lambda: bool(captured), what="a batch at the script's origin")
    assert [m["type"] for m in captured[0]["batch"]] == ["page"]


# track, identify, alias, reset ---------------------------------------------------------------------


def test_track_identify_alias_and_reset_payloads(page, collector, console):
    page.goto(f"{collector.page_origin}/article")
    page.wait_for_function("window.siyu && window.siyu.initialized === true")
    anonymous_id = page.evaluate("siyu.user().anonymousId")
    assert UUID4.match(anonymous_id)
    assert page.evaluate("siyu.user().userId") is None
    page.evaluate(
        """() => {
            siyu.track('Product Viewed', {sku: 'A1', price: 199});
            siyu.identify('undefined', {phone: '1'});          // refused: a placeholder, not an id
            siyu.identify('user-42', {phone: '13800138000', name: '张三'});
            siyu.track('Added To Cart', {sku: 'A1'});
            siyu.alias('user-43');
            siyu.alias('user-44', 'crm-7');
            siyu.track();                                     // refused: no event name
        }"""
    )
    assert page.evaluate("siyu.user()") == {"anonymousId": anonymous_id, "userId": "user-42"}
    page.evaluate("siyu.reset()")
    after_reset = page.evaluate("siyu.user()")
    assert after_reset["userId"] is None
    assert UUID4.match(after_reset["anonymousId"])
    assert after_reset["anonymousId"] != anonymous_id
    page.evaluate("siyu.track('Signed Out')")
    wait_until(page, lambda: len(collector.delivered()) == 7, what="seven messages")

    view, viewed, identify, added, alias, alias_from, signed_out = collector.delivered()
    assert view["type"] == "page"
    assert {k: viewed[k] for k in ("type", "event", "properties", "anonymousId")} == {
        "type": "track",
        "event": "Product Viewed",
        "properties": {"sku": "A1", "price": 199},
        "anonymousId": anonymous_id,
    }
    assert "userId" not in viewed
    assert {k: identify[k] for k in ("type", "userId", "traits", "anonymousId")} == {
        "type": "identify",
        "userId": "user-42",
        "traits": {"phone": "13800138000", "name": "张三"},
        "anonymousId": anonymous_id,
    }
    assert (added["userId"], added["anonymousId"]) == ("user-42", anonymous_id)
    assert {k: alias[k] for k in ("type", "userId", "previousId")} == {
        "type": "alias",
        "userId": "user-43",
        "previousId": "user-42",
    }
    assert (alias_from["userId"], alias_from["previousId"]) == ("user-44", "crm-7")
    assert signed_out["anonymousId"] == after_reset["anonymousId"]
    assert "userId" not in signed_out
    for message in collector.delivered():
        assert UUID4.match(message["messageId"])
        assert message["context"]["library"]["name"] == "siyu.js"
    assert len({m["messageId"] for m in collector.delivered()}) == 7
    assert sum("identify() ignored an illegal userId" in text for text in console) == 1
    assert sum("track() needs an event name" in text for text in console) == 1
    # The identity survives a reload: the same anonymous id comes back from storage.
    page.reload()
    page.wait_for_function("window.siyu && window.siyu.initialized === true")
    assert page.evaluate("siyu.user()") == {"anonymousId": after_reset["anonymousId"], "userId": None}


# Delivery: retries, the persisted queue, refusals --------------------------------------------------


def test_a_failed_batch_is_retried_with_the_same_message_ids(page, collector):
    collector.statuses = [500]
    page.goto(f"{collector.page_origin}/article")
    page.wait_for_function("window.siyu && window.siyu.initialized === true")
    page.evaluate("siyu.track('Coupon Claimed', {code: 'AUTUMN'})")
    wait_until(page, lambda: len(collector.batches()) >= 2, what="the retry")
    first, second = collector.batches()[:2]
    assert (first.status, second.status) == (500, 200)
    # The retry resends the failed batch with the same ids (on a busy machine the page view may have
    # gone alone first, and the retry then also carries the later track call).
    failed = [m["messageId"] for m in first.messages]
    assert [m["messageId"] for m in second.messages][: len(failed)] == failed
    assert [m.get("event") for m in second.messages][: len(failed)] == [
        m.get("event") for m in first.messages
    ]
    assert "Coupon Claimed" in [m.get("event") for m in first.messages + second.messages]
    assert second.at - first.at >= 0.4  # after a back-off, not at once
    assert second.body["sentAt"] >= first.body["sentAt"]
    wait_until(page, lambda: stored_queue(page) == [], what="the queue to empty")
    page.wait_for_timeout(1200)
    assert len(collector.batches()) == 2  # nothing sent again once accepted


def test_the_queue_survives_a_reload_while_the_server_fails(page, collector):
    collector.default_status = 503
    page.goto(f"{collector.page_origin}/article")
    page.wait_for_function("window.siyu && window.siyu.initialized === true")
    page.evaluate("siyu.track('Form Submitted', {form: 'trial'}); siyu.track('Video Played')")
    wait_until(page, lambda: len(collector.batches(status=503)) >= 2, what="failed attempts")
    queued = {item["m"]["messageId"]: item["m"].get("event") for item in stored_queue(page)}
    assert sorted(e or "page" for e in queued.values()) == ["Form Submitted", "Video Played", "page"]

    page.reload()  # the beacon sent while unloading fails too
    page.wait_for_function("window.siyu && window.siyu.initialized === true")
    collector.default_status = 200
    wait_until(
        page,
        lambda: set(queued) <= {m["messageId"] for m in collector.delivered()},
        what="the queued messages after the reload",
    )
    delivered = {m["messageId"]: m for m in collector.delivered()}
    assert {delivered[i].get("event") for i in queued} == {"Form Submitted", "Video Played", None}
    assert [m["type"] for m in collector.delivered()].count("page") == 2  # the old view and the new one
    wait_until(page, lambda: stored_queue(page) == [], what="the queue to empty")


def test_a_refused_batch_is_dropped_and_reported_once(page, collector, console):
    collector.statuses = [400, 400]
    page.goto(f"{collector.page_origin}/article")
    page.wait_for_function("window.siyu && window.siyu.initialized === true")
    wait_until(page, lambda: len(collector.batches()) == 1, what="the first batch")
    page.evaluate("siyu.track('Bad Event')")
    wait_until(page, lambda: len(collector.batches()) == 2, what="the second batch")
    wait_until(page, lambda: stored_queue(page) == [], what="the queue to empty")
    page.wait_for_timeout(2500)
    assert len(collector.batches()) == 2  # not retried
    assert sum("HTTP 400" in text for text in console) == 1


# Engagement: active dwell, scroll depth, visibility ------------------------------------------------


def test_leaving_after_three_visible_seconds_sends_page_left_with_dwell_and_scroll(page, collector):
    opened = time.monotonic()  # the SDK cannot count more visible time than passed since
    page.goto(f"{collector.page_origin}/article")
    page.wait_for_function("window.siyu && window.siyu.initialized === true")
    wait_until(page, lambda: collector.delivered(), what="the page view")
    page.evaluate("window.scrollTo(0, 1500)")
    page.wait_for_timeout(3200)
    expected_depth = page.evaluate(
        "Math.round((window.pageYOffset + window.innerHeight) * 100 / document.documentElement.scrollHeight)"
    )
    assert 40 < expected_depth < 70
    # To a page without the SDK (a link click, without scrolling to the link): the leave goes out by
    # beacon while this page unloads.
    page.evaluate("document.getElementById('next').click()")
    page.wait_for_url("**/next?plain=1")
    left_after_ms = (time.monotonic() - opened) * 1000
    wait_until(page, lambda: collector.events("Page Left"), what="Page Left")
    page.wait_for_timeout(500)

    [view] = [m for m in collector.delivered() if m["type"] == "page"]
    [left] = collector.events("Page Left")  # pagehide and visibilitychange did not both send one
    beacon = next(r for r in collector.batches() if left in r.messages)
    assert beacon.headers.get("Sec-Fetch-Mode") == "no-cors"  # navigator.sendBeacon
    properties = left["properties"]
    assert properties["view_id"] == view["properties"]["view_id"]
    assert properties["url"] == f"{collector.page_origin}/article"
    assert properties["path"] == "/article"
    assert properties["title"] == ARTICLE
    assert 3200 <= properties["active_dwell_ms"] <= left_after_ms
    assert properties["dwell_delta_ms"] == properties["active_dwell_ms"]  # no heartbeat before it
    assert properties["scroll_depth"] == expected_depth
    assert collector.events("Page Engaged") == []  # 15 s of visible time not reached


def test_hidden_time_is_not_counted_and_heartbeats_stop_while_hidden(page, collector):
    collector.options = {"heartbeatSeconds": 1}
    opened = time.monotonic()  # the SDK cannot count more visible time than passed since
    page.goto(f"{collector.page_origin}/article")
    page.wait_for_function("window.siyu && window.siyu.initialized === true")
    page.wait_for_timeout(1600)
    set_visibility(page, "hidden")  # switched to another tab or app
    hidden_after_ms = (time.monotonic() - opened) * 1000
    wait_until(page, lambda: collector.events("Page Left"), what="Page Left on hidden")
    beats_before_hiding = len(collector.events("Page Engaged"))
    assert beats_before_hiding >= 1
    page.wait_for_timeout(3000)
    assert len(collector.events("Page Engaged")) == beats_before_hiding  # no heartbeat while hidden
    set_visibility(page, "visible")
    page.wait_for_timeout(1300)
    page.evaluate("delete document.visibilityState; delete document.hidden")  # the real state again
    page.goto(f"{collector.page_origin}/next?plain=1")
    elapsed_ms = (time.monotonic() - opened) * 1000
    wait_until(page, lambda: len(collector.events("Page Left")) == 2, what="the second Page Left")
    page.wait_for_timeout(500)

    reports = sorted(
        collector.events("Page Left") + collector.events("Page Engaged"),
        key=lambda m: m["properties"]["active_dwell_ms"],
    )
    dwell = [m["properties"]["active_dwell_ms"] for m in reports]
    first_left, last_left = collector.events("Page Left")
    assert 1500 <= first_left["properties"]["active_dwell_ms"] <= hidden_after_ms
    final = last_left["properties"]["active_dwell_ms"]
    assert reports[-1] is last_left
    assert 2800 <= final < elapsed_ms - 2500  # the 3 hidden seconds are not in it
    assert sum(m["properties"]["dwell_delta_ms"] for m in reports) == final  # deltas never double count
    assert dwell == sorted(dwell)
    assert all(m["properties"]["view_id"] == first_left["properties"]["view_id"] for m in reports)
    assert len(collector.events("Page Left")) == 2  # one per hidden transition, none doubled by pagehide
