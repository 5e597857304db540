"""Content library services and selectors: sanitising, uploads, categories, share links, QR codes,
posters, share lookup across workspaces and performance figures."""

import importlib
import io
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

import pytest
import segno
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.utils import translation
from PIL import Image, ImageChops, ImageDraw

from siyu.core.errors import Conflict, NoActiveWorkspace, NotFound, PermissionDenied, ValidationError
from siyu.core.tenancy import active_workspace_id, workspace_scope
from siyu.core.time import now
from siyu.tenancy.actor import Actor
from siyu.tenancy.models import Workspace
from siyu.tenancy.roles import Role
from siyu.tenancy.selectors import actor_for_member
from siyu.tracking.models import Content, ContentCategory, ContentKind, ShareLink, Source, SourceKind
from siyu.tracking.selectors.content import (
    ContentFilters,
    Performance,
    content_get,
    content_list,
    content_performance,
    content_performance_by_sharer,
    content_performance_one,
    content_performance_totals,
    share_link_for_token,
)
from siyu.tracking.services import content as services
from siyu.tracking.services.content import (
    FILE_MAX_BYTES,
    body_sanitise,
    content_category_create,
    content_category_delete,
    content_category_update,
    content_create,
    content_delete,
    content_update,
    poster_compose,
    poster_font,
    share_link_get_or_create,
    share_link_qr_png,
    share_source_get_or_create,
    share_url,
)
from tests.factories import ChannelFactory, MemberFactory
from tests.tracking.content_rows import article, file_upload, image_bytes, image_upload, product, viewer

BASE = "https://crm.example.com"


