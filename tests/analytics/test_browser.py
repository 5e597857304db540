"""In a real browser: a marketer compares channels, switches the compared figure, enters a month's
spend and sees it in the channel table; the cohort heat map and the funnel draw; no script errors."""

from datetime import date
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from siyu.analytics.models import ChannelSpend
from siyu.core.tenancy import workspace_scope
from siyu.tenancy.roles import Role
from tests.analytics import rows
from tests.analytics.rows import days_ago
from tests.e2e.helpers import log_in
from tests.factories import MemberFactory, UserFactory, WorkspaceFactory
from tests.tracking.events import make_source

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("frozen"),
]


def test_a_marketer_compares_channels_and_enters_spend(browser, live_server):
    workspace = WorkspaceFactory(name="花漾美妆", slug="huayang")
    with workspace_scope(workspace.id):
        MemberFactory(role=Role.MARKETING, user=UserFactory(username="marketer"), display_name="市场部小李")
        ad, store = rows.channel("公众号"), rows.channel("门店")
        site = make_source()
        for n in range(3):
            who = rows.contact(created_at=days_ago(60 + n), channel=ad)
            rows.event(who, days_ago(45 + n), via=site)
            rows.purchase(who, days_ago(40), "200.00")
        rows.contact(created_at=days_ago(50), channel=store)
    elsewhere = WorkspaceFactory(name="别家店", slug="elsewhere")
    with workspace_scope(elsewhere.id):  # must never show: its channel's name and its ¥8,765.00 order
        foreign = rows.channel("别家渠道")
        rows.purchase(rows.contact(created_at=days_ago(60), channel=foreign), days_ago(40), "8765.00")
        ChannelSpend.objects.create(channel=foreign, month=date(2026, 5, 1), amount=Decimal("4321"))

    errors: list[str] = []
    page = log_in(browser, live_server.url, "marketer", language="en", errors=errors)
    page.goto(f"{live_server.url}/analytics/channels/?preset=90")
    chart = page.locator('[data-chart="compare"]')
    expect(chart.locator("svg")).to_have_count(1)
    expect(chart.get_by_text("公众号")).to_be_visible()
    page.select_option("#compare-metric", "revenue")
    expect(chart.get_by_text("¥600.00").first).to_be_visible()
    table = page.locator("#channel-table tbody tr", has_text="公众号")
    expect(table).to_contain_text("100.0%")  # 30-day retention: all three were back on day 15–17
    for shown in (chart, page.locator("#channel-table")):
        text = shown.inner_text()
        assert "别家渠道" not in text
        assert "8,765" not in text
        assert "4,321" not in text
    expect(page.locator("#channel-table tfoot")).to_contain_text("¥600.00")  # our revenue only

    page.goto(f"{live_server.url}/analytics/spend/")
    page.select_option("select[name=channel]", label="公众号")
    page.fill("input[name=month]", "2026-05")
    page.fill("input[name=amount]", "1200")
    page.click("#spend-form button[type=submit]")
    expect(page.locator(".alert-success")).to_contain_text("¥1,200.00")
    with workspace_scope(workspace.id):
        assert ChannelSpend.objects.get().amount == Decimal("1200.00")
        assert ChannelSpend.objects.get().month == date(2026, 5, 1)

    page.goto(f"{live_server.url}/analytics/channels/?preset=90")
    expect(page.locator("#channel-table tbody tr", has_text="公众号")).to_contain_text("¥1,200.00")
    expect(page.locator("#channel-table")).not_to_contain_text("别家渠道")
    page.goto(f"{live_server.url}/analytics/spend/")
    expect(page.locator("body")).not_to_contain_text("别家渠道")
    expect(page.locator("body")).not_to_contain_text("4,321")

    page.goto(f"{live_server.url}/analytics/cohorts/?preset=90&grain=week")
    expect(page.locator('[data-chart="cohorts"] svg')).to_have_count(1)
    page.goto(f"{live_server.url}/analytics/funnel/?preset=90")
    expect(page.locator('[data-chart="funnel"] svg')).to_have_count(1)
    page.close()
    assert errors == []


def test_the_pages_fit_a_phone(browser, live_server):
    workspace = WorkspaceFactory(name="花漾美妆", slug="huayang")
    with workspace_scope(workspace.id):
        MemberFactory(role=Role.ADMIN, user=UserFactory(username="boss"), display_name="老板")
        rows.contact(created_at=days_ago(20), channel=rows.channel("公众号"))
    errors: list[str] = []
    page = log_in(browser, live_server.url, "boss", language="en", width=390, errors=errors)
    for name in ("channels", "cohorts", "funnel", "content", "spend"):
        page.goto(f"{live_server.url}/analytics/{name}/")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, name
    page.close()
    assert errors == []
