"""`siyu createsource` (a source made from the command line, its key printed and accepted by ingestion)
and `siyu eventdump` (one workspace's tracking state as JSON)."""

import io
import re
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django.utils import translation

from siyu.core.tenancy import workspace_scope
from siyu.tenancy.models import Member, Workspace
from siyu.tenancy.roles import Role
from siyu.tracking.models import InboundBatch, Source, SourceKind
from tests.factories import MemberFactory, WorkspaceFactory
from tests.tracking.events import make_source, message, page, send, send_and_process

pytestmark = pytest.mark.django_db
RANDOM_KEY = re.compile(r"^wk_[A-Za-z0-9_-]{32}$")


def _run(*args: str, **options: Any) -> str:
    out = io.StringIO()
    call_command("createsource", *args, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    with translation.override("en"):
        yield


@pytest.fixture
def huayang(db: None) -> Workspace:
    workspace = WorkspaceFactory(name="花漾美妆", slug="huayang")
    with workspace_scope(workspace.id):
        MemberFactory(role=Role.OWNER, display_name="林总")
    return workspace


@pytest.fixture
def other(db: None) -> Workspace:
    workspace = WorkspaceFactory(name="Other Co", slug="other")
    with workspace_scope(workspace.id):
        MemberFactory(role=Role.OWNER)
    return workspace


def test_createsource_prints_a_random_key_that_ingestion_accepts(huayang: Workspace) -> None:
    output = _run(
        workspace="huayang",
        name=" 官网 ",
        kind="wechat_h5",
        origin=["https://Shop.Example.com/", "http://localhost:8000"],
    )

    key = output.strip()
    assert RANDOM_KEY.match(key), output
    with workspace_scope(huayang.id):
        source = Source.objects.get()
        assert (source.name, source.kind, source.write_key, source.is_active) == (
            "官网",
            SourceKind.WECHAT_H5,
            key,
            True,
        )
        assert source.allowed_origins == ["https://shop.example.com", "http://localhost:8000"]
        response = send(source, [page("anon-cli")])
        assert response.status_code == 200, response.content
        assert InboundBatch.objects.get().source_id == source.id


def test_createsource_takes_a_fixed_write_key(huayang: Workspace) -> None:
    output = _run(workspace="huayang", name="服务端", kind="server", write_key="wk_fixed_key_for_tests_1")

    assert output.strip() == "wk_fixed_key_for_tests_1"
    with workspace_scope(huayang.id):
        source = Source.objects.get()
        assert (source.kind, source.write_key, source.allowed_origins) == (
            SourceKind.SERVER,
            "wk_fixed_key_for_tests_1",
            [],
        )
        assert send(source, [page("anon-fixed")]).status_code == 200


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"workspace": "nowhere", "name": "官网"}, "There is no workspace with the slug “nowhere”."),
        ({"workspace": "huayang", "name": "官网", "kind": "fax"}, "Unknown source type."),
        ({"workspace": "huayang", "name": "  "}, "A source needs a name of 1 to 100 characters."),
        ({"workspace": "huayang", "name": "官网", "origin": ["ftp://x.example"]}, "is not an origin"),
        ({"workspace": "huayang", "name": "官网", "write_key": "short"}, "A write key has 16 to 64"),
        ({"workspace": "huayang", "name": "官网", "write_key": "has spaces in the key"}, "A write key has"),
    ],
)
def test_createsource_refuses_bad_input_and_creates_nothing(
    huayang: Workspace, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(CommandError, match=re.escape(message)):
        _run(**options)
    assert not Source.all_workspaces.exists()


def test_createsource_refuses_a_taken_name_or_a_key_another_workspace_uses(
    huayang: Workspace, other: Workspace
) -> None:
    _run(workspace="other", name="官网", write_key="wk_taken_elsewhere_0001")
    _run(workspace="huayang", name="官网")

    with pytest.raises(CommandError, match=re.escape("A source named “官网” exists.")):
        _run(workspace="huayang", name="官网")
    with pytest.raises(CommandError, match="already used by another source"):
        _run(workspace="huayang", name="小程序", write_key="wk_taken_elsewhere_0001")
    with workspace_scope(huayang.id):
        assert [s.name for s in Source.objects.all()] == ["官网"]


def test_createsource_needs_an_active_owner(huayang: Workspace) -> None:
    with workspace_scope(huayang.id):
        Member.objects.filter(role=Role.OWNER).update(is_active=False)
    with pytest.raises(CommandError, match="no active owner"):
        _run(workspace="huayang", name="官网")


def test_another_workspace_cannot_see_the_created_source(huayang: Workspace, other: Workspace) -> None:
    _run(workspace="huayang", name="官网")
    with workspace_scope(huayang.id):
        source = Source.objects.get()
    with workspace_scope(other.id):
        assert not Source.objects.exists()
        admin = MemberFactory(role=Role.ADMIN)
    client = Client()
    client.force_login(admin.user)
    url = reverse("tracking_settings:source_detail", args=[source.id])
    assert client.get(url).status_code == 404


def _dump(*args: str) -> dict[str, Any]:
    out = io.StringIO()
    call_command("eventdump", *args, stdout=out)
    document: dict[str, Any] = orjson.loads(out.getvalue())
    return document


def test_eventdump_shows_one_workspaces_batches_events_and_contacts(
    huayang: Workspace, other: Workspace
) -> None:
    for workspace, anonymous_id in ((huayang, "anon-here"), (other, "anon-there")):
        with workspace_scope(workspace.id):
            send_and_process(make_source(), [page(anonymous_id), message(anonymousId=anonymous_id)])
    with workspace_scope(huayang.id):
        send(Source.objects.get(), [page("anon-later")])

    counts = _dump("--workspace", "huayang", "--counts")
    full = _dump("--workspace", "huayang")
    brief = _dump("--workspace", "huayang", "--no-payloads")

    assert counts["batches"] == {"total": 2, "pending": 1, "failed": 0}
    assert (counts["events"], counts["contacts"], counts["activities"], counts["counted_per_minute"]) == (
        2,
        1,
        1,
        2,
    )
    assert "event_rows" not in counts
    assert [(e["type"], e["anonymous_id"]) for e in full["event_rows"]] == [
        ("page", "anon-here"),
        ("track", "anon-here"),
    ]
    assert full["event_rows"][0]["properties"]["path"] == "/articles/1"
    assert "properties" not in brief["event_rows"][0]
    [contact] = full["contact_rows"]
    assert contact["identities"] == [["anonymous_id", "anon-here"]]
    assert (contact["activity"]["events"], contact["activity"]["page_views"]) == (2, 1)
    with translation.override("en"), pytest.raises(CommandError, match="There is no workspace"):
        _dump("--workspace", "nowhere")  # (the requests above switched the language)
