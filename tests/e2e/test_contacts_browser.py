"""A sales rep's day in a real browser: find a contact by pinyin initials, tag it, record a follow-up,
see both on the timeline; a second rep cannot open that contact."""

import pytest
from playwright.sync_api import expect

from siyu.contacts.models import ContactTag, FollowUp
from siyu.core.tenancy import workspace_scope
from siyu.tenancy.roles import Role
from tests.e2e.helpers import log_in
from tests.factories import (
    ContactFactory,
    MemberFactory,
    TagFactory,
    TagGroupFactory,
    UserFactory,
    WorkspaceFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_rep_finds_tags_and_follows_up_a_contact_that_another_rep_cannot_open(browser, live_server):
    workspace = WorkspaceFactory(name="花漾美妆", slug="huayang")
    other_workspace = WorkspaceFactory(name="别家", slug="other")
    with workspace_scope(workspace.id):
        rep = MemberFactory(role=Role.SALES, user=UserFactory(username="rep-wang"), display_name="王销售")
        MemberFactory(role=Role.SALES, user=UserFactory(username="rep-li"), display_name="李销售")
        contact = ContactFactory(name="张三丰", owner=rep, phone="+8613800138000")
        ContactFactory(name="李四", owner=rep)
        TagFactory(group=TagGroupFactory(name="兴趣"), name="美白")
    with workspace_scope(other_workspace.id):
        ContactFactory(name="张三疯")  # another tenant's look-alike must never show up

    page = log_in(browser, live_server.url, "rep-wang")
    page.goto(f"{live_server.url}/contacts/")
    page.fill("#filter-q", "zsf")
    rows = page.locator("#contact-table, [id^=contact]").get_by_role("link", name="张三丰")
    expect(rows.first).to_be_visible()
    expect(page.get_by_role("link", name="李四")).to_have_count(0)
    expect(page.get_by_text("张三疯")).to_have_count(0)
    rows.first.click()
    page.wait_for_url(f"**/contacts/{contact.id}/")
    expect(page.get_by_text("138****8000").first).to_be_visible()

    tags = page.locator("#tags")
    tag_value = tags.locator("select[name=tag] option", has_text="美白").get_attribute("value")
    assert tag_value
    tags.locator("select[name=tag]").select_option(tag_value)
    tags.get_by_role("button").last.click()
    expect(page.locator("#tags")).to_contain_text("美白")

    follow_ups = page.locator("#follow-ups")
    follow_ups.locator("[name=kind]").select_option("call")
    follow_ups.locator("[name=content]").fill("电话回访：对美白精华感兴趣")
    follow_ups.locator("button[type=submit]").first.click()
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("电话回访：对美白精华感兴趣")
    expect(timeline).to_contain_text("美白")
    page.close()

    with workspace_scope(workspace.id):
        assert ContactTag.objects.filter(contact=contact, tag__name="美白").count() == 1
        assert FollowUp.objects.get(contact=contact).content == "电话回访：对美白精华感兴趣"

    intruder = log_in(browser, live_server.url, "rep-li")
    response = intruder.goto(f"{live_server.url}/contacts/{contact.id}/")
    assert response is not None
    assert response.status == 404
    expect(intruder.get_by_text("张三丰")).to_have_count(0)
    expect(intruder.get_by_text("电话回访")).to_have_count(0)
    intruder.close()
