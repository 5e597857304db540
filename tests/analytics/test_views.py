"""Analytics pages and their CSV exports: figures on the page and in the file, filters, permissions,
spend entry, and another workspace's ids answered with 404."""

import csv
import io
import json
import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from siyu.analytics.models import ChannelSpend
from siyu.core.tenancy import workspace_scope
from tests.analytics import rows
from tests.analytics.rows import ENTERED, local_day
from tests.conftest import client_for

pytestmark = pytest.mark.usefixtures("frozen")

PAGES = ["channels", "cohorts", "funnel", "segments", "content", "spend"]
CSV_PAGES = ["channels_csv", "cohorts_csv", "funnel_csv", "segments_csv", "content_csv"]
PERIOD = {"preset": "180"}


def chart_data(response: Any) -> Any:
    found = re.search(r'<script id="analytics-data" type="application/json">(.*?)</script>', response.text)
    assert found is not None
    return json.loads(found.group(1))


def csv_rows(response: Any) -> list[list[str]]:
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


# Channel quality ----------------------------------------------------------------------------------------


def test_channel_page_shows_the_figures_and_the_chart_data(world, admin_client: Client):
    response = admin_client.get(reverse("analytics:channels"), PERIOD)
    assert response.status_code == 200
    data = chart_data(response)
    assert data["kind"] == "channels"
    assert data["channels"] == ["公众号", "门店", "朋友圈广告", "No channel"]
    metrics = {m["key"]: m["values"] for m in data["metrics"]}
    assert metrics["new_contacts"] == [3, 1, 0, 1]
    assert metrics["conversion"] == [66.7, 100.0, None, 0.0]
    assert metrics["retention_30"] == [50.0, 0.0, None, None]
    assert metrics["roi"] == [0.15, None, None, None]
    assert data["months"] == ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06"]
    assert data["monthly"][0] == {"name": "公众号", "values": [0, 0, 2, 0, 0, 1]}
    page = response.text
    assert "¥3,020.00" in page  # the ad channel's spend
    assert "¥17,903.23" in page  # the Moments channel's spend from its monthly unit cost
    # The headline CAC and ROI count the ad channel's customers only (see test_channels).
    assert re.search(r'data-figure="cac">¥10,461\.61</div>\s*<span[^>]*>over 2 of 3 customers', page)
    # Another workspace's ¥999 order and ¥777 of spend (its channel is also called 公众号) never count.
    assert metrics["revenue"] == [450.0, 0.0, 0.0, 0.0]
    assert "¥999.00" not in page
    assert "¥777.00" not in page
    assert "¥1,449" not in page  # 450 + 999


def test_channel_csv_holds_the_table(world, admin_client: Client):
    response = admin_client.get(reverse("analytics:channels_csv"), PERIOD)
    assert response.status_code == 200
    assert 'filename="channel-quality-20260102-20260630.csv"' in response["Content-Disposition"]
    table = csv_rows(response)
    header = table[0]
    assert header[:4] == ["Channel", "New contacts", "Customers", "Conversion rate (%)"]
    assert header[4:7] == [
        "Active in the 30-day window",
        "Acquired at least 31 days ago",
        "30-day retention (%)",
    ]
    by_name = {line[0]: dict(zip(header, line, strict=True)) for line in table[1:]}
    assert list(by_name) == ["公众号", "门店", "朋友圈广告", "No channel", "All channels"]
    ad = by_name["公众号"]
    assert (ad["New contacts"], ad["Customers"], ad["Conversion rate (%)"]) == ("3", "2", "66.7")
    assert (ad["Active in the 90-day window"], ad["Acquired at least 91 days ago"]) == ("1", "2")
    assert (ad["Revenue (¥)"], ad["Average order value (¥)"], ad["LTV (¥)"]) == ("450.00", "150.00", "225.00")
    assert (ad["Spend (¥)"], ad["Spend from"], ad["CAC (¥)"], ad["ROI (LTV / CAC)"]) == (
        "3020.00",
        "Entered + unit cost",
        "1510.00",
        "0.15",
    )
    store = by_name["门店"]
    assert (store["60-day retention (%)"], store["Spend (¥)"], store["Spend from"]) == ("", "", "Not known")
    assert store["Months without spend"] == "2026-01 2026-02 2026-03 2026-04 2026-05 2026-06"
    assert by_name["All channels"]["New contacts"] == "5"


