"""Content library pages and the public share pages."""

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image

from siyu.contacts.models import Channel
from siyu.core.tenancy import workspace_scope
from siyu.tenancy.models import Member, Workspace
from siyu.tenancy.roles import Role
from siyu.tracking.models import Content, ContentCategory, ContentKind, ShareLink, Source
from tests.conftest import client_for
from tests.factories import ChannelFactory, MemberFactory
from tests.tracking.content_rows import article, file_upload, image_bytes, image_upload, product, viewer

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def media(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return Path(settings.MEDIA_ROOT)


def json_script(html: str, element_id: str) -> Any:
    found = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html)
    assert found is not None
    return json.loads(found.group(1))


@pytest.fixture
def marketer_client(marketer) -> Client:
    return client_for(marketer)


@pytest.fixture
def rep_client(rep) -> Client:
    return client_for(rep)


@pytest.fixture
def anonymous() -> Client:
    client = Client()
    client.cookies["django_language"] = "en"
    return client


@pytest.fixture
def foreign(workspace: Workspace, other_workspace: Workspace) -> dict[str, object]:
    """Another workspace's poster, file and article, with a member's link to the article."""
    with workspace_scope(other_workspace.id):
        member = MemberFactory(role=Role.SALES, display_name="外部销售")
        content = article(title="外部文章")
        link = ShareLink.objects.create(content=content, member=member, token="Foreign123")
    return {"content": content, "link": link}


