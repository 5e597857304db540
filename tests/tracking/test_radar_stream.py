"""The radar's Server-Sent Event streams, run for real through Django's async test client.

Rows are committed (transactional tests) because the stream reads them from its own polls, the way
a browser's open stream sees what the event processor writes while it waits.
"""

import asyncio
import contextvars
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.http import StreamingHttpResponse
from django.test import AsyncClient
from django.urls import reverse

from siyu.contacts.models import Contact
from siyu.core.tenancy import workspace_scope
from siyu.tenancy.models import Member, Workspace
from siyu.tenancy.roles import Role
from siyu.tracking.models import Content, Notification, ShareLink, Source
from siyu.tracking.views import radar as radar_views
from tests.factories import ContactFactory, MemberFactory
from tests.tracking.events import make_source, message, page, send_and_process
from tests.tracking.radar_rows import radar_alert, radar_event, radar_source

pytestmark = pytest.mark.django_db(transaction=True)

T = TypeVar("T")
WAIT = 5.0  # seconds a frame may take to arrive before the test gives up


@pytest.fixture(autouse=True)
def _fast_streams(settings: Any) -> None:
    settings.SIYU_RADAR_POLL_SECONDS = 0.02
    settings.SIYU_SSE_MAX_SECONDS = 20


@dataclass
class Frame:
    id: str | None
    event: str | None
    data: dict[str, Any] | None
    comments: list[str]


def parse(chunk: str) -> list[Frame]:
    frames = []
    for block in chunk.split("\n\n"):
        if not block.strip():
            continue
        fields: dict[str, str] = {}
        comments = []
        for line in block.split("\n"):
            if line.startswith(":"):
                comments.append(line[1:].strip())
            else:
                name, _sep, value = line.partition(": ")
                fields[name] = value
        frames.append(
            Frame(
                id=fields.get("id"),
                event=fields.get("event"),
                data=json.loads(fields["data"]) if "data" in fields else None,
                comments=comments,
            )
        )
    return frames


class Stream:
    """An open SSE response, read frame by frame."""

    def __init__(self, response: Any) -> None:
        assert isinstance(response, StreamingHttpResponse)
        self.response = response
        self.chunks: AsyncIterator[bytes] = response.streaming_content.__aiter__()  # type: ignore[union-attr]
        self.pending: list[Frame] = []

    async def frame(self) -> Frame:
        while not self.pending:
            chunk = await asyncio.wait_for(self.chunks.__anext__(), timeout=WAIT)
            self.pending += parse(chunk.decode() if isinstance(chunk, bytes) else chunk)
        return self.pending.pop(0)

    async def next_event(self, name: str) -> Frame:
        while True:
            frame = await self.frame()
            if frame.event == name:
                return frame

    async def close(self) -> None:
        await self.chunks.aclose()  # type: ignore[attr-defined]


def run(coroutine: Callable[[], Awaitable[T]]) -> T:
    """Run async test code from a sync test: database work via sync_to_async stays on this thread.

    It runs in a fresh context, without the test's active workspace, as a server's event loop would:
    the stream must set the workspace itself.
    """
    return contextvars.Context().run(async_to_sync(coroutine))


async def open_stream(client: AsyncClient, url: str, **headers: str) -> Stream:
    response = await client.get(url, headers=headers)
    assert response.status_code == 200, response
    assert response["Content-Type"].startswith("text/event-stream")
    assert response["Cache-Control"] == "no-cache, no-store"
    stream = Stream(response)
    opening = await stream.frame()
    assert "open" in opening.comments
    return stream