@pytest.fixture(autouse=True)
def media(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return Path(settings.MEDIA_ROOT)


@pytest.fixture
def foreign_link(workspace: Workspace, other_workspace: Workspace) -> ShareLink:
    """Another workspace's published article and a member's link to it."""
    with workspace_scope(other_workspace.id):
        member = MemberFactory(role=Role.SALES, display_name="外部销售")
        content = article(title="外部文章")
        return ShareLink.objects.create(content=content, member=member, token="Foreign123")


# Sanitising ----------------------------------------------------------------------------------------


def test_article_body_keeps_formatting_and_drops_scripts_handlers_and_bad_urls():
    dirty = (
        '<h2 onclick="steal()">标题</h2><p style="color:red">正文 <b>粗</b> <em>斜</em></p>'
        "<script>alert(1)</script><style>p{}</style>"
        '<a href="https://shop.example.com/x" target="_blank">去看看</a>'
        '<a href="javascript:alert(1)">坏链接</a>'
        '<img src="https://img.example.com/a.png" alt="图" onerror="x()">'
        "<ul><li>一</li></ul><ol><li>二</li></ol><blockquote>引用</blockquote><br><hr>"
        "<table><thead><tr><th>规格</th></tr></thead><tbody><tr><td>30ml</td></tr></tbody></table>"
        "<iframe src='https://evil.example.com'></iframe><form><input></form>"
    )
    assert body_sanitise(dirty) == (
        "<h2>标题</h2><p>正文 <b>粗</b> <em>斜</em></p>"
        '<a href="https://shop.example.com/x" rel="noopener">去看看</a>'
        '<a rel="noopener">坏链接</a>'
        '<img src="https://img.example.com/a.png" alt="图">'
        "<ul><li>一</li></ul><ol><li>二</li></ol><blockquote>引用</blockquote><br><hr>"
        "<table><thead><tr><th>规格</th></tr></thead><tbody><tr><td>30ml</td></tr></tbody></table>"
    )


def test_content_create_stores_a_sanitised_article_with_clean_tags(marketer_actor, marketer):
    category = content_category_create(actor=marketer_actor, name="护肤指南")
    content = content_create(
        actor=marketer_actor,
        kind=ContentKind.ARTICLE,
        title="  秋冬护肤指南 ",
        summary="换季\n护肤",
        body="<p>清洁</p><script>x()</script>",
        category=category,
        tags="护肤， 秋冬,护肤, ",
    )
    content.refresh_from_db()
    assert (content.title, content.summary, content.body) == ("秋冬护肤指南", "换季 护肤", "<p>清洁</p>")
    assert content.tags == ["护肤", "秋冬"]
    assert content.category_id == category.id
    assert content.created_by_id == marketer.id
    assert (content.url, content.price, content.file.name) == ("", None, "")


def test_an_article_needs_a_body_a_product_a_price_a_link_an_http_address(marketer_actor):
    with pytest.raises(ValidationError) as empty:
        content_create(actor=marketer_actor, kind=ContentKind.ARTICLE, title="空", body="<script>x</script>")
    assert "body" in empty.value.fields
    with pytest.raises(ValidationError) as no_price:
        content_create(actor=marketer_actor, kind=ContentKind.PRODUCT, title="精华", body="<p>好</p>")
    assert "price" in no_price.value.fields
    for bad in ("javascript:alert(1)", "ftp://files.example.com/a", "www.example.com", "https://"):
        with pytest.raises(ValidationError) as refused:
            content_create(actor=marketer_actor, kind=ContentKind.LINK, title="链接", url=bad)
        assert "url" in refused.value.fields
    with pytest.raises(ValidationError):
        content_create(actor=marketer_actor, kind="video", title="视频")
    assert Content.objects.count() == 0
    priced = content_create(actor=marketer_actor, kind=ContentKind.PRODUCT, title="精华", price="199.5")
    assert priced.price == Decimal("199.50")
    link = content_create(
        actor=marketer_actor, kind=ContentKind.LINK, title="官网", url="https://shop.example.com/a?b=1"
    )
    assert link.url == "https://shop.example.com/a?b=1"


def test_writes_need_content_manage_and_a_sales_rep_has_it_not(rep_actor):
    with pytest.raises(PermissionDenied):
        content_create(actor=rep_actor, kind=ContentKind.ARTICLE, title="文章", body="<p>x</p>")
    with pytest.raises(PermissionDenied):
        content_category_create(actor=rep_actor, name="分类")
    content = article()
    with pytest.raises(PermissionDenied):
        content_update(actor=rep_actor, content=content, title="改", body="<p>x</p>")
    with pytest.raises(PermissionDenied):
        content_delete(actor=rep_actor, content=content)


# Uploads -------------------------------------------------------------------------------------------


def test_a_poster_is_stored_under_media_root_after_pillow_read_it(marketer_actor, media):
    poster = content_create(
        actor=marketer_actor, kind=ContentKind.POSTER, title="双十一海报", file=image_upload(800, 1200)
    )
    stored = media / poster.file.name
    assert stored.is_file()
    with Image.open(stored) as image:
        assert image.size == (800, 1200)


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (SimpleUploadedFile("poster.png", b"<html>not an image</html>"), "not an image"),
        (SimpleUploadedFile("poster.png", image_bytes()[:60]), "not an image"),  # truncated
        (image_upload(8000, 5001), "megapixels"),  # 40.008 MP
        (SimpleUploadedFile("poster.bmp", image_bytes(image_format="BMP")), "not an image"),
    ],
)
def test_a_poster_must_be_a_real_image_of_at_most_40_megapixels(
    marketer_actor, media, upload, message, english
):
    with pytest.raises(ValidationError) as refused:
        content_create(actor=marketer_actor, kind=ContentKind.POSTER, title="海报", file=upload)
    assert message in refused.value.message
    assert refused.value.fields == {"file": refused.value.fields["file"]}
    assert Content.objects.count() == 0
    assert not (media / "content").exists() or not any((media / "content").rglob("*.*"))


def test_images_over_10_mb_and_files_over_50_mb_are_refused(marketer_actor):
    big_image = UploadedFile(io.BytesIO(image_bytes()), name="big.png", size=10 * 1024 * 1024 + 1)
    with pytest.raises(ValidationError) as image:
        content_create(actor=marketer_actor, kind=ContentKind.POSTER, title="大海报", file=big_image)
    assert "10 MB" in image.value.message
    big_cover = UploadedFile(io.BytesIO(image_bytes()), name="big.png", size=10 * 1024 * 1024 + 1)
    with pytest.raises(ValidationError) as cover:
        content_create(
            actor=marketer_actor,
            kind=ContentKind.LINK,
            title="链接",
            url="https://a.example.com",
            cover=big_cover,
        )
    assert "cover" in cover.value.fields
    big_file = UploadedFile(io.BytesIO(b"x"), name="big.zip", size=FILE_MAX_BYTES + 1)
    with pytest.raises(ValidationError) as file:
        content_create(actor=marketer_actor, kind=ContentKind.FILE, title="大文件", file=big_file)
    assert "50 MB" in file.value.message
    exact = UploadedFile(io.BytesIO(b"x" * 10), name="ok.zip", size=10)
    assert content_create(actor=marketer_actor, kind=ContentKind.FILE, title="小文件", file=exact).file.name


