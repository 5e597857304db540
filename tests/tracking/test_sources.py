"""Sources: services (write keys, origins, rotation, activation), selectors, the settings pages, the
install snippet, the SDK file, and another workspace's sources staying out of reach."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from siyu.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from siyu.core.tenancy import workspace_scope
from siyu.tenancy.roles import Role
from siyu.tenancy.selectors import actor_for_member
from siyu.tracking.models import IngestWarning, Source, SourceKind, WarningCode
from siyu.tracking.selectors.sources import (
    source_for_write_key,
    source_get,
    source_list,
    warning_counts_by_code,
    warning_counts_by_source,
    warning_list,
)
from siyu.tracking.services.sources import (
    origin_clean,
    source_activate,
    source_create,
    source_deactivate,
    source_key_rotate,
    source_update,
)
from siyu.tracking.snippet import loader_snippet
from tests.conftest import client_for
from tests.factories import ChannelFactory, MemberFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
WRITE_KEY = re.compile(r"^wk_[A-Za-z0-9_-]{32}$")


@pytest.fixture
def admin_client(admin):
    return client_for(admin)


@pytest.fixture
def foreign(other_workspace):
    """Another workspace's source, with a warning."""
    with workspace_scope(other_workspace.id):
        owner = MemberFactory(role=Role.OWNER)
        actor = actor_for_member(member=owner, ip_address=None)
        source = source_create(actor=actor, name="外部网站", allowed_origins=["https://other.example"])
        IngestWarning.objects.create(source=source, code=WarningCode.ILLEGAL_ID, detail="外部警告")
    return source


# Services ------------------------------------------------------------------------------------------


def test_create_makes_a_random_unique_write_key_and_cleans_origins(admin_actor):
    channel = ChannelFactory(name="官网", code="site")
    source = source_create(
        actor=admin_actor,
        name="  官网  ",
        kind=SourceKind.WEBSITE,
        allowed_origins=[
            "https://Shop.Example.com/",
            "http://localhost:8000",
            "https://shop.example.com:443",
            " ",
        ],
        channel=channel,
    )
    assert source.name == "官网"
    assert WRITE_KEY.match(source.write_key)
    assert source.allowed_origins == ["https://shop.example.com", "http://localhost:8000"]
    assert source.channel == channel
    assert source.is_active
    other = source_create(actor=admin_actor, name="服务端", kind=SourceKind.SERVER)
    assert other.write_key != source.write_key
    assert other.allowed_origins == []


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("*", "*"),
        ("https://shop.example.com", "https://shop.example.com"),
        ("HTTPS://SHOP.EXAMPLE.COM/", "https://shop.example.com"),
        ("http://example.com:80", "http://example.com"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("https://[::1]:8443", "https://[::1]:8443"),
        ("https://例子.中国", "https://xn--fsqu00a.xn--fiqs8s"),
    ],
)
def test_origins_are_written_as_browsers_send_them(raw, cleaned):
    assert origin_clean(raw) == cleaned


@pytest.mark.parametrize(
    "raw",
    [
        "shop.example.com",
        "ftp://shop.example.com",
        "https://shop.example.com/page",
        "https://shop.example.com?x=1",
        "https://user:pw@shop.example.com",
        "https://*.example.com",
        "https://shop.example.com:99999",
        "https://",
        "https://bad_host.com",
        "javascript:alert(1)",
    ],
)
def test_bad_origins_are_refused_with_the_way_to_write_them(admin_actor, raw):
    with pytest.raises(ValidationError) as refused:
        source_create(actor=admin_actor, name="官网", allowed_origins=[raw])
    assert "scheme://host[:port]" in refused.value.message
    assert list(refused.value.fields) == ["allowed_origins"]
    assert not Source.objects.exists()


def test_any_origin_swallows_the_others(admin_actor):
    source = source_create(actor=admin_actor, name="H5", allowed_origins=["https://a.example", "*"])
    assert source.allowed_origins == ["*"]


def test_names_are_required_and_unique_per_workspace(admin_actor, foreign, english):
    with pytest.raises(ValidationError):
        source_create(actor=admin_actor, name="  ")
    with pytest.raises(ValidationError):
        source_create(actor=admin_actor, name="x" * 101)
    source_create(actor=admin_actor, name="外部网站")  # the other workspace's name is free here
    with pytest.raises(Conflict) as duplicate:
        source_create(actor=admin_actor, name="外部网站")
    assert duplicate.value.message == "A source named “外部网站” exists."
    with pytest.raises(ValidationError):
        source_create(actor=admin_actor, name="新", kind="satellite")


