"""The rule builder in a real browser: a marketer combines a field condition with a nested "any" group of
a tag and a lifecycle stage, watches the live count follow each change, saves, and lands on the new
segment with the right members. Another workspace's look-alike contacts are never counted."""

import re

import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from pytest_django.live_server_helper import LiveServer

from siyu.contacts.models import ContactTag
from siyu.core.tenancy import workspace_scope
from siyu.segments.models import Segment, SegmentMember
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


def count(page: Page) -> Locator:
    return page.locator("#builder-preview [data-preview-count]")


def test_marketer_builds_a_nested_rule_and_saves_it(browser: Browser, live_server: LiveServer) -> None:
    workspace = WorkspaceFactory(name="花漾美妆", slug="huayang")
    other = WorkspaceFactory(name="别家", slug="other")
    with workspace_scope(workspace.id):
        MemberFactory(role=Role.MARKETING, user=UserFactory(username="marketer"), display_name="运营小孙")
        vip = TagFactory(group=TagGroupFactory(name="价值"), name="VIP")
        tagged = ContactFactory(name="上海VIP", city="上海", stage="visitor")
        customer = ContactFactory(name="上海老客", city="上海", stage="customer")
        ContactFactory(name="上海路人", city="上海", stage="visitor")
        beijing = ContactFactory(name="北京VIP", city="北京", stage="customer")
        ContactTag.objects.bulk_create(
            [ContactTag(contact=tagged, tag=vip), ContactTag(contact=beijing, tag=vip)]
        )
    with workspace_scope(other.id):
        for n in range(3):
            ContactFactory(name=f"别家上海客户{n}", city="上海", stage="customer")

    page = log_in(browser, live_server.url, "marketer")
    page.goto(f"{live_server.url}/segments/new/")
    expect(count(page)).to_have_attribute("data-preview-count", "4")  # no conditions: everyone here
    page.fill("#id_name", "上海的VIP或老客")

    # City equals 上海 at the top level.
    page.locator("[data-action=add-condition]").last.click()
    first = page.locator(".builder-condition").nth(0)
    expect(first.locator("[data-role=field]")).to_have_value("city")
    first.locator("[data-role=value]").fill("上海")
    expect(count(page)).to_have_attribute("data-preview-count", "3")

    # A nested group: any of (tag VIP, stage at least customer).
    page.locator("[data-action=add-group]").last.click()
    nested = page.locator(".builder-condition").nth(1)
    nested.locator("[data-role=kind]").select_option("tags")
    expect(page.locator("#builder-preview [data-preview-state=invalid]")).to_be_visible()  # no tag chosen yet
    expect(page.locator(".builder-condition").nth(1).locator("[data-role=error]")).to_be_visible()
    page.locator(".builder-condition").nth(1).locator("[data-role=tag-picker]").select_option(str(vip.id))
    expect(count(page)).to_have_attribute("data-preview-count", "1")

    page.locator("[data-action=add-condition]").nth(0).click()  # the nested group's own button
    added = page.locator(".builder-condition").nth(2)
    added.locator("[data-role=kind]").select_option("stage")
    expect(count(page)).to_have_attribute("data-preview-count", "2")
    expect(page.locator("#builder-preview")).to_contain_text("上海老客")
    expect(page.locator("#builder-preview")).not_to_contain_text("别家")

    page.get_by_role("button", name=re.compile("保存并计算|Save and build")).click()
    page.wait_for_url(re.compile(r".*/segments/[0-9a-f-]{36}/$"))
    expect(page.locator("[data-member-count]")).to_have_attribute("data-member-count", "2")
    expect(page.locator("#segment-members")).to_contain_text("上海VIP")
    expect(page.locator("#segment-members")).to_contain_text("上海老客")
    expect(page.locator("[data-rules]")).to_contain_text("VIP")
    page.close()

    with workspace_scope(workspace.id):
        segment = Segment.objects.get(name="上海的VIP或老客")
        assert segment.rules == {
            "version": 1,
            "root": {
                "all": [
                    {"kind": "field", "field": "city", "op": "eq", "value": "上海"},
                    {
                        "any": [
                            {"kind": "tags", "op": "any", "tags": [str(vip.id)]},
                            {"kind": "stage", "op": "at_least", "value": "customer"},
                        ]
                    },
                ]
            },
        }
        assert set(SegmentMember.objects.filter(segment=segment).values_list("contact_id", flat=True)) == {
            tagged.id,
            customer.id,
        }
    with workspace_scope(other.id):
        assert not Segment.objects.exists()
