"""A list page reached with a broken or edited cursor goes back to its first page with a note,
instead of failing; the API answers such a cursor with 422 (tests/contacts/test_api.py)."""

from typing import Any

import pytest
from django.conf import settings
from django.urls import reverse

from siyu.contacts.models import Contact
from siyu.core.pagination import encode_cursor
from siyu.core.tenancy import workspace_scope
from siyu.segments.services.segments import segment_create
from siyu.tenancy.actor import Actor
from tests.conftest import client_for
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db
BROKEN = ["%%%", encode_cursor("abc"), encode_cursor("\x00"), encode_cursor("2026-01-01|x")]


@pytest.mark.parametrize("cursor", BROKEN)
def test_a_broken_cursor_leads_to_the_first_page_of_the_same_list(
    admin: Any, admin_actor: Actor, workspace: Any, other_workspace: Any, cursor: str
) -> None:
    ContactFactory(name="张三", city="杭州")
    static = segment_create(actor=admin_actor, name="名单", kind="static", rules=None)
    client = client_for(admin)
    pages = [  # each list with the parameters it pages with
        (reverse("contacts:list"), {"city": "杭州"}, ("cursor", "before")),
        (reverse("contacts:list"), {}, ("cursor", "before")),
        (reverse("segments:members", args=[static.id]), {}, ("cursor",)),
        (reverse("orders:list"), {}, ("cursor",)),
        (reverse("settings:audit"), {}, ("cursor",)),
    ]
    for url, filters, parameters in pages:
        for parameter in parameters:
            response = client.get(url, {**filters, parameter: cursor})
            assert response.status_code == 302, (url, parameter, response.status_code)
            expected = url + ("?city=%E6%9D%AD%E5%B7%9E" if filters else "")
            assert response["Location"] == expected
    first = client.get(reverse("contacts:list"), {"cursor": cursor}, follow=True)
    assert "That page link no longer works; here is the first page." in first.content.decode()
    assert "张三" in first.content.decode()
    del client.cookies[settings.LANGUAGE_COOKIE_NAME]  # the product's default language
    chinese = client.get(reverse("contacts:list"), {"cursor": cursor}, follow=True)
    assert "这个翻页链接已失效，已回到第一页。" in chinese.content.decode()
    htmx = client.get(reverse("contacts:list"), {"cursor": cursor}, HTTP_HX_REQUEST="true")
    assert (htmx.status_code, htmx["HX-Redirect"]) == (204, reverse("contacts:list"))
    with workspace_scope(other_workspace.id):
        assert not Contact.objects.exists()