def test_update_changes_settings_and_keeps_the_key(admin_actor):
    source = source_create(actor=admin_actor, name="官网", allowed_origins=["https://a.example"])
    key = source.write_key
    channel = ChannelFactory(name="公众号", code="mp")
    source_update(
        actor=admin_actor,
        source=source,
        name="公众号 H5",
        kind=SourceKind.WECHAT_H5,
        allowed_origins=["https://h5.example"],
        channel=channel,
    )
    source.refresh_from_db()
    assert (source.name, source.kind, source.allowed_origins, source.channel_id, source.write_key) == (
        "公众号 H5",
        SourceKind.WECHAT_H5,
        ["https://h5.example"],
        channel.id,
        key,
    )
    # Its own name is not a conflict; another source's is.
    source_update(
        actor=admin_actor, source=source, name="公众号 H5", kind="website", allowed_origins=[], channel=None
    )
    source_create(actor=admin_actor, name="小程序")
    with pytest.raises(Conflict):
        source_update(
            actor=admin_actor, source=source, name="小程序", kind="website", allowed_origins=[], channel=None
        )


def test_a_channel_of_another_workspace_is_refused(admin_actor, other_workspace):
    with workspace_scope(other_workspace.id):
        foreign_channel = ChannelFactory(name="外部渠道", code="foreign")
    with pytest.raises(ValidationError) as refused:
        source_create(actor=admin_actor, name="官网", channel=foreign_channel)
    assert list(refused.value.fields) == ["channel"]


def test_rotation_makes_a_new_key_and_the_old_one_stops_working(admin_actor):
    source = source_create(actor=admin_actor, name="官网")
    old_key = source.write_key
    assert source_for_write_key(old_key) == source
    source_key_rotate(actor=admin_actor, source=source)
    source.refresh_from_db()
    assert WRITE_KEY.match(source.write_key)
    assert source.write_key != old_key
    assert source_for_write_key(old_key) is None
    assert source_for_write_key(source.write_key) == source


def test_deactivated_sources_are_not_found_by_key_until_activated(admin_actor):
    source = source_create(actor=admin_actor, name="官网")
    source_deactivate(actor=admin_actor, source=source)
    source.refresh_from_db()
    assert not source.is_active
    assert source_for_write_key(source.write_key) is None
    source_activate(actor=admin_actor, source=source)
    assert source_for_write_key(source.write_key) == source
    assert source_for_write_key("") is None
    assert source_for_write_key("wk_unknown") is None


def test_the_write_key_lookup_crosses_workspaces_but_source_get_does_not(admin_actor, foreign):
    # The gateway finds the other workspace's source by its key, whatever workspace is active…
    assert source_for_write_key(foreign.write_key) == foreign
    # …but nothing else shows it here.
    assert foreign not in source_list()
    with pytest.raises(NotFound):
        source_get(source_id=foreign.id)
    with pytest.raises(NotFound):
        source_get(source_id="not-a-uuid")
    assert warning_counts_by_source() == {}


def test_sales_reps_may_not_manage_sources(rep_actor, admin_actor):
    with pytest.raises(PermissionDenied):
        source_create(actor=rep_actor, name="官网")
    source = source_create(actor=admin_actor, name="官网")
    for write in (source_key_rotate, source_deactivate, source_activate):
        with pytest.raises(PermissionDenied):
            write(actor=rep_actor, source=source)
    with pytest.raises(PermissionDenied):
        source_update(
            actor=rep_actor, source=source, name="改", kind="website", allowed_origins=[], channel=None
        )


def test_warnings_are_listed_newest_first_and_counted_per_source_and_code(admin_actor, foreign):
    site = source_create(actor=admin_actor, name="官网")
    server = source_create(actor=admin_actor, name="服务端", kind=SourceKind.SERVER)
    for code, detail in [
        (WarningCode.ILLEGAL_ID, "first"),
        (WarningCode.MISSING_ID, "second"),
        (WarningCode.ILLEGAL_ID, "third"),
    ]:
        IngestWarning.objects.create(source=site, code=code, detail=detail)
    IngestWarning.objects.create(source=server, code=WarningCode.BAD_TIMESTAMP)
    IngestWarning.objects.create(source=None, code=WarningCode.IDENTITY_CONFLICT)
    assert warning_counts_by_source() == {site.id: 3, server.id: 1}
    assert [(row.code, row.count) for row in warning_counts_by_code(source=site)] == [
        ("illegal_id", 2),
        ("missing_id", 1),
    ]
    assert [w.detail for w in warning_list(source=site)] == ["third", "second", "first"]
    assert [w.detail for w in warning_list(source=site, limit=2)] == ["third", "second"]
    assert warning_list(source=foreign) == []  # another workspace's source has none here


