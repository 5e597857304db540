"""In a real browser: the live events page draws its per-minute charts, keeps them sized to the
window, and shows none of another workspace's sources."""

import pytest
from playwright.sync_api import expect

from siyu.core.tenancy import workspace_scope
from siyu.tenancy.roles import Role
from tests.e2e.helpers import log_in
from tests.factories import MemberFactory, UserFactory, WorkspaceFactory
from tests.tracking.events import make_source
from tests.tracking.radar_rows import radar_minute

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_live_charts_draw_and_follow_the_window(browser, live_server):
    workspace = WorkspaceFactory(name="花漾美妆", slug="huayang")
    with workspace_scope(workspace.id):
        MemberFactory(role=Role.ADMIN, user=UserFactory(username="owner"), display_name="店长")
        site = make_source(name="官网")
        for minutes_ago, count in ((0, 4), (3, 2), (10, 5)):
            radar_minute(source=site, minutes_ago=minutes_ago, type="page", count=count)
        radar_minute(source=site, minutes_ago=1, type="track", count=3)
    elsewhere = WorkspaceFactory(name="别家店", slug="elsewhere")
    with workspace_scope(elsewhere.id):
        radar_minute(source=make_source(name="别家小程序"), minutes_ago=0, type="page", count=99)

    errors: list[str] = []
    page = log_in(browser, live_server.url, "owner", errors=errors)
    page.goto(f"{live_server.url}/radar/live/")
    sources = page.locator('[data-chart="live-sources"]')
    expect(sources.locator("svg path").first).to_be_attached()
    expect(page.locator('[data-chart="live-types"] svg')).to_be_attached()
    expect(page.locator("[data-live-total]")).to_have_text("14")
    expect(sources).to_contain_text("官网")
    expect(page.locator("body")).not_to_contain_text("别家小程序")

    chart_width = (
        "echarts.getInstanceByDom(document.querySelector('[data-chart=\"live-sources\"]')).getWidth()"
    )
    wide = page.evaluate(chart_width)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: the chart is redrawn to fit
    page.wait_for_function(f"{chart_width} < {wide}")
    assert errors == []