def test_channels_compared_side_by_side(world, admin_client: Client):
    query = {**PERIOD, "channel": [str(world["store"].id), "none"]}
    data = chart_data(admin_client.get(reverse("analytics:channels"), query))
    assert data["channels"] == ["门店", "No channel"]
    # Another workspace's channel id narrows to nothing; it never shows its figures.
    response = admin_client.get(reverse("analytics:channels"), {"channel": str(world["other_channel"].id)})
    assert response.status_code == 200
    assert chart_data(response)["channels"] == []


def test_an_empty_channel_table_spans_every_column(workspace, admin_client: Client):
    page = admin_client.get(reverse("analytics:channels"), PERIOD).text
    header = re.search(r'<table[^>]*id="channel-table".*?<thead>(.*?)</thead>', page, re.DOTALL)
    assert header is not None
    assert header.group(1).count("<th") == 16
    assert '<td colspan="16" class="text-secondary">No channels yet.</td>' in page


def test_a_bad_period_is_explained(world, admin_client: Client):
    response = admin_client.get(reverse("analytics:channels"), {"start": "2026-06-30", "end": "2026-01-01"})
    assert response.status_code == 422
    assert "The start date is after the end date." in response.text
    response = admin_client.get(reverse("analytics:channels"), {"preset": "7"})
    assert response.status_code == 422
    assert "Choose a period of 30/90/180/365 days, or two dates." in response.text


def test_a_bad_channel_or_window_is_explained(world, admin_client: Client):
    query = {**PERIOD, "channel": ["nonsense", str(world["store"].id)]}
    response = admin_client.get(reverse("analytics:channels"), query)
    assert response.status_code == 422
    assert "A channel is a channel id or “none”." in response.text
    assert chart_data(response)["channels"] == ["公众号", "门店", "朋友圈广告", "No channel"]  # all of them
    response = admin_client.get(reverse("analytics:content"), {"preset": "7", "window": "5"})
    assert response.status_code == 422
    assert (
        "Choose a period of 30/90/180/365 days, or two dates. The window is one of 7/30/90 days."
        in response.text
    )


# Cohorts, funnel --------------------------------------------------------------------------------------


def test_cohort_page_and_csv(world, admin_client: Client):
    query = {"start": "2026-03-01", "end": "2026-03-31", "grain": "month"}
    data = chart_data(admin_client.get(reverse("analytics:cohorts"), query))
    assert data["cohorts"] == ["2026-03"]
    assert data["columns"] == ["Month 0", "Month 1", "Month 2", "Month 3"]
    # Month 0 is days [0, 30): a1 (day 10) and a2 (its acquisition day); a1 again on day 45, a2 on day 70.
    assert data["cells"] == [[0, 0, 100.0, 2, 2], [1, 0, 50.0, 1, 2], [2, 0, 50.0, 1, 2]]
    table = csv_rows(admin_client.get(reverse("analytics:cohorts_csv"), query))
    assert table[0][:5] == ["Cohort", "Acquired", "Month 0 active", "Month 0 base", "Month 0 retention (%)"]
    assert table[1][:8] == ["2026-03", "2", "2", "2", "100.0", "1", "2", "50.0"]
    assert table[1][-3:] == ["0", "0", ""]


def test_cohorts_of_another_workspaces_segment_are_not_found(world, admin_client: Client):
    other = world["other_segment"].id
    assert admin_client.get(reverse("analytics:cohorts"), {"segment": str(other)}).status_code == 404
    assert admin_client.get(reverse("analytics:cohorts_csv"), {"segment": str(other)}).status_code == 404
    assert admin_client.get(reverse("analytics:cohorts"), {"segment": "nonsense"}).status_code == 404