def test_a_file_of_any_type_is_kept_and_only_posters_and_files_take_one(marketer_actor, media):
    shared = content_create(actor=marketer_actor, kind=ContentKind.FILE, title="报价单", file=file_upload())
    assert (media / shared.file.name).read_bytes() == b"%PDF-1.4 price list"
    with pytest.raises(ValidationError):
        content_create(actor=marketer_actor, kind=ContentKind.FILE, title="没有文件")
    with pytest.raises(ValidationError) as article_file:
        content_create(
            actor=marketer_actor, kind=ContentKind.ARTICLE, title="文", body="<p>x</p>", file=file_upload()
        )
    assert "file" in article_file.value.fields


def test_replacing_and_removing_files_deletes_the_old_ones_after_commit(
    marketer_actor, media, django_capture_on_commit_callbacks
):
    poster = content_create(
        actor=marketer_actor,
        kind=ContentKind.POSTER,
        title="海报",
        file=image_upload(),
        cover=image_upload(name="c.png"),
    )
    old_file, old_cover = media / poster.file.name, media / poster.cover.name
    with django_capture_on_commit_callbacks(execute=True):
        content_update(
            actor=marketer_actor,
            content=poster,
            title="新海报",
            file=image_upload(300, 300),
            cover_remove=True,
        )
    poster.refresh_from_db()
    assert not old_file.exists()
    assert not old_cover.exists()
    assert poster.cover.name == ""
    assert (media / poster.file.name).is_file()
    with django_capture_on_commit_callbacks(execute=True):
        content_delete(actor=marketer_actor, content=poster)
    assert not (media / poster.file.name).exists()
    assert Content.objects.count() == 0


def test_update_keeps_the_kind_and_validates_like_create(marketer_actor):
    link = content_create(
        actor=marketer_actor, kind=ContentKind.LINK, title="官网", url="https://a.example.com"
    )
    with pytest.raises(ValidationError):
        content_update(actor=marketer_actor, content=link, title="官网", url="javascript:x()")
    updated = content_update(
        actor=marketer_actor,
        content=link,
        title="新官网",
        url="http://b.example.com",
        tags=["品牌"],
        is_published=False,
    )
    updated.refresh_from_db()
    assert (updated.kind, updated.title, updated.url, updated.tags, updated.is_published) == (
        ContentKind.LINK,
        "新官网",
        "http://b.example.com",
        ["品牌"],
        False,
    )


# Categories ----------------------------------------------------------------------------------------


def test_categories_are_unique_by_name_and_deleting_one_keeps_its_content(marketer_actor):
    skincare = content_category_create(actor=marketer_actor, name="护肤")
    promos = content_category_create(actor=marketer_actor, name="促销")
    assert (skincare.sort_order, promos.sort_order) == (0, 1)
    with pytest.raises(Conflict):
        content_category_create(actor=marketer_actor, name="护肤")
    with pytest.raises(Conflict):
        content_category_update(actor=marketer_actor, category=promos, name="护肤")
    with pytest.raises(ValidationError):
        content_category_create(actor=marketer_actor, name=" ")
    content_category_update(actor=marketer_actor, category=promos, name="活动", sort_order=5)
    promos.refresh_from_db()
    assert (promos.name, promos.sort_order) == ("活动", 5)
    content = article(category=skincare)
    content_category_delete(actor=marketer_actor, category=skincare)
    content.refresh_from_db()
    assert content.category_id is None
    assert list(ContentCategory.objects.values_list("name", flat=True)) == ["活动"]


def test_another_workspaces_category_is_refused(marketer_actor, other_workspace):
    with workspace_scope(other_workspace.id):
        foreign = ContentCategory.objects.create(name="外部")
    with pytest.raises(ValidationError):
        content_create(
            actor=marketer_actor, kind=ContentKind.ARTICLE, title="文", body="<p>x</p>", category=foreign
        )


# Library reads -------------------------------------------------------------------------------------