# The snippet and the SDK file ----------------------------------------------------------------------


def test_the_snippet_loads_the_sdk_from_siyu_and_passes_key_and_host():
    snippet = loader_snippet(write_key="wk_abc", host="https://crm.example.com/")
    assert snippet.startswith("<script>")
    assert snippet.endswith("</script>")
    assert 't.src="https://crm.example.com/sdk/siyu.js"' in snippet
    assert 's.load("wk_abc",{host:"https://crm.example.com"});s.page()' in snippet
    # Nothing in a value can close the script element.
    assert "</script>" not in loader_snippet(write_key="</script>", host="https://x")[: -len("</script>")]


def test_the_sdk_is_served_with_js_type_cors_cache_headers_and_etag(client):
    response = client.get(reverse("sdk:script"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/javascript; charset=utf-8"
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response["Cache-Control"] == "public, max-age=300"
    body = response.content.decode()
    assert body.startswith("/*! siyu.js")
    assert 'name: "siyu.js"' in body
    etag = response["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{20}"', etag)
    again = client.get(reverse("sdk:script"), HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag
    compressed = client.get(reverse("sdk:script"), HTTP_ACCEPT_ENCODING="gzip")
    assert compressed["Content-Encoding"] == "gzip"
    assert len(compressed.content) < len(body) / 2
    weak = compressed["ETag"]
    assert weak == f"W/{etag}"
    assert client.get(reverse("sdk:script"), HTTP_IF_NONE_MATCH=weak).status_code == 304
    assert client.post(reverse("sdk:script")).status_code == 405


# Pages ---------------------------------------------------------------------------------------------


def test_sources_page_lists_sources_with_warning_counts(admin_client, admin_actor, foreign):
    site = source_create(
        actor=admin_actor, name="官网", channel=ChannelFactory(name="自然流量", code="organic")
    )
    IngestWarning.objects.create(source=site, code=WarningCode.MISSING_ID)
    source_deactivate(actor=admin_actor, source=source_create(actor=admin_actor, name="旧站"))
    html = admin_client.get(reverse("tracking_settings:sources")).content.decode()
    assert "官网" in html
    assert "自然流量" in html
    assert (
        f'{reverse("tracking_settings:source_detail", args=[site.id])}?tab=warnings" class="badge bg-orange-lt">1<'
        in html
    )
    assert "Deactivated" in html
    assert "外部" not in html


def test_pages_are_for_source_managers_only(admin_actor, make_member):
    source = source_create(actor=admin_actor, name="官网")
    urls = [
        reverse("tracking_settings:sources"),
        reverse("tracking_settings:source_detail", args=[source.id]),
        reverse("tracking_settings:settings"),
    ]
    marketing = client_for(make_member(Role.MARKETING))
    assert [marketing.get(url).status_code for url in urls] == [200, 200, 200]
    for role in (Role.SALES, Role.MANAGER):
        refused = client_for(make_member(role))
        assert [refused.get(url).status_code for url in urls] == [403, 403, 403]
    assert Client().get(urls[0]).status_code == 302  # to the login page


def test_adding_a_source_opens_its_install_page(admin_client):
    response = admin_client.post(
        reverse("tracking_settings:source_add"),
        {
            "name": "官网",
            "kind": "website",
            "allowed_origins": "https://shop.example.com, https://m.example.com",
        },
    )
    source = Source.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("tracking_settings:source_detail", args=[source.id])
    assert source.allowed_origins == ["https://shop.example.com", "https://m.example.com"]
    page = admin_client.get(response["Location"])
    html = page.content.decode()
    assert page["Cache-Control"] == "no-store"
    assert "Source “官网” was created." in html
    assert source.write_key in html
    assert "http://testserver/sdk/siyu.js" in html  # the snippet points at this Siyu
    assert "Put it in the &lt;head&gt; of each page" in html
    assert "Browsers cannot send events" not in html

    by_htmx = admin_client.post(
        reverse("tracking_settings:source_add"), {"name": "H5", "kind": "wechat_h5"}, **HTMX
    )
    h5 = Source.objects.get(name="H5")
    assert by_htmx.status_code == 204
    assert by_htmx["HX-Redirect"] == reverse("tracking_settings:source_detail", args=[h5.id])
    html = admin_client.get(by_htmx["HX-Redirect"]).content.decode()
    assert "Browsers cannot send events with this key yet" in html


def test_a_bad_new_source_shows_the_reason_and_stores_nothing(admin_client):
    response = admin_client.post(
        reverse("tracking_settings:source_add"),
        {"name": "官网", "kind": "website", "allowed_origins": "shop.example"},
    )
    assert response.status_code == 422
    assert "“shop.example” is not an origin." in response.content.decode()
    htmx = admin_client.post(reverse("tracking_settings:source_add"), {"name": "", "kind": "website"}, **HTMX)
    assert htmx.status_code == 200
    assert "Give the source a name." in htmx.content.decode()
    assert 'id="sources-section"' in htmx.content.decode()
    assert not Source.objects.exists()


def test_editing_rotating_and_deactivating_from_the_detail_page(admin_client, admin_actor):
    source = source_create(actor=admin_actor, name="官网")
    old_key = source.write_key
    channel = ChannelFactory(name="官网渠道", code="site")
    saved = admin_client.post(
        reverse("tracking_settings:source_edit", args=[source.id]),
        {
            "name": "官方网站",
            "kind": "website",
            "allowed_origins": "https://a.example\n*",
            "channel": channel.id,
        },
        **HTMX,
    )
    assert saved.status_code == 200
    assert "Source “官方网站” was saved." in saved.content.decode()
    source.refresh_from_db()
    assert (source.name, source.allowed_origins, source.channel_id) == ("官方网站", ["*"], channel.id)

    refused = admin_client.post(
        reverse("tracking_settings:source_edit", args=[source.id]),
        {"name": "官方网站", "kind": "website", "allowed_origins": "https://a.example/path"},
    )
    assert refused.status_code == 422
    assert "is not an origin" in refused.content.decode()
    source.refresh_from_db()
    assert source.allowed_origins == ["*"]

    rotated = admin_client.post(reverse("tracking_settings:source_rotate", args=[source.id]))
    assert rotated.status_code == 302
    assert rotated["Location"].endswith("?tab=install")
    source.refresh_from_db()
    assert source.write_key != old_key
    html = admin_client.get(rotated["Location"]).content.decode()
    assert source.write_key in html
    assert old_key not in html

    admin_client.post(reverse("tracking_settings:source_deactivate", args=[source.id]), **HTMX)
    source.refresh_from_db()
    assert not source.is_active
    html = admin_client.get(reverse("tracking_settings:source_detail", args=[source.id])).content.decode()
    assert "This source is deactivated" in html
    admin_client.post(reverse("tracking_settings:source_activate", args=[source.id]))
    source.refresh_from_db()
    assert source.is_active


def test_the_warnings_tab_counts_by_code_and_lists_recent_ones(admin_client, admin_actor):
    source = source_create(actor=admin_actor, name="官网")
    IngestWarning.objects.create(
        source=source,
        code=WarningCode.ILLEGAL_ID,
        detail="anonymousId “undefined” is not a real id",
        message_id="m-1",
    )
    IngestWarning.objects.create(
        source=source, code=WarningCode.ILLEGAL_ID, detail="userId “null” is not a real id"
    )
    IngestWarning.objects.create(
        source=source, code=WarningCode.TOO_LARGE, detail="the message is 40000 bytes"
    )
    html = admin_client.get(
        reverse("tracking_settings:source_detail", args=[source.id]), {"tab": "warnings"}
    ).content.decode()
    assert 'data-testid="warning-count-illegal_id">2<' in html
    assert 'data-testid="warning-count-too_large">1<' in html
    assert "anonymousId “undefined” is not a real id" in html
    assert "m-1" in html
    assert 'id="tab-warnings" role="tabpanel"' in html
    assert re.search(r'class="tab-pane active show" id="tab-warnings"', html)


def test_another_workspaces_source_is_404_everywhere_and_unchanged(admin_client, foreign, other_workspace):
    key = foreign.write_key
    attempts = [
        ("get", reverse("tracking_settings:source_detail", args=[foreign.id]), {}),
        (
            "post",
            reverse("tracking_settings:source_edit", args=[foreign.id]),
            {"name": "改", "kind": "website"},
        ),
        ("post", reverse("tracking_settings:source_rotate", args=[foreign.id]), {}),
        ("post", reverse("tracking_settings:source_deactivate", args=[foreign.id]), {}),
        ("post", reverse("tracking_settings:source_activate", args=[foreign.id]), {}),
    ]
    for method, url, data in attempts:
        response = getattr(admin_client, method)(url, data)
        assert response.status_code == 404, url
        assert "外部" not in response.content.decode(), url
        assert key not in response.content.decode(), url
    assert "外部" not in admin_client.get(reverse("tracking_settings:sources")).content.decode()
    with workspace_scope(other_workspace.id):
        unchanged = Source.objects.get()
    assert (unchanged.name, unchanged.write_key, unchanged.is_active) == ("外部网站", key, True)
