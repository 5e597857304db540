"""Contact settings pages: tag groups and tags, custom fields, channels."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from siyu.contacts.models import (
    Channel,
    ChannelKind,
    ContactTag,
    CostUnit,
    CustomField,
    FieldType,
    Tag,
    TagGroup,
)
from siyu.core.tenancy import workspace_scope
from siyu.tenancy.roles import Role
from tests.conftest import client_for
from tests.factories import ChannelFactory, ContactFactory, CustomFieldFactory, TagFactory, TagGroupFactory

HTMX = {"HTTP_HX_REQUEST": "true"}
PAGES = ["contact_settings:tags", "contact_settings:fields", "contact_settings:channels"]


@pytest.fixture
def admin_client(admin):
    return client_for(admin)


@pytest.fixture
def foreign(other_workspace):
    with workspace_scope(other_workspace.id):
        group = TagGroupFactory(name="外部标签组")
        tag = TagFactory(group=group, name="外部标签")
        field = CustomFieldFactory(key="foreign_key", label="外部字段")
        channel = ChannelFactory(name="外部渠道", code="foreign")
    return {"group": group, "tag": tag, "field": field, "channel": channel}


@pytest.mark.parametrize("url_name", PAGES)
def test_pages_render_for_admins_and_are_403_for_sales_reps(admin_client, rep, url_name):
    page = admin_client.get(reverse(url_name))
    assert page.status_code == 200
    assert b'class="page"' in page.content
    refused = client_for(rep).get(reverse(url_name))
    assert refused.status_code == 403
    assert b"Your role does not allow this page." in refused.content


def test_marketing_manages_tags_fields_and_channels_and_a_manager_only_tags(make_member):
    marketing = client_for(make_member(Role.MARKETING))
    assert [marketing.get(reverse(name)).status_code for name in PAGES] == [200, 200, 200]
    manager = client_for(make_member(Role.MANAGER))
    assert [manager.get(reverse(name)).status_code for name in PAGES] == [200, 403, 403]


# Tags ----------------------------------------------------------------------------------------------


def test_tags_page_shows_groups_choice_mode_colours_and_contact_counts(admin_client):
    skin = TagGroupFactory(name="肤质", is_exclusive=True)
    oily = TagFactory(group=skin, name="油皮", color="orange")
    TagFactory(group=skin, name="干皮", color="teal")
    for contact in ContactFactory.create_batch(3):
        ContactTag.objects.create(contact=contact, tag=oily)
    html = admin_client.get(reverse("contact_settings:tags")).content.decode()
    assert "Single choice" in html
    assert '<span class="badge bg-orange-lt">油皮</span>' in html
    assert '<span class="badge bg-teal-lt">干皮</span>' in html
    counts = re.findall(
        r'<span class="badge [^"]+">([^<]+)</span></div>\s*<div class="col-auto small text-secondary">(\d+) contacts?',
        html,
    )
    assert sorted(counts) == [("干皮", "0"), ("油皮", "3")]


def test_tag_counts_cost_a_fixed_number_of_queries(admin_client, django_assert_max_num_queries):
    for n in range(4):
        group = TagGroupFactory(name=f"组{n}")
        for m in range(5):
            TagFactory(group=group, name=f"标签{n}{m}")
    with django_assert_max_num_queries(12):
        assert admin_client.get(reverse("contact_settings:tags")).status_code == 200


def test_create_rename_and_delete_a_tag_group(admin_client):
    response = admin_client.post(
        reverse("contact_settings:tag_group_add"), {"name": "购买意向", "is_exclusive": "on"}
    )
    assert response.status_code == 302
    group = TagGroup.objects.get(name="购买意向")
    assert group.is_exclusive is True
    response = admin_client.post(
        reverse("contact_settings:tag_group_edit", args=[group.id]), {"name": "购买意愿"}, **HTMX
    )
    assert response.status_code == 200
    assert response.content.decode().startswith('<div id="tags-section"')
    group.refresh_from_db()
    assert (group.name, group.is_exclusive) == ("购买意愿", False)
    tag = TagFactory(group=group)
    ContactTag.objects.create(contact=ContactFactory(), tag=tag)
    response = admin_client.post(reverse("contact_settings:tag_group_delete", args=[group.id]), **HTMX)
    assert response.status_code == 200
    assert not TagGroup.objects.exists()
    assert not Tag.objects.exists()
    assert not ContactTag.objects.exists()


def test_a_duplicate_group_name_is_a_field_error_and_writes_nothing(admin_client):
    TagGroupFactory(name="肤质")
    response = admin_client.post(reverse("contact_settings:tag_group_add"), {"name": "肤质"})
    assert response.status_code == 422
    assert "A tag group named “肤质” already exists." in response.content.decode()
    assert TagGroup.objects.count() == 1
    blank = admin_client.post(reverse("contact_settings:tag_group_add"), {"name": "   "}, **HTMX)
    assert blank.status_code == 200
    assert "Give the group a name." in blank.content.decode()
    assert TagGroup.objects.count() == 1


def test_add_edit_and_delete_a_tag(admin_client):
    group = TagGroupFactory(name="来源")
    response = admin_client.post(
        reverse("contact_settings:tag_add", args=[group.id]), {"name": "直播间", "color": "pink"}, **HTMX
    )
    assert response.status_code == 200
    tag = Tag.objects.get()
    assert (tag.group_id, tag.name, tag.color) == (group.id, "直播间", "pink")
    form = admin_client.get(reverse("contact_settings:tag_edit", args=[tag.id]), **HTMX).content.decode()
    assert f'hx-post="{reverse("contact_settings:tag_edit", args=[tag.id])}"' in form
    response = admin_client.post(
        reverse("contact_settings:tag_edit", args=[tag.id]), {"name": "抖音直播间", "color": "purple"}
    )
    assert response.status_code == 302
    tag.refresh_from_db()
    assert (tag.name, tag.color) == ("抖音直播间", "purple")
    ContactTag.objects.create(contact=ContactFactory(), tag=tag)
    response = admin_client.post(reverse("contact_settings:tag_delete", args=[tag.id]))
    assert response.status_code == 302
    assert not Tag.objects.exists()
    assert not ContactTag.objects.exists()


def test_tag_errors_show_in_the_right_group_and_write_nothing(admin_client):
    first = TagGroupFactory(name="甲组")
    second = TagGroupFactory(name="乙组")
    TagFactory(group=second, name="重复")
    response = admin_client.post(
        reverse("contact_settings:tag_add", args=[second.id]), {"name": "重复", "color": "blue"}, **HTMX
    )
    html = response.content.decode()
    assert "“乙组” already has a tag named “重复”." in html
    second_card = html[html.index(f'id="group-{second.id}"') :]
    first_card = html[html.index(f'id="group-{first.id}"') : html.index(f'id="group-{second.id}"')]
    assert "already has a tag" in second_card
    assert "already has a tag" not in first_card
    bad_colour = admin_client.post(
        reverse("contact_settings:tag_add", args=[first.id]), {"name": "新标签", "color": "url(evil)"}
    )
    assert bad_colour.status_code == 422
    assert Tag.objects.count() == 1


def test_tag_management_is_refused_to_a_sales_rep(rep):
    group = TagGroupFactory(name="肤质")
    client = client_for(rep)
    assert client.post(reverse("contact_settings:tag_add", args=[group.id]), {"name": "x"}).status_code == 403
    assert client.post(reverse("contact_settings:tag_group_delete", args=[group.id])).status_code == 403
    assert TagGroup.objects.count() == 1
    assert not Tag.objects.exists()


# Custom fields -------------------------------------------------------------------------------------


def test_create_a_select_field_with_options(admin_client):
    response = admin_client.post(
        reverse("contact_settings:field_add"),
        {
            "label": "肤质",
            "key": "skin_type",
            "type": FieldType.SELECT,
            "options": "油皮\n干皮\n\n油皮\n混合",
            "is_required": "on",
        },
    )
    assert response.status_code == 302
    field = CustomField.objects.get()
    assert (field.key, field.label, field.type, field.options, field.is_required) == (
        "skin_type",
        "肤质",
        FieldType.SELECT,
        ["油皮", "干皮", "混合"],
        True,
    )


def test_field_errors_are_sentences_and_write_nothing(admin_client):
    CustomFieldFactory(key="budget", label="预算")
    cases = [
        ({"label": "", "type": FieldType.TEXT}, "Give the field a label."),
        (
            {"label": "尺码", "type": FieldType.SELECT, "options": ""},
            "A select field needs at least one option.",
        ),
        (
            {"label": "预算2", "key": "budget", "type": FieldType.NUMBER},
            "A custom field with the key “budget” exists.",
        ),
        ({"label": "名", "key": "name", "type": FieldType.TEXT}, "“name” is a built-in field name."),
        (
            {"label": "坏键", "key": "Bad Key", "type": FieldType.TEXT},
            "Use lower-case letters, digits and underscores",
        ),
        ({"label": "类型", "type": "colour"}, "Select a valid choice."),
    ]
    for data, message in cases:
        response = admin_client.post(reverse("contact_settings:field_add"), data)
        assert response.status_code == 422, data
        assert message in response.content.decode(), data
    assert list(CustomField.objects.values_list("key", flat=True)) == ["budget"]


def test_edit_a_field_keeps_key_and_type_and_says_so(admin_client):
    field = CustomFieldFactory(key="size", label="尺码", type=FieldType.MULTI_SELECT, options=["S", "M"])
    form = admin_client.get(reverse("contact_settings:field_edit", args=[field.id]), **HTMX).content.decode()
    assert "The key and type cannot change after creation" in form
    assert 'name="key"' not in form.split("New custom field")[0]
    response = admin_client.post(
        reverse("contact_settings:field_edit", args=[field.id]),
        {"label": "衣服尺码", "options": "S\nM\nL", "key": "hacked", "type": FieldType.TEXT},
        **HTMX,
    )
    assert response.status_code == 200
    field.refresh_from_db()
    assert (field.key, field.type, field.label, field.options, field.is_required) == (
        "size",
        FieldType.MULTI_SELECT,
        "衣服尺码",
        ["S", "M", "L"],
        False,
    )
    refused = admin_client.post(
        reverse("contact_settings:field_edit", args=[field.id]), {"label": "x", "options": ""}
    )
    assert refused.status_code == 422
    field.refresh_from_db()
    assert (field.label, field.options) == ("衣服尺码", ["S", "M", "L"])


def test_delete_a_field(admin_client):
    field = CustomFieldFactory(key="old", label="旧字段")
    response = admin_client.post(reverse("contact_settings:field_delete", args=[field.id]), **HTMX)
    assert response.status_code == 200
    assert "旧字段" in response.content.decode()  # the notice names it
    assert not CustomField.objects.exists()


# Channels ------------------------------------------------------------------------------------------


def test_create_and_list_channels(admin_client):
    response = admin_client.post(
        reverse("contact_settings:channel_add"),
        {"name": "朋友圈广告", "kind": ChannelKind.SOCIAL_AD, "code": "moments-ad"},
    )
    assert response.status_code == 302
    channel = Channel.objects.get()
    assert (channel.name, channel.kind, channel.code) == ("朋友圈广告", ChannelKind.SOCIAL_AD, "moments-ad")
    html = admin_client.get(reverse("contact_settings:channels")).content.decode()
    assert "朋友圈广告" in html
    assert "Moments ad" in html
    duplicate = admin_client.post(
        reverse("contact_settings:channel_add"),
        {"name": "另一个", "kind": ChannelKind.OTHER, "code": "moments-ad"},
        **HTMX,
    )
    assert duplicate.status_code == 200
    assert "A channel with the code “moments-ad” exists." in duplicate.content.decode()
    assert Channel.objects.count() == 1


def channel_post(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "公众号文章",
        "kind": ChannelKind.ARTICLE,
        "code": "mp-article",
        "utm_sources": "wechat, WeChat, mp",
        "referrer_domains": "https://mp.weixin.qq.com/s/abc, .weixin.qq.com",
        "cost_unit": CostUnit.CLICK,
        "unit_cost": "0.35",
    }
    data.update(changes)
    return data


def test_edit_a_channel_with_its_attribution_rules_and_cost(admin_client):
    channel = ChannelFactory(name="旧名字", code="old", kind=ChannelKind.OTHER)
    edit_form = admin_client.get(reverse("contact_settings:channel_edit", args=[channel.id]), **HTMX)
    assert edit_form.status_code == 200
    assert 'name="utm_sources"' in edit_form.content.decode()
    assert 'value="旧名字"' in edit_form.content.decode()

    saved = admin_client.post(reverse("contact_settings:channel_edit", args=[channel.id]), channel_post())
    assert saved.status_code == 302
    channel.refresh_from_db()
    assert (channel.name, channel.kind, channel.code) == ("公众号文章", ChannelKind.ARTICLE, "mp-article")
    assert channel.utm_sources == ["wechat", "mp"]  # one per value, whatever the case
    assert channel.referrer_domains == ["mp.weixin.qq.com", "weixin.qq.com"]
    assert (channel.cost_unit, channel.unit_cost) == (CostUnit.CLICK, Decimal("0.35"))
    html = admin_client.get(reverse("contact_settings:channels")).content.decode()
    assert "Channel “公众号文章” was saved." in html
    assert "mp.weixin.qq.com" in html
    assert "¥0.35" in html
    assert "Per click" in html


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"referrer_domains": "not a domain"}, "“not a domain” is not a domain."),
        ({"referrer_domains": "localhost"}, "“localhost” is not a domain."),
        ({"utm_sources": "x" * 101}, "A utm_source value has at most 100 characters"),
        ({"cost_unit": "", "unit_cost": "5"}, "Choose what the unit cost is paid for"),
        ({"unit_cost": "-1"}, "Ensure this value is greater than or equal to 0."),
        ({"code": "taken"}, "A channel with the code “taken” exists."),
        ({"utm_sources": "baidu"}, "The utm_source “baidu” already leads to the channel “百度”."),
        ({"utm_sources": "Taken"}, "The utm_source “Taken” already leads to the channel “百度”."),
        ({"referrer_domains": "www.baidu.com, baidu.com"}, "The referrer domain “baidu.com” already leads"),
        ({"name": ""}, "Give the channel a name."),
    ],
)
def test_a_bad_channel_edit_says_why_and_changes_nothing(admin_client, changes, message):
    ChannelFactory(name="百度", code="taken", utm_sources=["baidu"], referrer_domains=["baidu.com"])
    channel = ChannelFactory(name="原渠道", code="mine")
    response = admin_client.post(
        reverse("contact_settings:channel_edit", args=[channel.id]), channel_post(**changes), **HTMX
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert f'hx-post="{reverse("contact_settings:channel_edit", args=[channel.id])}"' in html  # still editing
    channel.refresh_from_db()
    assert (channel.name, channel.code, channel.utm_sources, channel.referrer_domains, channel.cost_unit) == (
        "原渠道",
        "mine",
        [],
        [],
        "",
    )


def test_sales_reps_cannot_edit_channels(rep):
    channel = ChannelFactory(name="门店", code="store")
    client = client_for(rep)
    assert client.get(reverse("contact_settings:channel_edit", args=[channel.id])).status_code == 403
    assert (
        client.post(reverse("contact_settings:channel_edit", args=[channel.id]), channel_post()).status_code
        == 403
    )
    channel.refresh_from_db()
    assert channel.name == "门店"


# Another workspace ---------------------------------------------------------------------------------


def test_another_workspaces_ids_are_404_and_nothing_changes(admin_client, foreign, other_workspace):
    group, tag, field = foreign["group"], foreign["tag"], foreign["field"]
    attempts = [
        ("get", reverse("contact_settings:tag_group_edit", args=[group.id]), {}),
        ("post", reverse("contact_settings:tag_group_edit", args=[group.id]), {"name": "改"}),
        ("post", reverse("contact_settings:tag_group_delete", args=[group.id]), {}),
        ("post", reverse("contact_settings:tag_add", args=[group.id]), {"name": "新", "color": "blue"}),
        ("get", reverse("contact_settings:tag_edit", args=[tag.id]), {}),
        ("post", reverse("contact_settings:tag_edit", args=[tag.id]), {"name": "改", "color": "red"}),
        ("post", reverse("contact_settings:tag_delete", args=[tag.id]), {}),
        ("get", reverse("contact_settings:field_edit", args=[field.id]), {}),
        ("post", reverse("contact_settings:field_edit", args=[field.id]), {"label": "改"}),
        ("post", reverse("contact_settings:field_delete", args=[field.id]), {}),
        ("get", reverse("contact_settings:channel_edit", args=[foreign["channel"].id]), {}),
        (
            "post",
            reverse("contact_settings:channel_edit", args=[foreign["channel"].id]),
            {"name": "改", "kind": "other", "code": "changed"},
        ),
    ]
    for method, url, data in attempts:
        response = getattr(admin_client, method)(url, data)
        assert response.status_code == 404, url
        assert "外部" not in response.content.decode(), url
    for url_name in PAGES:
        assert "外部".encode() not in admin_client.get(reverse(url_name)).content, url_name
    # The same key and code are free in this workspace: uniqueness is per tenant.
    admin_client.post(
        reverse("contact_settings:field_add"), {"label": "本地", "key": "foreign_key", "type": "text"}
    )
    admin_client.post(
        reverse("contact_settings:channel_add"), {"name": "本地渠道", "kind": "other", "code": "foreign"}
    )
    assert list(CustomField.objects.values_list("key", flat=True)) == ["foreign_key"]
    assert list(Channel.objects.values_list("code", flat=True)) == ["foreign"]
    with workspace_scope(other_workspace.id):
        assert list(TagGroup.objects.values_list("name", flat=True)) == ["外部标签组"]
        assert list(Tag.objects.values_list("name", "color")) == [("外部标签", "blue")]
        assert list(CustomField.objects.values_list("label", flat=True)) == ["外部字段"]
        assert list(Channel.objects.values_list("name", "code")) == [("外部渠道", "foreign")]