def test_funnel_page_and_csv(world, admin_client: Client):
    response = admin_client.get(reverse("analytics:funnel"), PERIOD)
    assert (
        "<span data-stages>Visitor → Engaged → Follower → Friend → Customer → Member</span>" in response.text
    )
    data = chart_data(response)
    assert data["stage_values"] == ["visitor", "engaged", "follower", "friend", "customer", "member"]
    assert data["total"] == [5, 3, 3, 3, 3, 1]
    assert data["channels"][0] == {"name": "公众号", "values": [100.0, 66.7, 66.7, 66.7, 66.7, 0.0]}
    table = csv_rows(admin_client.get(reverse("analytics:funnel_csv"), PERIOD))
    assert table[0] == [
        "Channel",
        "Stage",
        "Reached",
        "Conversion from the previous stage (%)",
        "Conversion from acquisition (%)",
        "Median days from the previous stage",
    ]
    assert table[1] == ["All channels", "Visitor", "5", "", "100.0", ""]
    # a1 became a customer 5 days after acquisition, a3 after 1 day, b1 a member after 1 day.
    assert table[2] == ["All channels", "Engaged", "3", "60.0", "60.0", "1.0"]
    assert table[5] == ["All channels", "Customer", "3", "100.0", "60.0", "0.0"]


# Segments, content --------------------------------------------------------------------------------------


@pytest.fixture
def segments_world(world):
    first, second = rows.segment("高价值客户"), rows.segment("近期活跃")
    contacts = [rows.contact(created_at=local_day(1)) for _ in range(3)]
    for who in contacts:
        rows.member(first, who, at=local_day(28))
        rows.change(first, who, ENTERED, local_day(28))
    rows.member(second, contacts[0], at=local_day(29))
    rows.segment_day(first, date(2026, 6, 28), size=3, entered=3)
    return {"first": first, "second": second}


def test_segment_page_and_csv(segments_world, admin_client: Client):
    query = {"start": "2026-06-27", "end": "2026-06-30", "segment": str(segments_world["first"].id)}
    response = admin_client.get(
        reverse("analytics:segments"), {**query, "compare": str(segments_world["second"].id)}
    )
    assert response.status_code == 200
    data = chart_data(response)
    assert (data["days"], data["sizes"], data["entered"], data["exited"]) == (
        ["06-27", "06-28", "06-29", "06-30"],
        [0, 3, 3, 3],
        [0, 3, 0, 0],
        [0, 0, 0, 0],
    )
    assert data["overlap"]["values"] == [2, 1, 0]
    table = csv_rows(admin_client.get(reverse("analytics:segments_csv"), query))
    assert table == [
        ["Day", "Size", "Entered", "Exited"],
        ["2026-06-27", "0", "0", "0"],
        ["2026-06-28", "3", "3", "0"],
        ["2026-06-29", "3", "0", "0"],
        ["2026-06-30", "3", "0", "0"],
    ]
    overlap_query = {**query, "compare": str(segments_world["second"].id), "table": "overlap"}
    response = admin_client.get(reverse("analytics:segments_csv"), overlap_query)
    assert 'filename="segment-overlap-20260627-20260630.csv"' in response["Content-Disposition"]
    assert csv_rows(response) == [
        ["Segment", "Size", "In both", "Share also in the other (%)"],
        ["高价值客户", "3", "1", "33.3"],
        ["近期活跃", "1", "1", "100.0"],
        ["In either", "3", "1", "33.3"],
    ]
    assert (
        admin_client.get(reverse("analytics:segments_csv"), {**query, "table": "overlap"}).status_code == 404
    )


def test_another_workspaces_segment_is_not_found(world, segments_world, admin_client: Client):
    other = str(world["other_segment"].id)
    assert admin_client.get(reverse("analytics:segments"), {"segment": other}).status_code == 404
    assert admin_client.get(reverse("analytics:segments_csv"), {"segment": other}).status_code == 404
    query = {"segment": str(segments_world["first"].id), "compare": other}
    assert admin_client.get(reverse("analytics:segments"), query).status_code == 404


def test_content_page_and_csv(world, admin_client: Client):
    guide = rows.article("秋冬护肤指南")
    reader = rows.contact(created_at=local_day(1))
    rows.viewed(reader, guide, local_day(10))
    rows.purchase(reader, local_day(12), "88.00")
    with workspace_scope(world["other_channel"].workspace_id):
        rows.article("别家文章")
    query = {"start": "2026-06-01", "end": "2026-06-30", "window": "7"}
    data = chart_data(admin_client.get(reverse("analytics:content"), query))
    assert (data["titles"], data["viewers"], data["buyers"]) == (["秋冬护肤指南"], [1], [1])
    table = csv_rows(admin_client.get(reverse("analytics:content_csv"), query))
    assert table[0][3] == "Viewers who ordered later (within 7 days)"
    assert table[1:] == [["秋冬护肤指南", "Article", "1", "1", "100.0", "1", "88.00", "88.00"]]