def test_content_list_filters_by_kind_category_tag_and_search(foreign_link):
    skincare = ContentCategory.objects.create(name="护肤")
    guide = article(title="秋冬护肤指南", category=skincare, tags=["护肤", "秋冬"])
    serum = product(title="玻尿酸精华", summary="补水神器", tags=["护肤"])
    draft = article(title="草稿", is_published=False, tags=["秋冬"])

    def titles(**filters: object) -> list[str]:
        return sorted(c.title for c in content_list(filters=ContentFilters(**filters)))  # type: ignore[arg-type]

    assert titles() == sorted([guide.title, serum.title, draft.title])
    assert titles(published_only=True) == sorted([guide.title, serum.title])
    assert titles(kind=ContentKind.PRODUCT) == [serum.title]
    assert titles(category=str(skincare.id)) == [guide.title]
    assert titles(category="none") == sorted([serum.title, draft.title])
    assert titles(category=str(uuid4())) == []
    assert titles(tag="护肤") == sorted([guide.title, serum.title])
    assert titles(tag="秋冬", published_only=True) == [guide.title]
    assert titles(tag="护") == []  # whole tags only
    assert titles(search="补水") == [serum.title]
    assert titles(search="指南") == [guide.title]


def test_content_get_answers_not_found_for_another_workspaces_id_and_for_drafts_when_asked(foreign_link):
    draft = article(is_published=False)
    assert content_get(content_id=draft.id) == draft
    with pytest.raises(NotFound):
        content_get(content_id=draft.id, published_only=True)
    with pytest.raises(NotFound):
        content_get(content_id=foreign_link.content_id)
    with pytest.raises(NotFound):
        content_get(content_id="not-a-uuid")


# Share links ---------------------------------------------------------------------------------------


def test_a_member_has_one_link_per_content_and_channel_with_a_unique_10_character_token(
    rep_actor, make_member
):
    content = article()
    first = share_link_get_or_create(actor=rep_actor, content=content)
    again = share_link_get_or_create(actor=rep_actor, content=content)
    assert first.id == again.id
    assert len(first.token) == 10
    assert first.token.isascii()
    assert first.token.isalnum()
    colleague = actor_for_member(member=make_member(Role.SALES))
    theirs = share_link_get_or_create(actor=colleague, content=content)
    channel = ChannelFactory(name="朋友圈", code="moments")
    by_channel = share_link_get_or_create(actor=rep_actor, content=content, channel=channel)
    assert share_link_get_or_create(actor=rep_actor, content=content, channel=channel).id == by_channel.id
    other_content = share_link_get_or_create(actor=rep_actor, content=article(title="第二篇"))
    tokens = {first.token, theirs.token, by_channel.token, other_content.token}
    assert len(tokens) == 4
    assert ShareLink.objects.count() == 4


def test_a_token_collision_is_retried(rep_actor, monkeypatch):
    content = article()
    taken = share_link_get_or_create(actor=rep_actor, content=article(title="旧文"))
    tokens = iter([taken.token, "Fresh12345"])
    monkeypatch.setattr(services, "_token_new", lambda: next(tokens))
    assert share_link_get_or_create(actor=rep_actor, content=content).token == "Fresh12345"


def test_drafts_cannot_be_shared_and_sharing_needs_a_member_with_the_permission(rep_actor, make_member):
    with pytest.raises(ValidationError):
        share_link_get_or_create(actor=rep_actor, content=article(is_published=False))
    service_member = make_member(Role.SERVICE)
    assert share_link_get_or_create(actor=actor_for_member(member=service_member), content=article())
    no_share = actor_for_member(member=make_member(Role.SALES))
    no_share.permissions = frozenset(p for p in no_share.permissions if p.value != "content.share")
    with pytest.raises(PermissionDenied):
        share_link_get_or_create(actor=no_share, content=article(title="再一篇"))


def test_share_link_for_token_crosses_workspaces_but_only_to_published_content(foreign_link, other_workspace):
    found = share_link_for_token(token="Foreign123")
    assert found is not None
    assert (found.id, found.workspace_id, found.content.title, found.member.display_name) == (
        foreign_link.id,
        other_workspace.id,
        "外部文章",
        "外部销售",
    )
    with workspace_scope(other_workspace.id):
        Content.objects.filter(id=foreign_link.content_id).update(is_published=False)
    assert share_link_for_token(token="Foreign123") is None
    assert share_link_for_token(token="nope") is None
    assert share_link_for_token(token="../../etc") is None


def test_the_share_source_is_made_once_per_workspace(workspace, other_workspace):
    source = share_source_get_or_create()
    assert share_source_get_or_create().id == source.id
    assert (source.name, source.kind, source.allowed_origins, source.workspace_id) == (
        "Share links",
        SourceKind.WECHAT_H5,
        ["*"],
        workspace.id,
    )
    with workspace_scope(other_workspace.id):
        theirs = share_source_get_or_create()
    assert theirs.id != source.id
    assert theirs.write_key != source.write_key
    assert Source.all_workspaces.filter(name="Share links").count() == 2