async def logged_in(member: Member, language: str = "zh-hans") -> AsyncClient:
    client = AsyncClient()
    await client.aforce_login(member.user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


def in_workspace(workspace: Workspace, make: Callable[[], T]) -> Callable[[], Awaitable[T]]:
    def scoped() -> T:
        with workspace_scope(workspace.id):
            return make()

    return sync_to_async(scoped)


ALERTS = "/radar/stream/"


def test_the_alert_stream_lives_at_its_documented_address(workspace: Workspace) -> None:
    assert reverse("radar:stream") == ALERTS


@pytest.fixture
def customer(rep: Member) -> Contact:
    return ContactFactory(name="张三", owner=rep)


@pytest.fixture
def source(workspace: Workspace) -> Source:
    return radar_source()


# ------------------------------------------------------------------------------------ alert stream


def test_a_new_alert_arrives_as_an_sse_frame_with_its_version_as_id(
    workspace: Workspace, rep: Member, customer: Contact
) -> None:
    radar_alert(member=rep, contact_id=customer.id, version=50)  # older than the stream: not sent

    async def scenario() -> tuple[Frame, Notification]:
        stream = await open_stream(await logged_in(rep), ALERTS)
        alert = await in_workspace(
            workspace, lambda: radar_alert(member=rep, contact_id=customer.id, version=1_000)
        )()
        frame = await stream.next_event("notification")
        await stream.close()
        return frame, alert

    frame, alert = run(scenario)
    assert frame.id == "1000"
    assert frame.data is not None
    assert frame.data["id"] == str(alert.id)
    assert frame.data["version"] == 1_000
    assert frame.data["text"] == "张三 正在阅读《秋冬护肤指南》，已停留 2 分 10 秒"
    assert frame.data["contact_url"] == reverse("contacts:detail", kwargs={"contact_id": customer.id})
    assert frame.data["unread"] == 2
    assert frame.data["state"] == "reading"
    assert frame.data["is_read"] is False
    assert f'data-notification-id="{alert.id}"' in frame.data["html"]


def test_an_updated_alert_is_sent_again_with_its_new_version(
    workspace: Workspace, rep: Member, customer: Contact
) -> None:
    alert = radar_alert(member=rep, contact_id=customer.id, version=10)

    def read_on() -> None:
        with workspace_scope(workspace.id):
            row = Notification.objects.get(id=alert.id)
            row.data = {**row.data, "dwell_ms": 200_000, "depth": 90, "state": "left"}
            row.version = 20
            row.save()

    async def scenario() -> Frame:
        stream = await open_stream(await logged_in(rep, "en"), ALERTS + "?after=10")
        await sync_to_async(read_on)()
        frame = await stream.next_event("notification")
        await stream.close()
        return frame

    frame = run(scenario)
    assert frame.id == "20"
    assert frame.data is not None
    assert frame.data["text"] == "张三 finished reading “秋冬护肤指南”: 3 min 20 s, up to 90%"


def test_the_stream_resumes_after_last_event_id_and_the_header_wins_over_after(
    workspace: Workspace, rep: Member, customer: Contact
) -> None:
    first = radar_alert(member=rep, contact_id=customer.id, version=100)
    second = radar_alert(member=rep, contact_id=customer.id, version=200)
    third = radar_alert(member=rep, contact_id=customer.id, version=300)

    async def scenario() -> tuple[list[Frame], list[Frame]]:
        client = await logged_in(rep)
        resumed = await open_stream(client, ALERTS + "?after=0", **{"Last-Event-ID": "100"})
        after_header = [await resumed.next_event("notification") for _ in range(2)]
        await resumed.close()
        from_start = await open_stream(client, ALERTS + "?after=0")
        everything = [await from_start.next_event("notification") for _ in range(3)]
        await from_start.close()
        return after_header, everything

    after_header, everything = run(scenario)
    assert [(f.id, f.data and f.data["id"]) for f in after_header] == [
        ("200", str(second.id)),
        ("300", str(third.id)),
    ]
    assert [f.id for f in everything] == ["100", "200", "300"]
    assert everything[0].data is not None
    assert everything[0].data["id"] == str(first.id)


def test_the_stream_carries_only_the_members_own_alerts(
    workspace: Workspace, rep: Member, make_member: Callable[..., Member], customer: Contact
) -> None:
    colleague = make_member(Role.SALES)

    async def scenario() -> Frame:
        stream = await open_stream(await logged_in(rep), ALERTS + "?after=0")
        await in_workspace(
            workspace, lambda: radar_alert(member=colleague, contact_id=customer.id, version=5)
        )()
        await in_workspace(workspace, lambda: radar_alert(member=rep, contact_id=customer.id, version=6))()
        frame = await stream.next_event("notification")
        await stream.close()
        return frame

    frame = run(scenario)
    assert frame.id == "6"


def test_another_workspaces_alerts_never_reach_the_stream(
    workspace: Workspace, other_workspace: Workspace, rep: Member, customer: Contact
) -> None:
    def foreign_alert() -> Notification:
        with workspace_scope(other_workspace.id):
            stranger = MemberFactory(role=Role.ADMIN)
            return radar_alert(member=stranger, contact_id=None, version=7)

    async def scenario() -> Frame:
        stream = await open_stream(await logged_in(rep), ALERTS + "?after=0")
        await sync_to_async(foreign_alert)()
        await in_workspace(workspace, lambda: radar_alert(member=rep, contact_id=customer.id, version=8))()
        frame = await stream.next_event("notification")
        await stream.close()
        return frame

    assert run(scenario).id == "8"


def test_the_stream_sends_heartbeats_and_ends_after_its_time(
    workspace: Workspace, rep: Member, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.SIYU_SSE_MAX_SECONDS = 0.5
    monkeypatch.setattr(radar_views, "HEARTBEAT_SECONDS", 0.1)

    async def scenario() -> list[Frame]:
        stream = await open_stream(await logged_in(rep), ALERTS)
        frames = []
        try:
            while True:
                frames.append(await stream.frame())
        except StopAsyncIteration:
            return frames

    frames = run(scenario)
    assert any("heartbeat" in f.comments for f in frames)
    assert all(f.event is None for f in frames)


def test_the_stream_refuses_visitors(workspace: Workspace) -> None:
    async def scenario() -> int:
        response = await AsyncClient().get(ALERTS)
        return response.status_code

    assert run(scenario) == 403


# ---------------------------------------------------------------------------------- contact stream


def test_a_contacts_new_event_arrives_on_its_timeline_stream(
    workspace: Workspace, rep: Member, customer: Contact, source: Source
) -> None:
    radar_event(source=source, contact_id=customer.id, type="page", properties={"title": "旧的浏览"})
    other = ContactFactory(name="别人", owner=rep)

    url = reverse("radar:contact_stream", kwargs={"contact_id": customer.id})

    async def scenario() -> tuple[Frame, Any]:
        stream = await open_stream(await logged_in(rep), url)
        await in_workspace(
            workspace, lambda: radar_event(source=source, contact_id=other.id, name="Signed Up")
        )()
        event = await in_workspace(
            workspace,
            lambda: radar_event(
                source=source, contact_id=customer.id, name="Order Completed", properties={"total": 199}
            ),
        )()
        frame = await stream.next_event("activity")
        await stream.close()
        return frame, event

    frame, event = run(scenario)
    assert frame.data is not None
    assert frame.data["id"] == str(event.id)
    assert "下单 ¥199.00" in frame.data["html"]
    assert "旧的浏览" not in frame.data["html"]
    assert frame.data["day_label"] == "今天"
    assert frame.id  # a cursor the browser sends back as Last-Event-ID


def test_the_contact_stream_resumes_from_last_event_id(
    workspace: Workspace, rep: Member, customer: Contact, source: Source
) -> None:
    url = reverse("radar:contact_stream", kwargs={"contact_id": customer.id})

    async def scenario() -> tuple[Frame, Frame]:
        client = await logged_in(rep)
        stream = await open_stream(client, url)
        await in_workspace(
            workspace, lambda: radar_event(source=source, contact_id=customer.id, name="Signed Up")
        )()
        first = await stream.next_event("activity")
        await stream.close()
        # Missed while disconnected:
        await in_workspace(
            workspace, lambda: radar_event(source=source, contact_id=customer.id, name="Subscribed")
        )()
        assert first.id is not None
        resumed = await open_stream(client, url, **{"Last-Event-ID": first.id})
        second = await resumed.next_event("activity")
        await resumed.close()
        return first, second

    first, second = run(scenario)
    assert first.data is not None
    assert "注册了账号" in first.data["html"]
    assert second.data is not None
    assert "完成了订阅" in second.data["html"]


def test_the_contact_stream_of_another_workspace_or_out_of_scope_is_404(
    workspace: Workspace, other_workspace: Workspace, rep: Member, make_member: Callable[..., Member]
) -> None:
    theirs = ContactFactory(owner=make_member(Role.SALES))
    with workspace_scope(other_workspace.id):
        foreign = ContactFactory(name="外人甲")

    urls = [reverse("radar:contact_stream", kwargs={"contact_id": c.id}) for c in (foreign, theirs)]

    async def scenario() -> list[int]:
        client = await logged_in(rep)
        return [(await client.get(url)).status_code for url in urls]

    assert run(scenario) == [404, 404]


# ------------------------------------------------------------------------------- the whole path


def test_a_page_read_through_a_share_link_reaches_the_sharers_stream(
    workspace: Workspace, rep: Member
) -> None:
    """Ingestion → processor → radar alert → the sharer's open stream, with nothing faked in between."""
    source = make_source()
    content = Content.objects.create(title="秋冬护肤指南")
    link = ShareLink.objects.create(content=content, member=rep, token="radarshare01")
    shared = {"content_id": str(content.id), "share_token": link.token, "view_id": "view-1"}

    def read_it() -> None:
        send_and_process(source, [page("anon-radar-1", properties=shared)])

    def keep_reading() -> None:
        send_and_process(
            source,
            [
                message(
                    "track",
                    anonymousId="anon-radar-1",
                    event="Page Left",
                    properties={
                        **shared,
                        "title": "秋冬护肤指南",
                        "active_dwell_ms": 130_000,
                        "scroll_depth": 90,
                    },
                )
            ],
        )

    async def scenario() -> tuple[Frame, Frame]:
        stream = await open_stream(await logged_in(rep), ALERTS)
        await sync_to_async(read_it)()
        opened = await stream.next_event("notification")
        await sync_to_async(keep_reading)()
        finished = await stream.next_event("notification")
        await stream.close()
        return opened, finished

    opened, finished = run(scenario)
    assert opened.data is not None
    assert finished.data is not None
    assert opened.data["text"] == "一位访客 打开了《秋冬护肤指南》"
    assert finished.data["id"] == opened.data["id"]  # the same alert, updated
    assert int(finished.id or 0) > int(opened.id or 0)
    assert finished.data["text"] == "一位访客 读完了《秋冬护肤指南》，停留 2 分 10 秒，读到 90%"
    assert finished.data["contact_url"].startswith("/contacts/")
