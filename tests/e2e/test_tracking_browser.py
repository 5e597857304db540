"""The issue's end-to-end path in real headless Chromium against a really running Siyu.

A shop's article page carries the loader snippet. A visitor scrolls, reads for three seconds and
navigates away: a page view and a page leave with ≥ 3 s of active dwell are stored. The visitor then
signs in (identify with a phone): that history joins the known contact. When she reads again, her
rep — looking at the radar page — sees the alert arrive live over Server-Sent Events.
"""

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from siyu.tracking.snippet import loader_snippet
from tests.tracking.live import WORKSPACE, LiveSiyu, free_port, live_siyu

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SITE_KEY = "wk_e2e_shop_site_key"
REP_PASSWORD = "rep-password-e2e-1"
PHONE = "13800138000"

SETUP = """
from siyu.contacts.models import Identity
from siyu.contacts.services import contact_create
from siyu.core.tenancy import workspace_scope
from siyu.tenancy.selectors import actor_for_member, workspace_get_by_slug
from siyu.tenancy.models import Member
from siyu.tracking.services.content import content_create
workspace = workspace_get_by_slug(slug="live")
with workspace_scope(workspace.id):
    owner = actor_for_member(member=Member.objects.get(user__username="live-owner"))
    rep = Member.objects.get(user__username="rep")
    contact = contact_create(actor=owner, data={"name": "张三", "phone": "%(phone)s", "owner": str(rep.id)})
    article = content_create(actor=owner, kind="article", title="秋冬护肤指南", body="<p>保湿三步</p>")
    print(contact.id, article.id)
"""


def _article(snippet: str, *, title: str) -> bytes:
    paragraphs = "".join(f"<p>第 {n} 段：换季护肤，先修护屏障。</p>" for n in range(120))
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>{snippet}</head>"
        f"<body><h1>{title}</h1>{paragraphs}<a id='next' href='/other.html'>下一篇</a></body></html>"
    ).encode()


@contextmanager
def shop_site(pages: dict[str, bytes]) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path.split("?")[0])
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body or b"not found")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _until(check: Any, *, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def _events(live: LiveSiyu) -> list[dict[str, Any]]:
    return list(live.dump()["event_rows"])


def _login(page: Page, url: str) -> None:
    page.goto(f"{url}/login/")
    page.fill("input[name=username]", "rep")
    page.fill("input[name=password]", REP_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")


def test_reading_identifying_and_the_reps_radar(browser: Browser, tmp_path: Path) -> None:
    with live_siyu(tmp_path, write_key="wk_e2e_unused_site") as live:
        url = live.serve()
        live.siyu(
            "createuser",
            "rep",
            "--workspace",
            WORKSPACE,
            "--role",
            "sales",
            "--name",
            "小王",
            "--password",
            REP_PASSWORD,
        )
        contact_id, article_id = live.siyu("shell", "-c", SETUP % {"phone": PHONE}).split()[-2:]
        pages: dict[str, bytes] = {}
        with shop_site(pages) as site:
            live.siyu(
                "createsource",
                "--workspace",
                WORKSPACE,
                "--name",
                "商城",
                "--origin",
                site,
                "--write-key",
                SITE_KEY,
            )
            snippet = loader_snippet(write_key=SITE_KEY, host=url).replace(
                "{host:", f'{{pageProperties:{{content_id:"{article_id}"}},host:', 1
            )
            pages["/article.html"] = _article(snippet, title="秋冬护肤指南")
            pages["/other.html"] = _article(loader_snippet(write_key=SITE_KEY, host=url), title="下一篇")

            rep = browser.new_context(locale="zh-CN").new_page()
            _login(rep, url)
            rep.goto(f"{url}/radar/")

            reader = browser.new_context(locale="zh-CN").new_page()
            reader.goto(f"{site}/article.html")
            reader.wait_for_function("window.siyu && window.siyu.initialized === true || !!window.siyu.user")
            reader.mouse.wheel(0, 2500)
            reader.wait_for_timeout(3300)
            reader.click("#next")
            reader.wait_for_load_state("load")

            def left() -> dict[str, Any] | None:
                events = _events(live)
                return next((e for e in events if e["name"] == "Page Left"), None)

            leave = _until(left, timeout=30, what="the page leave")
            events = _events(live)
            views = [
                e for e in events if e["type"] == "page" and e["properties"].get("content_id") == article_id
            ]
            assert len(views) == 1
            assert leave["properties"]["active_dwell_ms"] >= 3000
            assert leave["properties"]["scroll_depth"] > 0
            assert leave["properties"]["view_id"] == views[0]["properties"]["view_id"]
            visitor = leave["contact_id"]
            assert visitor != contact_id  # not known yet

            reader.evaluate(f"siyu.identify('shopper-1', {{phone: '{PHONE}'}}); siyu.flush && siyu.flush()")

            def joined() -> bool:
                events = _events(live)
                return bool(events) and all(e["contact_id"] == contact_id for e in events)

            _until(joined, timeout=30, what="the anonymous history to join 张三")
            contacts = {c["id"]: c for c in live.dump()["contact_rows"]}
            assert visitor not in contacts
            assert ["anonymous_id", leave["anonymous_id"]] in contacts[contact_id]["identities"]
            assert ["user_id", "shopper-1"] in contacts[contact_id]["identities"]

            reader.goto(f"{site}/article.html")
            opened = time.monotonic()
            # 「张三 打开了《…》」 at once, then 「张三 正在阅读《…》，已停留 15 秒」 as heartbeats arrive.
            alert = rep.get_by_text(re.compile("张三 (打开了|正在阅读)《秋冬护肤指南》")).first
            alert.wait_for(timeout=10_000)
            assert time.monotonic() - opened < 10
            assert live.dump(counts=True)["notifications"] == 1