# Permissions ------------------------------------------------------------------------------------------


def test_pages_need_the_analytics_permission(world, rep, client):
    rows.segment("人群")
    rep_client = client_for(rep)
    for name in PAGES + CSV_PAGES:
        assert rep_client.get(reverse(f"analytics:{name}")).status_code == 403, name
        response = client.get(reverse(f"analytics:{name}"))
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")


def test_a_manager_sees_the_reports_but_cannot_enter_spend(world, manager):
    rows.segment("人群")
    manager_client = client_for(manager)
    for name in PAGES + CSV_PAGES:
        assert manager_client.get(reverse(f"analytics:{name}")).status_code == 200, name
    page = manager_client.get(reverse("analytics:spend")).text
    assert 'id="spend-form"' not in page
    response = manager_client.post(
        reverse("analytics:spend"), {"channel": str(world["ad"].id), "month": "2026-05", "amount": "10"}
    )
    assert response.status_code == 403
    assert not ChannelSpend.objects.filter(month=date(2026, 5, 1)).exists()
    assert manager_client.post(reverse("analytics:spend_delete", args=[world["june"].id])).status_code == 403


# Spend ------------------------------------------------------------------------------------------------


def test_spend_page_shows_entered_and_derived_months(world, marketer):
    response = client_for(marketer).get(reverse("analytics:spend"))
    assert response.status_code == 200
    data = chart_data(response)
    assert data["months"][-2:] == ["2026-05", "2026-06"]
    series = {s["name"]: s["values"] for s in data["series"]}
    assert series["公众号"][-4:] == [20.0, 0.0, 0.0, 3000.0]  # March: 2 new contacts × ¥10; June entered
    assert series["朋友圈广告"][-1] == 3000.0
    assert series["门店"][-1] is None
    assert 'id="spend-form"' in response.text


def test_spend_entry_creates_then_corrects_a_month(world, marketer):
    spend_client = client_for(marketer)
    url = reverse("analytics:spend")
    response = spend_client.post(
        url,
        {"channel": str(world["store"].id), "month": "2026-05", "amount": "1200.5", "note": " 五月  地推 "},
    )
    assert response.status_code == 302
    entry = ChannelSpend.objects.get(channel=world["store"], month=date(2026, 5, 1))
    assert (entry.amount, entry.note, entry.updated_by) == (Decimal("1200.50"), "五月 地推", marketer)
    spend_client.post(url, {"channel": str(world["store"].id), "month": "2026-05", "amount": "900"})
    entry.refresh_from_db()
    assert (entry.amount, ChannelSpend.objects.filter(channel=world["store"]).count()) == (
        Decimal("900.00"),
        1,
    )
    # The cell links to the entry: the form comes back filled, with a way to remove it.
    page = spend_client.get(url, {"channel": str(world["store"].id), "month": "2026-05"}).text
    assert 'value="900.00"' in page
    assert reverse("analytics:spend_delete", args=[entry.id]) in page


def test_spend_entry_refuses_bad_input(world, marketer):
    spend_client = client_for(marketer)
    url = reverse("analytics:spend")
    response = spend_client.post(url, {"channel": str(world["ad"].id), "month": "May", "amount": "-1"})
    assert response.status_code == 422
    assert "Write the month as YYYY-MM, e.g. 2026-05." in response.text
    assert "Ensure this value is greater than or equal to 0." in response.text
    response = spend_client.post(
        url, {"channel": str(world["other_channel"].id), "month": "2026-05", "amount": "1"}
    )
    assert response.status_code == 422
    assert "Choose one of the channels." in response.text
    assert ChannelSpend.objects.count() == 1


def test_spend_entry_can_be_removed_but_not_another_workspaces(world, marketer):
    spend_client = client_for(marketer)
    other = world["other_spend"]
    assert spend_client.post(reverse("analytics:spend_delete", args=[other.id])).status_code == 404
    with workspace_scope(other.workspace_id):
        assert ChannelSpend.objects.filter(id=other.id).exists()
    response = spend_client.post(reverse("analytics:spend_delete", args=[world["june"].id]))
    assert response.status_code == 302
    assert not ChannelSpend.objects.exists()