# QR codes and posters ------------------------------------------------------------------------------


def test_the_qr_png_encodes_the_share_url_module_by_module(rep_actor):
    link = share_link_get_or_create(actor=rep_actor, content=article())
    url = share_url(share_link=link, base_url=BASE + "/")
    assert url == f"{BASE}/s/{link.token}/"
    png = share_link_qr_png(share_link=link, base_url=BASE, scale=5, border=2)
    expected = segno.make(url, error="m")
    modules = len(expected.matrix)
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        assert image.size == ((modules + 4) * 5, (modules + 4) * 5)
        pixels = image.convert("L").tobytes()
        width = image.size[0]
        dark = [
            [pixels[((row + 2) * 5 + 2) * width + (col + 2) * 5 + 2] < 128 for col in range(modules)]
            for row in range(modules)
        ]
    assert dark == [[bool(cell) for cell in row] for row in expected.matrix]


def _poster_link(actor: Actor, marketer_actor: Actor, *, size: tuple[int, int] = (900, 1600)) -> ShareLink:
    poster = content_create(
        actor=marketer_actor,
        kind=ContentKind.POSTER,
        title="双十一海报",
        file=image_upload(*size, color="#1e3a8a"),
    )
    return share_link_get_or_create(actor=actor, content=poster)


def test_the_poster_gets_the_sharers_qr_on_a_white_card_bottom_right_and_keeps_its_size(
    rep_actor, marketer_actor, media
):
    link = _poster_link(rep_actor, marketer_actor)
    path = poster_compose(share_link=link, base_url=BASE)
    assert path.parent == media / "posters"
    assert path.name.startswith(f"{link.token}-")
    assert path.suffix == ".png"
    with Image.open(path) as composed:
        assert composed.size == (900, 1600)
        rgb = composed.convert("RGB")
        assert rgb.getpixel((10, 10)) == (30, 58, 138)  # the poster, untouched
        assert rgb.getpixel((450, 800)) == (30, 58, 138)
        corner = rgb.crop((900 - 260, 1600 - 300, 900 - 30, 1600 - 30))
        colours = {colour for _count, colour in corner.getcolors(maxcolors=1 << 16) or []}
        assert (255, 255, 255) in colours  # the card
        assert (0, 0, 0) in colours  # the QR code's modules


def test_a_composed_poster_is_built_once_and_rebuilt_when_the_name_changes(rep_actor, rep, marketer_actor):
    link = _poster_link(rep_actor, marketer_actor, size=(500, 500))
    first = poster_compose(share_link=link, base_url=BASE)
    built = first.stat().st_mtime_ns
    assert poster_compose(share_link=link, base_url=BASE) == first
    assert first.stat().st_mtime_ns == built
    rep.display_name = "王小销"
    rep.save()
    link.refresh_from_db()
    renamed = poster_compose(share_link=link, base_url=BASE)
    assert renamed != first
    assert renamed.is_file()
    assert not first.exists()  # the stale one is removed
    assert poster_compose(share_link=link, base_url="https://other.example.com") != renamed


def test_small_posters_and_long_names_still_compose(make_member, marketer_actor):
    member = make_member(Role.SALES, display_name="一个名字非常非常非常非常非常长的销售代表" * 2)
    link = _poster_link(actor_for_member(member=member), marketer_actor, size=(120, 90))
    with Image.open(poster_compose(share_link=link, base_url=BASE)) as composed:
        assert composed.size == (120, 90)


def test_a_missing_font_never_stops_a_poster(monkeypatch, settings):
    monkeypatch.setattr(services, "FONT_CANDIDATES", (("/nonexistent/font.ttc", 0),))
    settings.SIYU_POSTER_FONT = "/also/missing.ttf"
    font = poster_font(24)
    image = Image.new("RGB", (100, 40), "white")
    ImageDraw.Draw(image).text((0, 0), "Wang", font=font, fill="black")
    assert image.getbbox() is not None
    assert ImageChops.difference(image, Image.new("RGB", (100, 40), "white")).getbbox() is not None


def test_only_posters_compose(rep_actor):
    link = share_link_get_or_create(actor=rep_actor, content=article())
    with pytest.raises(ValidationError):
        poster_compose(share_link=link, base_url=BASE)