def poster(client: Client, **fields: object) -> Content:
    response = client.post(
        reverse("content:add") + "?kind=poster",
        {"title": "双十一海报", "file": image_upload(720, 1280), "is_published": "on", **fields},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    return Content.objects.get(title=fields.get("title", "双十一海报"))


# Library pages -------------------------------------------------------------------------------------


def test_the_library_shows_cards_with_kind_tabs_filters_and_share_buttons(marketer_client, foreign):
    category = ContentCategory.objects.create(name="护肤指南")
    guide = article(title="秋冬护肤指南", category=category, tags=["护肤"])
    product(title="玻尿酸精华", tags=["精华"])
    article(title="内部草稿", is_published=False)
    page = marketer_client.get(reverse("content:list"))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'class="page"' in html
    for title in ("秋冬护肤指南", "玻尿酸精华", "内部草稿"):
        assert title in html
    assert "外部文章" not in html
    assert f'href="{reverse("content:detail", args=[guide.id])}#share"' in html
    assert "Product page" in html
    assert ">Draft<" in html
    assert f'<option value="{category.id}">护肤指南</option>' in html
    section = marketer_client.get(reverse("content:list"), {"kind": "product"}, **HTMX).content.decode()
    assert 'class="page"' not in section
    assert "玻尿酸精华" in section
    assert "秋冬护肤指南" not in section
    by_tag = marketer_client.get(reverse("content:list"), {"tag": "护肤"}).content.decode()
    assert "秋冬护肤指南" in by_tag
    assert "玻尿酸精华" not in by_tag
    by_category = marketer_client.get(
        reverse("content:list"), {"category": str(category.id)}
    ).content.decode()
    assert "秋冬护肤指南" in by_category
    assert "玻尿酸精华" not in by_category
    searched = marketer_client.get(reverse("content:list"), {"q": "精华"}).content.decode()
    assert "玻尿酸精华" in searched
    assert "秋冬护肤指南" not in searched


def test_a_sales_rep_sees_published_content_only_and_cannot_edit(rep_client):
    published, draft = article(title="已发布"), article(title="草稿文章", is_published=False)
    html = rep_client.get(reverse("content:list")).content.decode()
    assert "已发布" in html
    assert "草稿文章" not in html
    assert reverse("content:add") not in html
    assert rep_client.get(reverse("content:detail", args=[published.id])).status_code == 200
    assert rep_client.get(reverse("content:detail", args=[draft.id])).status_code == 404
    for name in ("content:add", "content:categories"):
        assert rep_client.get(reverse(name)).status_code == 403
    for name in ("content:edit", "content:delete"):
        assert rep_client.get(reverse(name, args=[published.id])).status_code == 403


def test_anonymous_visitors_are_sent_to_login(anonymous):
    response = anonymous.get(reverse("content:list"))
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("kind", ContentKind.values)
def test_the_add_form_shows_the_fields_of_each_kind(marketer_client, kind):
    html = marketer_client.get(reverse("content:add"), {"kind": kind}).content.decode()
    fields = set(re.findall(r'name="(title|body|price|url|file|cover|category|tags|summary)"', html))
    expected = {"title", "summary", "cover", "category", "tags"} | {
        "article": {"body"},
        "product": {"body", "price"},
        "poster": {"file"},
        "file": {"file"},
        "link": {"url"},
    }[kind]
    assert fields == expected


def test_adding_an_article_sanitises_it_and_opens_its_page(marketer_client, marketer):
    category = ContentCategory.objects.create(name="护肤指南")
    response = marketer_client.post(
        reverse("content:add") + "?kind=article",
        {
            "title": "秋冬护肤指南",
            "summary": "三步",
            "body": '<h2>清洁</h2><p onclick="x()">温和</p><script>alert(1)</script>',
            "category": str(category.id),
            "tags": "护肤，秋冬",
            "is_published": "on",
        },
    )
    content = Content.objects.get()
    assert response.status_code == 302
    assert response.headers["Location"] == reverse("content:detail", args=[content.id])
    assert (content.body, content.tags, content.category_id, content.created_by_id) == (
        "<h2>清洁</h2><p>温和</p>",
        ["护肤", "秋冬"],
        category.id,
        marketer.id,
    )


def test_form_errors_are_shown_and_nothing_is_stored(marketer_client):
    response = marketer_client.post(
        reverse("content:add") + "?kind=link", {"title": "链接", "url": "javascript:alert(1)"}
    )
    assert response.status_code == 422
    assert (
        '<div class="invalid-feedback d-block">An external link must be an http:// or https:// address.</div>'
        in response.content.decode()
    )
    bad_poster = marketer_client.post(
        reverse("content:add") + "?kind=poster",
        {"title": "海报", "file": io.BytesIO(b"<svg onload=alert(1)>")},
    )
    assert bad_poster.status_code == 422
    assert "not an image" in bad_poster.content.decode()
    assert Content.objects.count() == 0


def test_an_oversized_upload_is_refused_before_it_is_read(marketer_client):
    response = marketer_client.post(
        reverse("content:add") + "?kind=file",
        data=b"x",
        content_type="multipart/form-data; boundary=BoUnDaRy",
        CONTENT_LENGTH=str(60 * 1024 * 1024),
    )
    assert response.status_code == 413
    assert "larger than 50 MB" in response.content.decode()


def test_editing_changes_the_content_and_keeps_its_kind(marketer_client):
    content = product(title="精华", body="<p>旧</p>")
    form = marketer_client.get(reverse("content:edit", args=[content.id])).content.decode()
    assert 'value="精华"' in form
    assert 'name="price"' in form
    response = marketer_client.post(
        reverse("content:edit", args=[content.id]),
        {"title": "新精华", "price": "299", "body": "<p>新</p>", "tags": "", "is_published": ""},
    )
    assert response.status_code == 302
    content.refresh_from_db()
    assert (content.kind, content.title, str(content.price), content.body, content.is_published) == (
        "product",
        "新精华",
        "299.00",
        "<p>新</p>",
        False,
    )


def test_deleting_asks_first_then_removes_the_content(marketer_client):
    content = article(title="要删的")
    viewer(content, views=3)
    confirm = marketer_client.get(reverse("content:delete", args=[content.id]))
    assert confirm.status_code == 200
    assert "It has 3 views by 1 viewer." in confirm.content.decode()
    response = marketer_client.post(reverse("content:delete", args=[content.id]))
    assert response.status_code == 302
    assert not Content.objects.filter(id=content.id).exists()


def test_the_live_preview_returns_the_sanitised_body(marketer_client, rep_client):
    response = marketer_client.post(
        reverse("content:preview"), {"body": "<p>好</p><img src=x onerror=alert(1)>"}
    )
    assert response.content.decode().strip() == '<p>好</p><img src="x">'
    assert rep_client.post(reverse("content:preview"), {"body": "<p>x</p>"}).status_code == 403


def test_categories_page_adds_renames_and_deletes(marketer_client):
    page = marketer_client.get(reverse("content:categories"))
    assert page.status_code == 200
    assert "No categories yet" in page.content.decode()
    added = marketer_client.post(reverse("content:categories"), {"action": "create", "name": "护肤"}, **HTMX)
    assert 'id="categories-section"' in added.content.decode()
    category = ContentCategory.objects.get()
    duplicate = marketer_client.post(
        reverse("content:categories"), {"action": "create", "name": "护肤"}, **HTMX
    )
    assert "already exists" in duplicate.content.decode()
    marketer_client.post(
        reverse("content:categories"),
        {"action": "update", "category_id": str(category.id), "name": "护肤指南", "sort_order": "3"},
    )
    category.refresh_from_db()
    assert (category.name, category.sort_order) == ("护肤指南", 3)
    article(category=category)
    marketer_client.post(reverse("content:categories"), {"action": "delete", "category_id": str(category.id)})
    assert ContentCategory.objects.count() == 0
    assert Content.objects.get().category_id is None


# One content: share link, QR code, poster ---------------------------------------------------------


def test_the_content_page_gives_the_member_a_share_link_qr_code_and_figures(rep_client, rep, make_member):
    content = article(title="秋冬护肤指南", body="<p>正文段落</p>")
    colleague = make_member(Role.SALES, display_name="销售小张")
    viewer(content, sharer=rep, views=3, dwell_ms=60_000, depth=100)
    viewer(content, sharer=colleague, views=1, dwell_ms=20_000, depth=50)
    html = rep_client.get(reverse("content:detail", args=[content.id])).content.decode()
    link = ShareLink.objects.get(member=rep, content=content)
    assert f'value="http://testserver/s/{link.token}/"' in html
    assert "data-copy=" in html
    assert f'src="{reverse("content:qr", args=[content.id])}"' in html
    assert "<p>正文段落</p>" in html
    assert re.search(r'data-stat="views">4<', html)
    assert re.search(r'data-stat="viewers">2<', html)
    assert re.search(r'data-stat="completion">50.0%<', html)
    assert 'data-chart="sharers"' in html
    chart = json_script(html, "sharer-chart-data")
    assert (chart["names"], chart["views"], chart["viewers"]) == (["销售小王", "销售小张"], [3, 1], [1, 1])
    rep_client.get(reverse("content:detail", args=[content.id]))
    assert ShareLink.objects.filter(member=rep).count() == 1


def test_a_channel_link_is_a_separate_link(rep_client, rep):
    content = article()
    channel = ChannelFactory(name="朋友圈", code="moments")
    html = rep_client.get(
        reverse("content:detail", args=[content.id]), {"channel": str(channel.id)}
    ).content.decode()
    link = ShareLink.objects.get(member=rep, channel=channel)
    assert f"/s/{link.token}/" in html
    assert f"?channel={channel.id}" in html


def test_the_qr_code_is_a_png_of_the_members_link_or_an_svg(rep_client, rep):
    content = article()
    png = rep_client.get(reverse("content:qr", args=[content.id]), {"scale": "4"})
    assert png.headers["Content-Type"] == "image/png"
    with Image.open(io.BytesIO(png.content)) as image:
        assert image.format == "PNG"
        assert image.size[0] == image.size[1]
        assert image.size[0] % 4 == 0
    svg = rep_client.get(reverse("content:qr", args=[content.id]), {"format": "svg", "download": "1"})
    assert svg.headers["Content-Type"] == "image/svg+xml"
    assert svg.content.startswith(b"<svg")
    assert "attachment" in svg.headers["Content-Disposition"]
    assert ShareLink.objects.filter(member=rep).count() == 1


def test_the_poster_download_has_the_posters_size(marketer_client, rep_client):
    content = poster(marketer_client)
    response = rep_client.get(reverse("content:poster", args=[content.id]), {"download": "1"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/png"
    assert "attachment" in response.headers["Content-Disposition"]
    with Image.open(io.BytesIO(b"".join(response.streaming_content))) as image:
        assert image.size == (720, 1280)
    article_content = article()
    assert rep_client.get(reverse("content:poster", args=[article_content.id])).status_code == 404


def test_files_and_covers_are_served_to_members(marketer_client, rep_client):
    response = marketer_client.post(
        reverse("content:add") + "?kind=file",
        {
            "title": "报价单",
            "file": file_upload(),
            "cover": image_upload(name="cover.png"),
            "is_published": "on",
        },
    )
    assert response.status_code == 302
    content = Content.objects.get()
    download = rep_client.get(reverse("content:file", args=[content.id]))
    assert b"".join(download.streaming_content) == b"%PDF-1.4 price list"
    assert "attachment" in download.headers["Content-Disposition"]
    assert download.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    cover = rep_client.get(reverse("content:cover", args=[content.id]))
    assert cover.headers["Content-Type"] == "image/png"


def test_another_workspaces_content_is_404_on_every_page(marketer_client, foreign):
    content_id = foreign["content"].id
    for name in ("detail", "edit", "delete", "qr", "poster", "file", "cover"):
        assert marketer_client.get(reverse(f"content:{name}", args=[content_id])).status_code == 404, name
    assert marketer_client.post(reverse("content:delete", args=[content_id])).status_code == 404
    with workspace_scope(foreign["content"].workspace_id):
        assert Content.objects.filter(id=content_id).exists()
    with workspace_scope(foreign["content"].workspace_id):
        other = ContentCategory.objects.create(name="外")
    refused = marketer_client.post(
        reverse("content:categories"), {"action": "delete", "category_id": str(other.id)}
    )
    assert refused.status_code == 404
    assert ContentCategory.all_workspaces.filter(id=other.id).exists()


# Performance ---------------------------------------------------------------------------------------


def test_the_performance_page_sorts_by_column_and_exports_csv(rep_client, rep):
    guide, serum = article(title="指南"), product(title="=精华")
    viewer(guide, sharer=rep, views=2, dwell_ms=30_000, depth=100)
    viewer(serum, sharer=rep, views=5, dwell_ms=5_000, depth=10)
    viewer(serum, sharer=None, views=1, dwell_ms=1_000, depth=95)
    page = rep_client.get(reverse("content:performance"))
    html = page.content.decode()
    assert page.status_code == 200
    table = html[html.index('id="performance-table"') :]
    assert table.index("=精华") < table.index("指南")  # most views first
    by_dwell = rep_client.get(reverse("content:performance"), {"sort": "-dwell"}).content.decode()
    table = by_dwell[by_dwell.index('id="performance-table"') :]
    assert table.index("指南") < table.index("=精华")
    assert "?sort=dwell" in by_dwell  # the active column's link flips the order
    assert 'data-chart="content"' in html
    exported = rep_client.get(reverse("content:performance"), {"format": "csv", "sort": "title"})
    assert exported.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0] == [
        "Title",
        "Type",
        "Views",
        "Unique viewers",
        "Average active dwell (seconds)",
        "Completion rate (%)",
        "Published",
    ]
    assert sorted(rows[1:]) == [
        ["'=精华", "Product page", "6", "2", "3.0", "50.0", "Yes"],
        ["指南", "Article", "2", "1", "30.0", "100.0", "Yes"],
    ]


# Public share pages --------------------------------------------------------------------------------


def share_link(member: Member, content: Content, *, channel: Channel | None = None) -> ShareLink:
    return ShareLink.objects.create(content=content, member=member, channel=channel, token="Tok3nAbCd1")


def test_the_share_page_works_logged_out_and_loads_the_sdk_with_content_and_token(anonymous, rep):
    content = article(title="秋冬护肤指南", summary="换季三步", body="<p>第一步</p>")
    link = share_link(rep, content)
    response = anonymous.get(reverse("share:open", args=[link.token]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "<p>第一步</p>" in html
    assert "Shared by 销售小王" in html
    source = Source.objects.get(name="Share links")
    loader = re.search(r"s\.load\((.*?),(\{.*?\})\)\}\(\);", html)
    assert loader is not None
    assert json.loads(loader.group(1)) == source.write_key
    assert json.loads(loader.group(2)) == {
        "host": "http://testserver",
        "pageProperties": {"content_id": str(content.id), "share_token": link.token},
    }
    assert '"http://testserver/sdk/siyu.js"' in html
    assert '<meta property="og:title" content="秋冬护肤指南">' in html
    assert '<meta property="og:description" content="换季三步">' in html
    assert f'<meta property="og:url" content="http://testserver/s/{link.token}/">' in html
    assert anonymous.get(reverse("share:open", args=[link.token])).status_code == 200
    assert Source.objects.filter(name="Share links").count() == 1


def test_the_sdk_script_url_on_the_share_page_is_served(anonymous, rep):
    link = share_link(rep, article())
    html = anonymous.get(reverse("share:open", args=[link.token])).content.decode()
    script = re.search(r't\.src="http://testserver(/[^"]+)"', html)
    assert script is not None
    served = anonymous.get(script.group(1))
    assert served.status_code == 200
    body = b"".join(served.streaming_content) if served.streaming else served.content
    assert b"window.siyu" in body


def test_a_channel_link_passes_its_channel_code(anonymous, rep):
    channel = ChannelFactory(name="朋友圈", code="moments")
    link = share_link(rep, article(), channel=channel)
    html = anonymous.get(reverse("share:open", args=[link.token])).content.decode()
    assert '"channel": "moments"' in html


def test_unknown_unpublished_and_deleted_links_are_404(anonymous, rep):
    assert anonymous.get(reverse("share:open", args=["NoSuchTok1"])).status_code == 404
    draft_link = share_link(rep, article(is_published=False))
    response = anonymous.get(reverse("share:open", args=[draft_link.token]))
    assert response.status_code == 404
    assert "This link is no longer available" in response.content.decode()
    assert anonymous.get("/s/..%2F..%2Fetc/").status_code == 404


def test_another_workspaces_link_opens_in_its_own_workspace(marketer_client, foreign):
    html = marketer_client.get(reverse("share:open", args=["Foreign123"])).content.decode()
    assert "外部文章" in html
    assert "Shared by 外部销售" in html
    foreign_source = Source.all_workspaces.get(name="Share links")
    assert foreign_source.workspace_id == foreign["content"].workspace_id


def test_a_product_page_shows_price_and_cover(anonymous, rep, marketer_client):
    response = marketer_client.post(
        reverse("content:add") + "?kind=product",
        {
            "title": "玻尿酸精华",
            "price": "199",
            "body": "<p>补水</p>",
            "cover": image_upload(name="c.png"),
            "is_published": "on",
        },
    )
    assert response.status_code == 302
    link = share_link(rep, Content.objects.get())
    html = anonymous.get(reverse("share:open", args=[link.token])).content.decode()
    assert "¥199.00" in html
    cover_url = reverse("share:cover", args=[link.token])
    assert f'src="{cover_url}"' in html
    assert f'<meta property="og:image" content="http://testserver{cover_url}">' in html
    cover = anonymous.get(cover_url)
    assert cover.status_code == 200
    with Image.open(io.BytesIO(b"".join(cover.streaming_content))) as image:
        assert image.size == (600, 400)


def test_a_poster_link_shows_the_poster_with_the_sharers_qr(anonymous, rep, marketer_client):
    content = poster(marketer_client)
    link = share_link(rep, content)
    html = anonymous.get(reverse("share:open", args=[link.token])).content.decode()
    poster_url = reverse("share:poster", args=[link.token])
    assert f'class="share-poster" src="{poster_url}"' in html
    image_response = anonymous.get(poster_url)
    with Image.open(io.BytesIO(b"".join(image_response.streaming_content))) as image:
        assert image.size == (720, 1280)
    assert anonymous.get(reverse("share:file", args=[link.token])).status_code == 404


def test_a_file_link_offers_a_tracked_download(anonymous, rep, marketer_client):
    marketer_client.post(
        reverse("content:add") + "?kind=file",
        {"title": "报价单", "file": file_upload(), "is_published": "on"},
    )
    link = share_link(rep, Content.objects.get())
    html = anonymous.get(reverse("share:open", args=[link.token])).content.decode()
    download_url = reverse("share:file", args=[link.token])
    assert f'href="{download_url}" data-track="File Downloaded"' in html
    properties = json_script(html, "share-properties")
    assert properties["content_id"] == str(link.content_id)
    assert properties["share_token"] == link.token
    assert properties["file_name"].endswith(".pdf")
    download = anonymous.get(download_url)
    assert b"".join(download.streaming_content) == b"%PDF-1.4 price list"
    assert "attachment" in download.headers["Content-Disposition"]


def test_an_external_link_records_the_view_then_redirects(anonymous, rep):
    content = Content.objects.create(
        kind=ContentKind.LINK, title="品牌官网", url="https://brand.example.com/?a=1&b=2"
    )
    link = share_link(rep, content)
    html = anonymous.get(reverse("share:open", args=[link.token])).content.decode()
    assert 'href="https://brand.example.com/?a=1&amp;b=2"' in html
    assert "data-redirect-after=" in html
    assert "s.load(" in html
    assert "Continue to the page" in html


@pytest.mark.django_db
def test_share_assets_of_unknown_tokens_are_404(anonymous):
    for name in ("cover", "poster", "file"):
        assert anonymous.get(reverse(f"share:{name}", args=["NoSuchTok1"])).status_code == 404


def test_the_poster_image_bytes_come_from_a_real_image(marketer_client):
    response = marketer_client.post(
        reverse("content:add") + "?kind=poster",
        {"title": "伪装海报", "file": io.BytesIO(image_bytes()[:100])},
    )
    assert response.status_code == 422


def test_list_and_performance_pages_cost_the_same_queries_for_more_content(marketer_client, rep):
    category = ContentCategory.objects.create(name="护肤")

    def costs() -> tuple[int, int]:
        counts = []
        for name in ("content:list", "content:performance"):
            with CaptureQueriesContext(connection) as queries:
                assert marketer_client.get(reverse(name)).status_code == 200
            counts.append(len(queries))
        return counts[0], counts[1]

    for n in range(2):
        viewer(article(title=f"文章{n}", category=category, tags=["护肤"]), sharer=rep, views=2)
    costs()  # the first request of a session does some one-off work
    few = costs()
    for n in range(2, 12):
        viewer(article(title=f"文章{n}", category=category, tags=["护肤"]), sharer=rep, views=2)
    assert costs() == few


def test_a_body_written_around_the_services_is_still_sanitised_when_shown(anonymous, rep, rep_client):
    content = article(body='<p>正文</p><script>alert("x")</script><img src=x onerror="alert(1)">')
    link = share_link(rep, content)
    for html in (
        anonymous.get(reverse("share:open", args=[link.token])).content.decode(),
        rep_client.get(reverse("content:detail", args=[content.id])).content.decode(),
    ):
        assert '<p>正文</p><img src="x">' in html
        assert 'alert("x")' not in html
        assert "onerror" not in html