# Performance ---------------------------------------------------------------------------------------


def test_performance_by_content_and_by_sharer_from_reading_records(
    rep, make_member, foreign_link, other_workspace
):
    colleague = make_member(Role.SALES, display_name="销售小张")
    guide, serum = article(title="指南"), product(title="精华")
    article(title="没人看")
    viewer(guide, sharer=rep, views=3, dwell_ms=60_000, depth=100)
    viewer(guide, sharer=rep, views=1, dwell_ms=20_000, depth=40)
    viewer(guide, sharer=colleague, views=2, dwell_ms=10_000, depth=95)
    viewer(guide, sharer=None, views=1, dwell_ms=2_000, depth=10)
    viewer(serum, sharer=colleague, views=5, dwell_ms=30_000, depth=90, days_ago=40)
    with workspace_scope(other_workspace.id):
        viewer(Content.objects.get(id=foreign_link.content_id), views=99, dwell_ms=1, depth=100)

    rows = {row.content.title: row for row in content_performance()}
    assert set(rows) == {"指南", "精华", "没人看"}
    assert (rows["指南"].views, rows["指南"].viewers, rows["指南"].avg_dwell_ms, rows["指南"].completed) == (
        7,
        4,
        23_000.0,
        2,
    )
    assert rows["指南"].completion_rate == 0.5
    assert (rows["精华"].views, rows["精华"].viewers, rows["精华"].completed) == (5, 1, 1)
    assert (rows["没人看"].views, rows["没人看"].viewers, rows["没人看"].avg_dwell_ms) == (0, 0, 0.0)
    assert rows["没人看"].completion_rate == 0.0
    assert [r.content.title for r in content_performance(sort="-views")] == ["指南", "精华", "没人看"]
    assert [r.content.title for r in content_performance(sort="completion")][-1] == "精华"
    assert [r.content.title for r in content_performance(sort="-dwell")] == ["精华", "指南", "没人看"]
    assert [r.content.title for r in content_performance(content_ids=[serum.id])] == ["精华"]
    last_month = {
        row.content.title: row.views for row in content_performance(since=now() - timedelta(days=30))
    }
    assert last_month == {"指南": 7, "精华": 0, "没人看": 0}

    one = content_performance_one(content=guide)
    assert (one.views, one.viewers, one.avg_dwell_seconds, one.completion_percent) == (7, 4, 23.0, 50.0)
    totals = content_performance_totals()
    assert (totals.views, totals.viewers, totals.completed) == (12, 5, 3)

    by_sharer = [
        (r.sharer_name, r.views, r.viewers, r.completed) for r in content_performance_by_sharer(content=guide)
    ]
    assert by_sharer == [("销售小王", 4, 2, 1), ("销售小张", 2, 1, 1), ("", 1, 1, 0)]
    overall = [(r.sharer_id, r.views) for r in content_performance_by_sharer()]
    assert overall == [(colleague.id, 7), (rep.id, 4), (None, 1)]
    dwell = {r.sharer_name: r.avg_dwell_ms for r in content_performance_by_sharer(content=guide)}
    assert dwell == {"销售小王": 40_000.0, "销售小张": 10_000.0, "": 2_000.0}


def test_performance_queries_do_not_grow_with_rows(django_assert_num_queries, rep):
    for n in range(5):
        content = article(title=f"文章{n}")
        for _ in range(3):
            viewer(content, sharer=rep, views=2, dwell_ms=1000, depth=95)
    with django_assert_num_queries(1):
        rows = content_performance()
    assert [r.views for r in rows] == [6] * 5
    with django_assert_num_queries(1):
        assert content_performance_by_sharer()[0].views == 30


def test_average_dwell_reads_like_a_person():
    with translation.override("en"):
        texts = [
            Performance(views=1, viewers=1, avg_dwell_ms=ms, completed=0).avg_dwell_text
            for ms in (0, 45_400, 120_000, 207_800, 3_900_000)
        ]
    assert texts == ["0 s", "45 s", "2 min", "3 min 27 s", "1 h 5 min"]


def test_the_content_forms_load_with_no_workspace_active():
    """The URL map imports the forms at start-up, before any request has made a workspace active."""
    from siyu.tracking import forms_content

    with pytest.raises(NoActiveWorkspace):
        active_workspace_id()
    importlib.reload(forms_content)
